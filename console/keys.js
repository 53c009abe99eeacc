// The keys table: status tabs (in the URL fragment), pages that follow
// next_cursor, and each row's actions, which update the row in place.

import * as api from './api.js';
import { $, bringIntoView, h, timeElement } from './dom.js';
import { createKey, keyMenuItems } from './actions.js';
import { STATUS_LABELS, describePermissions, expiryUrgency, formatDate, relativeTime } from './format.js';
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

const state = { status: null };

const keys = pagedList({
  list: rowsElement,
  empty: $('keys-empty'),
  error: $('keys-error'),
  more: $('keys-more'),
  noun: 'key',
  render: keyRow,
  onLoaded(rows, append) {
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
});

/** Create key is offered only to a key that may create one; otherwise it says why. */
function offerCreate() {
  const { allowed, reason } = permission('create');
  const button = $('create-key');
  if (allowed) button.removeAttribute('aria-disabled');
  else button.setAttribute('aria-disabled', 'true');
  $('create-key-reason').textContent = reason ?? '';
}

/** Shows the keys view for a status tab, freshly loaded. */
export function showKeys(status) {
  view.hidden = false;
  offerCreate();
  for (const tab of view.querySelectorAll('.tabs a')) {
    if (tab.dataset.status === status) tab.setAttribute('aria-current', 'page');
    else tab.removeAttribute('aria-current');
  }
  state.status = status;
  $('keys-caption').textContent = status === 'all' ? 'API keys' : `API keys: ${STATUS_LABELS[status]}`;
  $('keys-empty').textContent = EMPTY_STATES[status];
  keys.show((cursor) => api.listKeys({ status, cursor }));
}

export function hideKeys() {
  view.hidden = true;
}

/** Forgets every row (at sign-out). */
export function resetKeys() {
  state.status = null;
  keys.reset();
}

function showsStatus(status) {
  return state.status === 'all' || state.status === status;
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
    h('td', { class: 'cell-permissions', 'data-label': 'Permissions' }, permissionsCell(permissions)),
    h('td', { class: 'cell-hint', 'data-label': 'Hint' }, h('code', { class: 'hint' }, record.hint)),
    h('td', { class: 'cell-status', 'data-label': 'Status' }, statusBadges(record)),
    h('td', { class: 'cell-time', 'data-label': 'Created' }, timeElement(record.created_at)),
    h('td', { class: 'cell-time', 'data-label': 'Last used' }, record.last_used_at ? timeElement(record.last_used_at) : 'never'),
    h('td', { class: 'cell-time', 'data-label': 'Expires' }, expiresCell(record)),
    h('td', { class: 'cell-actions' }, menuButton({ label: `Actions for ${record.name}`, items: keyMenuItems(record) })),
  );
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
  if (!showsStatus(record.status) || view.hidden) return;
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
