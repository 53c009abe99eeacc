// The keys table: status tabs with their counts, a search by name or a
// filter by type and owner (all in the URL fragment: #keys/active?name=ci),
// pages that follow next_cursor, and each row's actions, which update the
// row in place.

import * as api from './api.js';
import { $, bringIntoView, h, timeElement } from './dom.js';
import { createKey, keyMenuItems } from './actions.js';
import { STATUS_LABELS, describePermissions, expiryUrgency, formatDate, relativeTime } from './format.js';
import { describeLimits, hasLimits, shortLimits } from './limits.js';
import { knownKeys, refreshRotationLinks, rotationLink } from './links.js';
import { menuButton } from './menu.js';
import { pagedList } from './paged.js';
import { permission } from './capabilities.js';
import { session } from './session.js';

const view = $('keys-view');
const rowsElement = $('keys-rows');

export const STATUSES = ['all', 'active', 'suspended', 'revoked'];

const EMPTY_STATES = {
  all: 'No keys yet. Use “Create key” to make the first one.',
  active: 'No active keys. Create a key, or reactivate a suspended one from the Suspended tab.',
  suspended: 'No suspended keys. Suspending a key (⋯ → Suspend) blocks it until you reactivate it.',
  revoked: 'No revoked keys. Revoking a key (⋯ → Revoke) ends it for good.',
};

const state = { status: null, find: { name: '', type: '', owner: '' } };

const nameInput = $('keys-name');
const typeSelect = $('keys-type');
const ownerInput = $('keys-owner');
const findHint = $('keys-find-hint');
const FIND_HINT = 'Search by the start of a name, or filter by type and owner.';

/** The fragment for a status tab and a search: #keys/active?name=ci. */
export function keysHash(status, { name = '', type = '', owner = '' } = {}) {
  const query = new URLSearchParams();
  if (name) query.set('name', name);
  if (type) query.set('type', type);
  if (owner) query.set('owner', owner);
  const text = query.toString();
  return `#keys${status === 'all' ? '' : `/${status}`}${text ? `?${text}` : ''}`;
}

function findFrom(query) {
  const value = (name) => query?.get(name)?.trim() ?? '';
  const type = ['service', 'user'].includes(value('type')) ? value('type') : '';
  return { name: value('name'), type, owner: value('owner') };
}

// A name search and a type or owner filter do not combine (the API answers
// one or the other): while one has a value the others wait, and say why.
function refreshFindControls() {
  const { name, type, owner } = state.find;
  typeSelect.disabled = Boolean(name);
  ownerInput.disabled = Boolean(name);
  nameInput.disabled = Boolean(type || owner) && !name;
  findHint.textContent = name
    ? 'Clear the name to filter by type or owner.'
    : type || owner ? 'Clear the type and owner to search by name.' : FIND_HINT;
}

let typing = null;
/** Shows the keys the controls ask for: at once, or once typing pauses. */
function find({ now = false } = {}) {
  window.clearTimeout(typing);
  const go = () => {
    const next = { name: nameInput.value.trim(), type: typeSelect.value, owner: ownerInput.value.trim() };
    state.find = next;
    refreshFindControls();
    // replaceState: typing a name does not leave one history entry a letter.
    window.history.replaceState(null, '', keysHash(state.status, next));
    showKeys(state.status, next);
  };
  if (now) go();
  else typing = window.setTimeout(go, 300);
}

nameInput.addEventListener('input', () => find());
ownerInput.addEventListener('input', () => find());
typeSelect.addEventListener('change', () => find({ now: true }));
for (const input of [nameInput, ownerInput]) {
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') find({ now: true });
  });
}

const keys = pagedList({
  list: rowsElement,
  empty: $('keys-empty'),
  error: $('keys-error'),
  more: $('keys-more'),
  noun: 'key',
  render: keyRow,
  onLoaded(rows, append, _items, page) {
    showCounts(page.counts);
    refreshRotationLinks(rowsElement);
    // After the last page, focus moves from the vanished button to the new rows.
    if (append && $('keys-more').hidden) rows[0]?.querySelector('.menu-button')?.focus();
  },
});

$('create-key').addEventListener('click', () => {
  if ($('create-key').getAttribute('aria-disabled') !== 'true') createKey();
});

