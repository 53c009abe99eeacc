// A key's page (#key/<id>): every field of its record, times absolute with
// the relative time beside, its predecessor and successor as links, its
// actions, and its history. A deleted key's page still shows its history.

import * as api from './api.js';
import { $, bringIntoView, h, replaceChildren, timeWithRelative } from './dom.js';
import { auditHash, eventItem } from './audit.js';
import { describePermissions } from './format.js';
import { keyLabel, keyLink, knownKeys } from './links.js';
import { edit, keyMenuItems } from './actions.js';
import { permission } from './capabilities.js';
import { menuButton } from './menu.js';
import { pagedList } from './paged.js';
import { reason } from './errors.js';
import { session } from './session.js';
import { statusBadges } from './keys.js';
import { hasLimits, usageFacts } from './limits.js';

const view = $('key-view');
// `ticket` tells a page's reads from a later page's; `usageTicket` a usage
// read from a later one (after a change, or a reset) on the same page.
const state = { id: null, ticket: 0, usageTicket: 0, record: null };
const editButton = $('key-edit');

editButton.addEventListener('click', () => {
  if (editButton.getAttribute('aria-disabled') !== 'true' && state.record) edit(state.record);
});

const history = pagedList({
  list: $('key-history-list'),
  empty: $('key-history-empty'),
  error: $('key-history-error'),
  more: $('key-history-more'),
  noun: 'event',
  render: eventItem,
});

document.addEventListener('keychange', ({ detail }) => {
  if (view.hidden || detail.record.id !== state.id) return;
  if (detail.change === 'removed') {
    window.location.hash = '#keys';
    return;
  }
  const hadFocus = view.contains(document.activeElement);
  state.usageTicket += 1; // what an earlier read finds is out of date now
  render(detail.record, detail.usage ?? null);
  if (!detail.usage) loadUsage(detail.record, state.ticket);
  if (hadFocus) (document.activeElement === editButton ? editButton : $('key-actions').querySelector('.menu-button'))?.focus();
  bringIntoView($('key-facts'));
  loadHistory(detail.record.id);
});

/** Shows the key's page, freshly read. */
export async function showKey(id) {
  view.hidden = false;
  state.id = id;
  const ticket = ++state.ticket;
  const known = knownKeys.get(id);
  $('key-title').textContent = known ? known.name : 'Key';
  document.title = `${known ? known.name : 'Key'} · keygate`;
  $('key-error').hidden = true;
  $('key-body').hidden = true;
  state.record = null;
  editButton.hidden = true;
  $('key-edit-reason').textContent = '';
  replaceChildren($('key-actions'));
  $('key-audit-link').href = auditHash({ keyId: id });
  loadHistory(id);
  try {
    const record = await api.getKey(id);
    await learnNames(record);
    if (ticket !== state.ticket) return;
    render(record);
    loadUsage(record, ticket);
  } catch (error) {
    if (ticket !== state.ticket || !(error instanceof api.ApiError) || !api.hasSession()) return;
    $('key-error').textContent = error.code === 'not_found'
      ? 'This key no longer exists: it was deleted, or never was in your organization. Its history, if any, is below.'
      : `The key could not be loaded. ${reason(error)}`;
    $('key-error').hidden = false;
    replaceChildren($('key-facts'));
    replaceChildren($('key-badges'));
    $('key-body').hidden = false;
  }
}

export function hideKey() {
  view.hidden = true;
  state.id = null;
  state.ticket += 1;
}

export function resetKey() {
  hideKey();
  history.reset();
}

/** Reads the keys this one links to, when the page has not seen them, to name them. */
async function learnNames(record) {
  const ids = [record.rotated_from, record.rotated_to, record.created_by, record.revoked_by, record.budget];
  const unknown = [...new Set(ids.filter((id) => id && !knownKeys.get(id)))];
  await Promise.all(unknown.map((id) => api.getKey(id).then((other) => knownKeys.set(id, other), () => {})));
}

