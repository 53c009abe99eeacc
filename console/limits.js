// Usage limits: a key's rate limit and quota in words, the fields that set
// them (the create form's and the Limits dialog's, the same names in both),
// the Limits and Reset usage actions' dialogs, and a key's usage as its page
// and its row show it. The API decides every limit; the page checks only
// that a number is a whole number of requests.

import * as api from './api.js';
import { $, h } from './dom.js';
import { confirmDialog, formDialog } from './dialogs.js';
import { relativeTime } from './format.js';

/** The windows the form offers, in seconds, and what one is called. */
const WINDOWS = [
  [1, 'second'],
  [60, 'minute'],
  [3600, 'hour'],
  [86400, 'day'],
];

const count = new Intl.NumberFormat('en');

// The create form and the Limits dialog hold the same fields: one template,
// its "P-" ids (and the labels and descriptions naming them) made each
// form's own.
for (const slot of document.querySelectorAll('[data-limit-fields]')) {
  const fields = $('limit-fields').content.cloneNode(true);
  const own = (text) => text.replace(/\bP-/g, `${slot.dataset.limitFields}-`);
  for (const element of fields.querySelectorAll('[id], [for], [aria-describedby]')) {
    for (const name of ['id', 'for', 'aria-describedby']) {
      if (element.hasAttribute(name)) element.setAttribute(name, own(element.getAttribute(name)));
    }
  }
  slot.replaceWith(fields);
}

/** "per minute", "per 90 seconds". */
export function perWindow(seconds) {
  const named = WINDOWS.find(([length]) => length === seconds);
  if (named) return `per ${named[1]}`;
  for (const [length, unit] of [...WINDOWS].reverse()) {
    if (seconds % length === 0) return `per ${seconds / length} ${unit}s`;
  }
  return `per ${seconds} seconds`;
}

const requests = (n) => `${count.format(n)} ${n === 1 ? 'request' : 'requests'}`;

/** A key's limits in words, one line each: [] when it has none. */
export function describeLimits(limits) {
  const lines = [];
  if (limits?.rate) lines.push(`${requests(limits.rate.requests)} ${perWindow(limits.rate.window_seconds)}`);
  if (limits?.quota) lines.push(`${requests(limits.quota.requests)} per ${limits.quota.period}`);
  return lines;
}

/** The same, short enough for a table cell: "100/minute · 10,000/month". */
export function shortLimits(limits) {
  const parts = [];
  if (limits?.rate) parts.push(`${count.format(limits.rate.requests)}/${perWindow(limits.rate.window_seconds).slice(4)}`);
  if (limits?.quota) parts.push(`${count.format(limits.quota.requests)}/${limits.quota.period}`);
  return parts.join(' · ');
}

export const hasLimits = (record) => Boolean(record.limits?.rate || record.limits?.quota);

/**
 * One limit's usage in words: "42 of 100 used, 58 left; this window ends in
 * 30 seconds" (a rate limit's window slides: the count falls as it ends) or
 * "…; resets in 3 days" (a quota starts again with its period).
 */
export function describeUsage(usage, kind) {
  if (!usage) return null;
  const when = relativeTime(usage.resets_at);
  const at = when === 'just now' ? 'in a moment' : when;
  const tail = kind === 'rate' ? `this window ends ${at}` : `resets ${at}`;
  return `${count.format(usage.used)} of ${count.format(usage.limit)} used, ${count.format(usage.remaining)} left; ${tail}`;
}

/** Fills a form's limit fields from `limits` (empty: no limit). */
export function fillLimitFields(form, limits) {
  const fields = form.elements;
  fields.rate_requests.value = limits?.rate?.requests ?? '';
  const window = limits?.rate?.window_seconds ?? 60;
  const select = fields.rate_window;
  for (const option of select.querySelectorAll('option[data-added]')) option.remove();
  if (![...select.options].some((option) => Number(option.value) === window)) {
    select.append(h('option', { value: String(window), 'data-added': '' }, perWindow(window).slice(4)));
  }
  select.value = String(window);
  fields.quota_requests.value = limits?.quota?.requests ?? '';
  fields.quota_period.value = limits?.quota?.period ?? 'month';
}

