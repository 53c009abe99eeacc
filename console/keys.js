// The keys table: status tabs (in the URL fragment), pages that follow
// next_cursor, and each row's actions, which update the row in place.

import * as api from './api.js';
import { $, h, notify, timeElement } from './dom.js';
import { createKeyDialog } from './create.js';
import { deleteDialog, revokeDialog, rotateDialog, showSecret } from './dialogs.js';
import { describeFailure } from './errors.js';
import { STATUS_LABELS, describePermissions, expiryUrgency, formatDate, relativeTime } from './format.js';
import { openHistory } from './audit.js';
import { menuButton } from './menu.js';
import { pagedList } from './paged.js';
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
    // After the last page, focus moves from the vanished button to the new rows.
    if (append && $('keys-more').hidden) rows[0]?.querySelector('.menu-button')?.focus();
  },
});

$('create-key').addEventListener('click', createKey);

/** Shows the keys view for a status tab, freshly loaded. */
export function showKeys(status) {
  view.hidden = false;
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
  const permissions = describePermissions(record.scopes, session.catalog.presets);
  return h(
    'tr',
    { 'data-key-id': record.id },
    h(
      'td',
      { class: 'cell-name', 'data-label': 'Name' },
      h('span', { class: 'key-name' }, record.name),
      session.isMe(record.id) ? h('span', { class: 'tag' }, 'your key') : null,
      record.description ? h('span', { class: 'key-description' }, record.description) : null,
    ),
    h(
      'td',
      { 'data-label': 'Type' },
      record.key_type === 'user' ? 'User' : 'Service',
      record.owner ? h('span', { class: 'secondary' }, record.owner) : null,
    ),
    h('td', { 'data-label': 'Permissions' }, permissionsCell(permissions)),
    h('td', { 'data-label': 'Hint' }, h('code', { class: 'hint' }, record.hint)),
    h('td', { 'data-label': 'Status' }, statusBadges(record)),
    h('td', { 'data-label': 'Created' }, timeElement(record.created_at)),
    h('td', { 'data-label': 'Last used' }, record.last_used_at ? timeElement(record.last_used_at) : 'never'),
    h('td', { 'data-label': 'Expires' }, expiresCell(record)),
    h('td', { class: 'cell-actions' }, rowMenu(record)),
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

function statusBadges(record) {
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
    h('span', { class: 'secondary' }, urgency === 'past' ? `expired ${when}` : when),
  );
}

/** The actions a key's status allows: a revoked key offers only Delete and History. */
function rowMenu(record) {
  const items = [];
  if (record.status === 'active') items.push({ label: 'Suspend', onSelect: () => suspend(record) });
  if (record.status === 'suspended') items.push({ label: 'Reactivate', onSelect: () => reactivate(record) });
  if (record.status === 'active' && !record.expired && !record.rotated_to) {
    items.push({ label: 'Rotate…', onSelect: () => rotate(record) });
  }
  if (record.status !== 'revoked') items.push({ label: 'Revoke…', danger: true, onSelect: () => revoke(record) });
  items.push({ label: 'Delete…', danger: true, onSelect: () => remove(record) });
  items.push({ label: 'History', onSelect: () => openHistory(record) });
  return menuButton({ label: `Actions for ${record.name}`, items });
}

function rowFor(id) {
  return rowsElement.querySelector(`tr[data-key-id="${CSS.escape(id)}"]`);
}

/** Puts a fresh row in place of the key's old one, keeping focus on its menu. */
function replaceRow(record) {
  const old = rowFor(record.id);
  if (!old) return;
  const hadFocus = old.contains(document.activeElement);
  const row = keyRow(record);
  old.replaceWith(row);
  if (hadFocus) row.querySelector('.menu-button').focus();
}

function prependRow(record) {
  if (!showsStatus(record.status)) return;
  rowsElement.prepend(keyRow(record));
  keys.refreshEmpty();
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

// Actions

/** When the signed-in key acted on itself in a way that ends it, sign out. */
function endsSession(record, action) {
  if (!session.isMe(record.id)) return false;
  session.end(`You ${action} the key you were signed in with. Sign in with another key.`);
  return true;
}

async function failed(error, action, record) {
  const message = await describeFailure(error, action, record.name);
  if (message) notify(message, { error: true });
}

async function createKey() {
  const created = await createKeyDialog();
  if (!created) return;
  const { key, ...record } = created;
  prependRow(record);
  notify(`Created “${record.name}”.`);
  await showSecret(key, { title: 'Copy your new key', subject: `“${record.name}” was created.` });
}

async function suspend(record) {
  try {
    const updated = await api.suspendKey(record.id);
    if (endsSession(record, 'suspended')) return;
    replaceRow(updated);
    notify(`Suspended “${record.name}”: it is denied until reactivated.`);
  } catch (error) {
    if (error instanceof api.ApiError) await failed(error, 'suspend', record);
    else throw error;
  }
}

async function reactivate(record) {
  try {
    const updated = await api.reactivateKey(record.id);
    replaceRow(updated);
    notify(`Reactivated “${record.name}”.`);
  } catch (error) {
    if (error instanceof api.ApiError) await failed(error, 'reactivate', record);
    else throw error;
  }
}

async function rotate(record) {
  const successor = await rotateDialog(record);
  if (!successor) return;
  const { key, ...successorRecord } = successor;
  prependRow(successorRecord);
  // Rotation answers with the successor; the old key's new expiry (or its
  // revocation) is read back for its row. A key that rotated itself may be
  // revoked already, so its successor is shown before that read.
  const refreshOldRow = async () => {
    try {
      replaceRow(await api.getKey(record.id));
    } catch {
      // The old row updates on the next load.
    }
  };
  if (!session.isMe(record.id)) await refreshOldRow();
  notify(`Rotated “${record.name}”.`);
  await showSecret(key, { title: 'Copy the new key', subject: `The successor of “${record.name}”.` });
  if (session.isMe(record.id)) await refreshOldRow();
}

async function revoke(record) {
  const updated = await revokeDialog(record);
  if (!updated) return;
  if (endsSession(record, 'revoked')) return;
  replaceRow(updated);
  notify(`Revoked “${record.name}”. This cannot be undone.`);
}

async function remove(record) {
  const deleted = await deleteDialog(record);
  if (!deleted) return;
  if (endsSession(record, 'deleted')) return;
  removeRow(record.id);
  notify(`Deleted “${record.name}”.`);
}
