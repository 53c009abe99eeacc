// The organization's audit trail (GET /v1/audit-events): the Audit log tab,
// filtered by action, by the key changed or the key that acted, and by days,
// through the URL fragment, and exported as CSV or JSON; one key's History
// panel; and how an event reads, which the key's page shares. Keys read by
// name: the event's own (the name it had then), else the name the page knows.

import * as api from './api.js';
import { $, h, replaceChildren, timeWithRelative } from './dom.js';
import { ACTION_LABELS, STATUS_LABELS } from './format.js';
import { describeLimits } from './limits.js';
import { knownKeys, keyLink } from './links.js';
import { notify } from './toast.js';
import { openModal } from './dialogs.js';
import { pagedList } from './paged.js';
import { reason } from './errors.js';
import { session } from './session.js';

// How an event reads

function actionBadge(action) {
  return h('span', { class: `badge action action-${action}` }, ACTION_LABELS[action] ?? action);
}

/**
 * Who acted: the key by the name it had when it acted (events recorded
 * before names were fall back to the name the page knows) and its hint, or
 * bootstrap.
 */
export function actor(event) {
  if (event.actor_type === 'bootstrap' || !event.actor_hint) return h('span', {}, 'keygate bootstrap');
  const name = event.actor_name ?? knownKeys.get(event.actor_key_id)?.name ?? null;
  return h(
    'span',
    { class: 'actor' },
    name ? keyLink(event.actor_key_id, name) : null,
    name ? ' ' : null,
    h('code', { class: 'hint' }, event.actor_hint),
    session.isMe(event.actor_key_id) ? h('span', { class: 'tag' }, 'your key') : null,
  );
}

/** An update's changes in words: "Renamed from “a” to “b”; description removed". */
function describeChanges(changes) {
  const parts = (changes ?? []).map(({ field, before, after }) => {
    if (field === 'name') return `Renamed from “${before}” to “${after}”`;
    if (after === null) return 'Description removed';
    return before === null ? `Description set to “${after}”` : `Description changed to “${after}”`;
  });
  const text = parts.join('; ');
  return text.charAt(0).toUpperCase() + text.slice(1) || 'Edited';
}

const status = (value) => (STATUS_LABELS[value] ?? value ?? '—').toLowerCase();

/**
 * What the event did, in words: a rotation says where the key went or came
 * from (both keys carry the same name, so the other one is named by it when
 * the page has not seen it), other changes the status they changed.
 */
export function whatHappened(event) {
  const other = (id) => keyLink(id, knownKeys.get(id)?.name ?? event.key_name);
  switch (event.action) {
    case 'rotate':
      return h(
        'span',
        {},
        'Rotated to ',
        event.rotated_to ? other(event.rotated_to) : 'a successor',
        event.status_after === 'revoked' ? '; revoked at once' : '; works until its grace period ends',
      );
    case 'create':
      return event.rotated_from
        ? h('span', {}, 'Created by rotation of ', other(event.rotated_from))
        : h('span', {}, `Created, ${status(event.status_after)}`);
    case 'bootstrap':
      return h('span', {}, `Created by keygate bootstrap, ${status(event.status_after)}`);
    case 'delete':
      return h('span', {}, event.status_before ? `Deleted (was ${status(event.status_before)})` : 'Deleted');
    case 'update':
      return h('span', { class: 'changes' }, describeChanges(event.changes));
    case 'set_limits':
      return h('span', { class: 'changes' }, describeLimitsChange(event.limits));
    case 'reset_usage':
      return h('span', {}, 'Usage counts set back to zero');
    default:
      return h('span', {}, `${status(event.status_before)} → ${status(event.status_after)}`);
  }
}

/** A limits change in words: "Limits: none → 100 requests per minute". */
function describeLimitsChange(change) {
  const words = (limits) => describeLimits(limits).join(', ') || 'none';
  if (!change) return 'Limits set';
  return `Limits: ${words(change.before)} → ${words(change.after)}`;
}