/**
 * The page's own findings on a form's limit fields, under `rateField` and
 * `quotaField` (where their errors show).
 */
export function checkLimitFields(form, { rateField, quotaField }) {
  const problems = {};
  const check = (name, field, what) => {
    const text = form.elements[name].value.trim();
    if (text && !/^[1-9][0-9]*$/.test(text)) problems[field] = `${what} must be a whole number of requests, 1 or more (or empty: none).`;
  };
  check('rate_requests', rateField, 'The rate limit');
  check('quota_requests', quotaField, 'The quota');
  return problems;
}

/** The limits a form's fields say: `{rate?, quota?}`, empty for none. */
export function limitsFromFields(form) {
  const fields = form.elements;
  const limits = {};
  const rate = fields.rate_requests.value.trim();
  if (rate) limits.rate = { requests: Number(rate), window_seconds: Number(fields.rate_window.value) };
  const quota = fields.quota_requests.value.trim();
  if (quota) limits.quota = { requests: Number(quota), period: fields.quota_period.value };
  return limits;
}

/** Limits…: resolves to the key with its new limits, or null. */
export function limitsDialog(record) {
  let unchanged = false;
  return formDialog($('limits-dialog'), {
    action: 'set_limits',
    keyName: () => record.name,
    prepare: (form) => {
      $('limits-name').textContent = record.name;
      $('limits-shared').hidden = record.budget === record.id;
      fillLimitFields(form, record.limits);
    },
    initialFocus: () => $('limits-rate-requests'),
    validate: (form) => checkLimitFields(form, { rateField: 'rate', quotaField: 'quota' }),
    submit: async (form) => {
      const limits = limitsFromFields(form);
      unchanged = JSON.stringify(limits) === JSON.stringify(comparable(record.limits));
      return unchanged ? record : api.setLimits(record.id, limits);
    },
  }).then((updated) => (unchanged ? null : updated));
}

/** `limits` as the form would say them, to tell whether anything changed. */
function comparable(limits) {
  const same = {};
  if (limits?.rate) same.rate = { requests: limits.rate.requests, window_seconds: limits.rate.window_seconds };
  if (limits?.quota) same.quota = { requests: limits.quota.requests, period: limits.quota.period };
  return same;
}

/** Reset usage: asks first; resolves to the usage afterwards, or null. */
export async function resetUsageDialog(record) {
  const sure = await confirmDialog({
    title: `Reset the usage of “${record.name}”?`,
    message:
      record.budget === record.id
        ? 'Its counts go back to zero now: it may make its full rate and quota of requests again. The reset is recorded in the audit log.'
        : 'Its counts go back to zero now, for every key that shares its budget: each may make the full rate and quota of requests again. The reset is recorded in the audit log.',
    confirmLabel: 'Reset usage',
  });
  return sure ? api.resetUsage(record.id) : null;
}

/**
 * A key's usage, for a fact list: rate and quota lines, each "42 of 100
 * used…", as a list (or a note when the key has none).
 */
export function usageFacts(record, usage) {
  if (!hasLimits(record)) return 'None: the key may make any number of requests.';
  const lines = [];
  if (record.limits.rate) {
    lines.push(h('li', {}, h('strong', {}, `Rate: ${describeLimits({ rate: record.limits.rate })[0]}`), ' — ', usage ? describeUsage(usage.rate, 'rate') : 'usage unknown'));
  }
  if (record.limits.quota) {
    lines.push(h('li', {}, h('strong', {}, `Quota: ${describeLimits({ quota: record.limits.quota })[0]}`), ' — ', usage ? describeUsage(usage.quota, 'quota') : 'usage unknown'));
  }
  return h('ul', { class: 'limit-list' }, lines);
}