document.addEventListener('keychange', ({ detail }) => {
  if (detail.change === 'added') addRow(detail.record, detail);
  if (detail.change === 'updated') replaceRow(detail.record);
  if (detail.change === 'removed') removeRow(detail.record.id);
  refreshCounts();
});

/** Each status tab's count, from a list's `counts` (none when the API cannot count). */
function showCounts(counts) {
  for (const slot of view.querySelectorAll('.tabs [data-count]')) {
    const n = counts?.[slot.dataset.count];
    slot.textContent = n === undefined || n === null ? '' : String(n);
  }
}

/** Reads the counts again after a change (one key's page of the cheapest list). */
async function refreshCounts() {
  if (!state.status) return;
  try {
    showCounts((await api.listKeys({ status: 'all', limit: 1 })).counts);
  } catch {
    // The tabs keep the counts they had.
  }
}

/** Create key is offered only to a key that may create one; otherwise it says why. */
function offerCreate() {
  const { allowed, reason } = permission('create');
  const button = $('create-key');
  if (allowed) button.removeAttribute('aria-disabled');
  else button.setAttribute('aria-disabled', 'true');
  $('create-key-reason').textContent = reason ?? '';
}

/**
 * Shows the keys view for a status tab and a search (`query`: the
 * fragment's, or `{name, type, owner}`), freshly loaded.
 */
export function showKeys(status, query = null) {
  view.hidden = false;
  offerCreate();
  const found = query instanceof URLSearchParams || query === null ? findFrom(query) : query;
  state.status = status;
  state.find = found;
  for (const tab of view.querySelectorAll('.tabs a')) {
    tab.href = keysHash(tab.dataset.status, found);
    if (tab.dataset.status === status) tab.setAttribute('aria-current', 'page');
    else tab.removeAttribute('aria-current');
  }
  if (document.activeElement !== nameInput) nameInput.value = found.name;
  if (document.activeElement !== ownerInput) ownerInput.value = found.owner;
  typeSelect.value = found.type;
  refreshFindControls();
  const searching = found.name || found.type || found.owner;
  $('keys-caption').textContent = status === 'all' ? 'API keys' : `API keys: ${STATUS_LABELS[status]}`;
  $('keys-empty').textContent = searching
    ? `No ${status === 'all' ? '' : `${STATUS_LABELS[status].toLowerCase()} `}keys match ${describeFind(found)}.`
    : EMPTY_STATES[status];
  const { name, type, owner } = found;
  keys.show((cursor) => api.listKeys({ status, name: name || null, type: type || null, owner: owner || null, cursor }));
}

function describeFind({ name, type, owner }) {
  if (name) return `a name starting with “${name}”`;
  const parts = [];
  if (type) parts.push(`type ${type}`);
  if (owner) parts.push(`owner “${owner}”`);
  return parts.join(' and ');
}

export function hideKeys() {
  view.hidden = true;
}

/** Forgets every row (at sign-out). */
export function resetKeys() {
  state.status = null;
  state.find = { name: '', type: '', owner: '' };
  window.clearTimeout(typing);
  nameInput.value = '';
  ownerInput.value = '';
  typeSelect.value = '';
  showCounts(null);
  keys.reset();
}

function showsStatus(status) {
  return state.status === 'all' || state.status === status;
}

function searching() {
  const { name, type, owner } = state.find;
  return Boolean(name || type || owner);
}

// Rows

function keyRow(record) {
  knownKeys.set(record.id, record);
  const permissions = describePermissions(record.scopes, session.catalog.presets);
  return h(
    'tr',
    { 'data-key-id': record.id },
    h(
      'td',
      { class: 'cell-name', 'data-label': 'Name' },
      h('a', { class: 'key-name', href: `#key/${record.id}` }, record.name),
      session.isMe(record.id) ? h('span', { class: 'tag' }, 'your key') : null,
      record.description ? h('span', { class: 'key-description' }, record.description) : null,
      record.rotated_from ? rotationLink('from', record.rotated_from) : null,
      record.rotated_to ? rotationLink('to', record.rotated_to) : null,
    ),
    h(
      'td',
      { class: 'cell-type', 'data-label': 'Type' },
      record.key_type === 'user' ? 'User' : 'Service',
      record.owner ? h('span', { class: 'secondary owner' }, record.owner) : null,
    ),
    h(
      'td',
      { class: 'cell-permissions', 'data-label': 'Permissions' },
      permissionsCell(permissions),
      hasLimits(record) ? limitsSummary(record) : null,
    ),
    h('td', { class: 'cell-hint', 'data-label': 'Hint' }, h('code', { class: 'hint' }, record.hint)),
    h('td', { class: 'cell-status', 'data-label': 'Status' }, statusBadges(record)),
    h('td', { class: 'cell-time', 'data-label': 'Created' }, timeElement(record.created_at)),
    h('td', { class: 'cell-time', 'data-label': 'Last used' }, record.last_used_at ? timeElement(record.last_used_at) : 'never'),
    h('td', { class: 'cell-time', 'data-label': 'Expires' }, expiresCell(record)),
    h('td', { class: 'cell-actions' }, menuButton({ label: `Actions for ${record.name}`, items: keyMenuItems(record) })),
  );
}