function remember(event) {
  knownKeys.set(event.key_id, { name: event.key_name });
  if (event.actor_key_id && event.actor_name) {
    knownKeys.set(event.actor_key_id, { name: event.actor_name, hint: event.actor_hint });
  }
}

/** One event as an item of a key's history (the History panel, the key's page). */
export function eventItem(event) {
  remember(event);
  return h(
    'li',
    { class: 'event' },
    h('p', { class: 'event-head' }, actionBadge(event.action), ' ', timeWithRelative(event.time)),
    h('p', {}, whatHappened(event)),
    h('p', { class: 'secondary' }, 'By ', actor(event)),
    event.reason ? h('p', { class: 'event-reason' }, `Reason: ${event.reason}`) : null,
  );
}

// The Audit log tab

const auditView = $('audit-view');
const actionFilter = $('audit-action');
const keyFilter = $('audit-key');
const actorFilter = $('audit-actor');
const fromFilter = $('audit-from');
const toFilter = $('audit-to');
const filter = { action: null, keyId: null, actorId: null, from: null, to: null };
let rowCount = 0;

const auditLog = pagedList({
  list: $('audit-rows'),
  empty: $('audit-empty'),
  error: $('audit-error'),
  more: $('audit-more'),
  noun: 'event',
  render: auditRows,
});

/** An event's row, and the row under it with the request's details, shown by a disclosure button. */
function auditRows(event) {
  remember(event);
  const detailsId = `audit-details-${++rowCount}`;
  const toggle = h(
    'button',
    { type: 'button', class: 'button small disclosure', 'aria-expanded': 'false', 'aria-controls': detailsId },
    h('span', { class: 'visually-hidden' }, `Request details of the ${ACTION_LABELS[event.action] ?? event.action} event at ${event.time}`),
    h('span', { 'aria-hidden': 'true' }, 'Details'),
  );
  const details = h(
    'tr',
    { id: detailsId, class: 'audit-details-row', hidden: true },
    h(
      'td',
      { colspan: '7' },
      h(
        'dl',
        { class: 'facts facts-compact' },
        fact('Request id', h('code', {}, event.request_id)),
        fact('Source IP', event.source_ip ?? '—'),
        fact('User agent', event.user_agent ? h('span', { class: 'user-agent' }, event.user_agent) : '—'),
        fact('Event id', h('code', {}, event.id)),
        fact('Key id', h('code', {}, event.key_id)),
        event.actor_key_id ? fact('Actor key id', h('code', {}, event.actor_key_id)) : null,
      ),
    ),
  );
  const row = h(
    'tr',
    { class: 'audit-row' },
    h('td', { class: 'cell-time', 'data-label': 'Time' }, timeWithRelative(event.time)),
    h('td', { 'data-label': 'Action' }, actionBadge(event.action)),
    h('td', { 'data-label': 'Key' }, keyLink(event.key_id, event.key_name)),
    h('td', { 'data-label': 'By' }, actor(event)),
    h('td', { 'data-label': 'What happened' }, whatHappened(event)),
    h('td', { class: 'cell-reason', 'data-label': 'Reason' }, event.reason ?? '—'),
    h('td', { class: 'cell-actions' }, toggle),
  );
  toggle.addEventListener('click', () => {
    const open = toggle.getAttribute('aria-expanded') !== 'true';
    toggle.setAttribute('aria-expanded', String(open));
    row.classList.toggle('is-expanded', open);
    details.hidden = !open;
  });
  return [row, details];
}

function fact(term, ...value) {
  return [h('dt', {}, term), h('dd', {}, ...value)];
}

actionFilter.addEventListener('change', () => setFilter({ ...filter, action: actionFilter.value || null }));
keyFilter.addEventListener('change', () => setFilter({ ...filter, keyId: keyFilter.value || null }));
actorFilter.addEventListener('change', () => setFilter({ ...filter, actorId: actorFilter.value || null }));
fromFilter.addEventListener('change', () => setFilter({ ...filter, from: fromFilter.value || null }));
toFilter.addEventListener('change', () => setFilter({ ...filter, to: toFilter.value || null }));

