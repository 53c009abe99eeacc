// The organization's audit trail (GET /v1/audit-events): the Audit log tab,
// filtered by action through the URL fragment, and one key's History panel.

import * as api from './api.js';
import { $, h, timeElement } from './dom.js';
import { openModal } from './dialogs.js';
import { ACTION_LABELS } from './format.js';
import { pagedList } from './paged.js';
import { session } from './session.js';

// How an event reads

function actionBadge(action) {
  return h('span', { class: `badge action action-${action}` }, ACTION_LABELS[action] ?? action);
}

function actor(event) {
  if (event.actor_type === 'bootstrap' || !event.actor_hint) return h('span', {}, 'keygate bootstrap');
  return h(
    'span',
    {},
    h('code', { class: 'hint' }, event.actor_hint),
    session.isMe(event.actor_key_id) ? h('span', { class: 'tag' }, 'your key') : null,
  );
}

function statusChange(event) {
  if (event.action === 'delete') return `${event.status_before ?? '—'} → deleted`;
  if (!event.status_before && !event.status_after) return '—';
  if (!event.status_before) return `→ ${event.status_after}`;
  return `${event.status_before} → ${event.status_after}`;
}

function successor(event) {
  return event.rotated_to
    ? h('span', { class: 'secondary' }, 'successor ', h('code', {}, event.rotated_to))
    : null;
}

// The Audit log tab

const auditView = $('audit-view');
const actionFilter = $('audit-action');

const auditLog = pagedList({
  list: $('audit-rows'),
  empty: $('audit-empty'),
  error: $('audit-error'),
  more: $('audit-more'),
  noun: 'event',
  render: (event) =>
    h(
      'tr',
      {},
      h('td', { 'data-label': 'Time' }, timeElement(event.time)),
      h('td', { 'data-label': 'Action' }, actionBadge(event.action)),
      h(
        'td',
        { 'data-label': 'Key' },
        h('span', { class: 'key-name' }, event.key_name ?? '—'),
        h('code', { class: 'secondary' }, event.key_id),
      ),
      h('td', { 'data-label': 'By' }, actor(event)),
      h('td', { 'data-label': 'Status' }, h('span', {}, statusChange(event)), successor(event)),
      h('td', { 'data-label': 'Reason' }, event.reason ?? '—'),
    ),
});

actionFilter.addEventListener('change', () => {
  window.location.hash = actionFilter.value ? `#audit/${actionFilter.value}` : '#audit';
});

/** Shows the Audit log, newest first, for one action or all. */
export function showAudit(action) {
  auditView.hidden = false;
  actionFilter.value = action && ACTION_LABELS[action] ? action : '';
  const filter = actionFilter.value || null;
  $('audit-empty').textContent = filter
    ? `No “${ACTION_LABELS[filter].toLowerCase()}” events yet. Choose “All actions” to see every event.`
    : 'No events yet. Every change to a key is recorded here.';
  auditLog.show((cursor) => api.listAuditEvents({ action: filter, cursor }));
}

export function hideAudit() {
  auditView.hidden = true;
}

// One key's History panel

const history = pagedList({
  list: $('history-list'),
  empty: $('history-empty'),
  error: $('history-error'),
  more: $('history-more'),
  noun: 'event',
  render: (event) => {
    const next = successor(event);
    return h(
      'li',
      { class: 'event' },
      h('p', { class: 'event-head' }, actionBadge(event.action), ' ', timeElement(event.time)),
      h('p', {}, 'By ', actor(event), ' · ', statusChange(event)),
      next ? h('p', {}, next) : null,
      event.reason ? h('p', { class: 'event-reason' }, `Reason: ${event.reason}`) : null,
    );
  },
});

const historyDialog = $('history-dialog');

// A click on the backdrop (outside the panel's box) closes the panel.
historyDialog.addEventListener('click', (event) => {
  if (event.target === historyDialog) {
    const box = historyDialog.getBoundingClientRect();
    const inside = event.clientX >= box.left && event.clientX <= box.right
      && event.clientY >= box.top && event.clientY <= box.bottom;
    if (!inside) historyDialog.close();
  }
});

/** Opens the History panel with the key's audit events, newest first. */
export function openHistory(record) {
  $('history-title').textContent = `History of “${record.name}”`;
  $('history-for').textContent = `Key ${record.hint} · id ${record.id}`;
  history.reset();
  const opened = openModal(historyDialog, { initialFocus: historyDialog.querySelector('[data-close]') });
  history.show((cursor) => api.listAuditEvents({ keyId: record.id, cursor }));
  return opened;
}

export function resetAudit() {
  auditLog.reset();
  history.reset();
}