/**
 * A limited key's limits, then its usage once read: one GET …/usage per
 * limited key shown, and only when the signed-in key has no limits of its
 * own (each read would count against them; its key pages still show usage).
 */
function limitsSummary(record) {
  const used = h('span', { class: 'usage' });
  const summary = h(
    'span',
    { class: 'secondary limits', title: `Usage limits: ${describeLimits(record.limits).join('; ')}` },
    `Limit ${shortLimits(record.limits)}`,
    used,
  );
  if (hasLimits(session.me)) return summary;
  api.getUsage(record.id).then(
    (usage) => {
      const parts = [usage.rate, usage.quota].filter(Boolean).map((u) => `${u.used.toLocaleString('en')}/${u.limit.toLocaleString('en')}`);
      used.textContent = ` · used ${parts.join(' · ')}`;
    },
    () => {},
  );
  return summary;
}

function permissionsCell({ label, scopes }) {
  if (!scopes) return h('span', { class: 'full-access' }, label);
  return h(
    'details',
    { class: 'scopes', title: scopes.join('\n') },
    h('summary', {}, label),
    h('ul', { class: 'scope-list' }, scopes.map((scope) => h('li', {}, h('code', {}, scope)))),
  );
}

export function statusBadges(record) {
  return h(
    'span',
    { class: 'badges' },
    h('span', { class: `badge badge-${record.status}` }, STATUS_LABELS[record.status] ?? record.status),
    record.expired ? h('span', { class: 'badge badge-expired' }, 'Expired') : null,
    record.rotated_to && record.status !== 'revoked' ? h('span', { class: 'badge badge-rotated' }, 'Rotated') : null,
  );
}

function expiresCell(record) {
  if (!record.expires_at) return 'never';
  const urgency = expiryUrgency(record.expires_at);
  const when = relativeTime(record.expires_at);
  return h(
    'span',
    { class: urgency ? `expiry expiry-${urgency}` : 'expiry' },
    timeElement(record.expires_at, formatDate(record.expires_at)),
    ' ',
    h('span', { class: 'relative' }, urgency === 'past' ? `expired ${when}` : when),
  );
}

/** The key's row, if the table shows it. */
export function rowFor(id) {
  return rowsElement.querySelector(`tr[data-key-id="${CSS.escape(id)}"]`);
}

/** Puts a fresh row in place of the key's old one, keeping focus on its menu, and marks it. */
function replaceRow(record) {
  const old = rowFor(record.id);
  if (!old) return;
  const hadFocus = old.contains(document.activeElement);
  const row = keyRow(record);
  old.replaceWith(row);
  if (hadFocus) row.querySelector('.menu-button').focus();
  bringIntoView(row);
}

/** A new key (created, or a successor) goes first, into view and marked; `focus` moves focus to it. */
function addRow(record, { focus = false } = {}) {
  knownKeys.set(record.id, record);
  // A search's rows are the API's to choose: a new key shows once it is searched for.
  if (!showsStatus(record.status) || view.hidden || searching()) return;
  const row = keyRow(record);
  rowsElement.prepend(row);
  keys.refreshEmpty();
  refreshRotationLinks(rowsElement);
  if (focus) row.querySelector('.key-name').focus({ preventScroll: true });
  bringIntoView(row);
}

function removeRow(id) {
  const row = rowFor(id);
  if (!row) return;
  const next = row.nextElementSibling ?? row.previousElementSibling;
  const hadFocus = row.contains(document.activeElement) || document.activeElement === document.body;
  row.remove();
  keys.refreshEmpty();
  if (hadFocus) (next?.querySelector('.menu-button') ?? $('keys-title')).focus();
}