/**
 * The fragment for a filter: #audit, #audit/revoke, #audit?key=ID,
 * #audit/revoke?actor=ID&from=2026-01-01&to=2026-01-31.
 */
export function auditHash({ action = null, keyId = null, actorId = null, from = null, to = null } = {}) {
  const query = new URLSearchParams();
  if (keyId) query.set('key', keyId);
  if (actorId) query.set('actor', actorId);
  if (from) query.set('from', from);
  if (to) query.set('to', to);
  const text = query.toString();
  return `#audit${action ? `/${action}` : ''}${text ? `?${text}` : ''}`;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** The API's time range for whole days in this browser's time zone, `to` included. */
function timeRange(from, to) {
  const startOf = (day) => new Date(`${day}T00:00:00`);
  const since = from ? startOf(from) : null;
  let until = null;
  if (to) {
    until = startOf(to);
    until.setDate(until.getDate() + 1);
  }
  return { since: since?.toISOString() ?? null, until: until?.toISOString() ?? null };
}

function setFilter(next) {
  window.location.hash = auditHash(next);
}

/**
 * Shows the Audit log, newest first, for one action or all, the events of
 * one key or by one key (not both: the API filters by either), and days.
 */
export function showAudit({ action = null, keyId = null, actorId = null, from = null, to = null } = {}) {
  auditView.hidden = false;
  const id = (value) => (value && /^[0-9A-Za-z]{22}$/.test(value) ? value : null);
  filter.action = action && ACTION_LABELS[action] ? action : null;
  filter.keyId = id(keyId);
  filter.actorId = filter.keyId ? null : id(actorId);
  filter.from = from && DAY.test(from) ? from : null;
  filter.to = to && DAY.test(to) ? to : null;
  if (filter.from && filter.to && filter.to < filter.from) [filter.from, filter.to] = [filter.to, filter.from];
  actionFilter.value = filter.action ?? '';
  fromFilter.value = filter.from ?? '';
  toFilter.value = filter.to ?? '';
  toFilter.min = filter.from ?? '';
  fromFilter.max = filter.to ?? '';
  $('audit-when-hint').hidden = !(filter.from || filter.to);
  fillKeyFilter();
  // By key or by actor: one waits while the other has a value.
  actorFilter.disabled = Boolean(filter.keyId);
  keyFilter.disabled = Boolean(filter.actorId);
  const filtered = filter.action || filter.keyId || filter.actorId || filter.from || filter.to;
  $('audit-empty').textContent = filtered
    ? 'No events match these filters. Choose “All actions”, “All keys”, “Anyone” and no days to see every event.'
    : 'No events yet. Every change to a key is recorded here.';
  $('audit-export-status').textContent = '';
  const query = currentQuery();
  auditLog.show((cursor) => api.listAuditEvents({ ...query, cursor }));
  loadKeyChoices();
}

/** The API's filters for the current one. */
function currentQuery() {
  const { action, keyId, actorId, from, to } = filter;
  return { action, keyId, actorId, ...timeRange(from, to) };
}

export function hideAudit() {
  auditView.hidden = true;
}

// The key filter offers the organization's keys (the first 100, newest
// first) and any key the fragment names, such as a deleted one.

let keyChoices = null;

async function loadKeyChoices() {
  if (keyChoices) return;
  try {
    keyChoices = (await api.listKeys({ status: 'all', limit: 100 })).data;
    for (const record of keyChoices) knownKeys.set(record.id, record);
    fillKeyFilter();
  } catch {
    // The filter still offers "All keys" and the key in the fragment.
  }
}

function fillKeyFilter() {
  const records = keyChoices ?? [];
  const options = (chosen) => {
    const list = records.map((record) => h('option', { value: record.id }, `${record.name} (${record.hint})`));
    if (chosen && !records.some((record) => record.id === chosen)) {
      const known = knownKeys.get(chosen);
      list.unshift(h('option', { value: chosen }, known ? known.name : `a key not listed here (id ${chosen.slice(0, 8)}…)`));
    }
    return list;
  };
  replaceChildren(keyFilter, h('option', { value: '' }, 'All keys'), options(filter.keyId));
  keyFilter.value = filter.keyId ?? '';
  replaceChildren(actorFilter, h('option', { value: '' }, 'Anyone'), options(filter.actorId));
  actorFilter.value = filter.actorId ?? '';
}

// Export: every page of the current filter, as CSV (RFC 4180) or JSON.

const EXPORT_FIELDS = [
  'time', 'action', 'key_id', 'key_name', 'actor_type', 'actor_key_id', 'actor_hint', 'actor_name',
  'reason', 'status_before', 'status_after', 'rotated_from', 'rotated_to', 'changes', 'limits', 'request_id',
  'source_ip', 'user_agent', 'id', 'org_id',
];

let exporting = false;

$('audit-export-csv').addEventListener('click', () => exportEvents('csv'));
$('audit-export-json').addEventListener('click', () => exportEvents('json'));

async function exportEvents(format) {
  if (exporting) return;
  exporting = true;
  const buttons = [$('audit-export-csv'), $('audit-export-json')];
  for (const button of buttons) button.setAttribute('aria-disabled', 'true');
  const progress = $('audit-export-status');
  const { action, keyId } = filter;
  const query = currentQuery();
  const events = [];
  try {
    let cursor = null;
    do {
      progress.textContent = `Exporting… ${events.length} events so far.`;
      const page = await api.listAuditEvents({ ...query, cursor, limit: 100 });
      events.push(...page.data);
      cursor = page.next_cursor;
    } while (cursor);
    const text = format === 'csv' ? toCsv(events) : `${JSON.stringify(events, null, 2)}\n`;
    const type = format === 'csv' ? 'text/csv;charset=utf-8' : 'application/json';
    download(text, type, `${exportName(action, keyId)}.${format}`);
    progress.textContent = '';
    notify(`Exported ${events.length} ${events.length === 1 ? 'event' : 'events'} as ${format.toUpperCase()}.`);
  } catch (error) {
    progress.textContent = '';
    if (!(error instanceof api.ApiError)) throw error;
    if (api.hasSession()) notify(`The export failed. ${reason(error)}`, { error: true });
  } finally {
    exporting = false;
    for (const button of buttons) button.removeAttribute('aria-disabled');
  }
}

/** RFC 4180: every field quoted, quotes doubled, CRLF; a BOM so spreadsheets read UTF-8. */
export function toCsv(events) {
  const lines = [EXPORT_FIELDS, ...events.map((event) => EXPORT_FIELDS.map((field) => event[field]))];
  return `\ufeff${lines.map((cells) => cells.map(csvCell).join(',')).join('\r\n')}\r\n`;
}

/**
 * One quoted cell. Text a spreadsheet would run as a formula (starting with
 * = + - @, a tab or a carriage return) is defused with a leading '.
 */
function csvCell(value) {
  let text = value === null || value === undefined ? '' : String(value);
  // A list (an update's changes) or an object (a limits change) as the JSON
  // it is; an empty list as nothing.
  if (Array.isArray(value)) text = value.length ? JSON.stringify(value) : '';
  else if (value && typeof value === 'object') text = JSON.stringify(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return `"${text.replace(/"/g, '""')}"`;
}

function exportName(action, keyId) {
  const stamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '');
  return ['keygate-audit', session.me?.org_id, action, keyId, stamp].filter(Boolean).join('-');
}

function download(text, type, name) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = h('a', { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// One key's History panel

const historyStatus = $('history-status');
const history = pagedList({
  list: $('history-list'),
  empty: $('history-empty'),
  error: $('history-error'),
  more: $('history-more'),
  noun: 'event',
  render: eventItem,
  announce: (text) => {
    historyStatus.textContent = text;
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
  historyStatus.textContent = '';
  const opened = openModal(historyDialog, { initialFocus: historyDialog.querySelector('[data-close]') });
  history.show((cursor) => api.listAuditEvents({ keyId: record.id, cursor }));
  return opened;
}

export function resetAudit() {
  auditLog.reset();
  history.reset();
  keyChoices = null;
}