/** Reads a limited key's usage and shows it in its facts. */
async function loadUsage(record, ticket) {
  if (!hasLimits(record)) return;
  const usageTicket = ++state.usageTicket;
  const current = () => ticket === state.ticket && usageTicket === state.usageTicket && state.record?.id === record.id;
  try {
    const usage = await api.getUsage(record.id);
    if (!current()) return;
    replaceChildren($('key-usage'), usageFacts(state.record, usage));
  } catch (error) {
    if (!(error instanceof api.ApiError) || !current()) return;
    replaceChildren($('key-usage'), usageFacts(state.record, null), h('p', { class: 'load-error' }, `Usage could not be read. ${reason(error)}`));
  }
}

function loadHistory(id) {
  history.show((cursor) => api.listAuditEvents({ keyId: id, cursor }));
}

function render(record, usage = null) {
  knownKeys.set(record.id, record);
  state.record = record;
  $('key-title').textContent = record.name;
  document.title = `${record.name} · keygate`;
  // Edit is offered to a key that may edit this one; otherwise it says why.
  const { allowed, reason } = permission('update', record);
  editButton.hidden = false;
  if (allowed) editButton.removeAttribute('aria-disabled');
  else editButton.setAttribute('aria-disabled', 'true');
  editButton.setAttribute('aria-label', `Edit ${record.name}`);
  $('key-edit-reason').textContent = reason ?? '';
  replaceChildren(
    $('key-actions'),
    menuButton({ label: `Actions for ${record.name}`, text: 'Actions', buttonClass: 'button', items: keyMenuItems(record, { details: false }) }),
  );
  replaceChildren($('key-badges'), session.isMe(record.id) ? h('span', { class: 'tag' }, 'your key') : null);
  const { label, scopes } = describePermissions(record.scopes, session.catalog.presets);
  const time = (iso) => (iso ? timeWithRelative(iso) : '—');
  replaceChildren(
    $('key-facts'),
    fact('Name', record.name),
    fact('Description', record.description ?? '—'),
    fact('Id', h('code', {}, record.id)),
    fact('Hint', h('code', { class: 'hint' }, record.hint)),
    fact('Organization', record.org_id),
    fact('Type', record.key_type === 'user' ? 'User' : 'Service'),
    fact('Owner', record.owner ? h('span', { class: 'owner' }, record.owner) : '—'),
    fact(
      'Permissions',
      label,
      scopes ? h('ul', { class: 'scope-list' }, scopes.map((scope) => h('li', {}, h('code', {}, scope)))) : null,
    ),
    fact('Status', statusBadges(record)),
    fact('Usage limits', h('div', { id: 'key-usage', 'aria-live': 'polite' }, usageFacts(record, usage))),
    record.budget !== record.id
      ? fact('Budget', 'Shared with ', keyLink(record.budget, keyLabel(record.budget)), ': their requests count together.')
      : null,
    fact('Expires', record.expires_at ? time(record.expires_at) : 'never', record.expired ? ' (expired: every call is denied)' : null),
    fact('Last used', record.last_used_at ? time(record.last_used_at) : 'never'),
    fact('Created', time(record.created_at)),
    fact('Created by', record.created_by ? keyLink(record.created_by) : 'keygate bootstrap'),
    fact('Updated', time(record.updated_at)),
    record.suspended_at ? fact('Suspended', time(record.suspended_at)) : null,
    record.revoked_at ? fact('Revoked', time(record.revoked_at)) : null,
    record.revoked_reason ? fact('Revoked because', record.revoked_reason) : null,
    record.revoked_by ? fact('Revoked by', keyLink(record.revoked_by)) : null,
    record.rotated_from ? fact('Rotated from', keyLink(record.rotated_from, keyLabel(record.rotated_from))) : null,
    record.rotated_to ? fact('Rotated to', keyLink(record.rotated_to, keyLabel(record.rotated_to))) : null,
  );
  $('key-body').hidden = false;
}

function fact(term, ...value) {
  return [h('dt', {}, term), h('dd', {}, ...value)];
}
