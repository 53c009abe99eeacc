// How keys, scopes and times read on the page.

export const FULL_ACCESS = '*';

/** Display names of the API's presets, in the order the page offers them. */
export const PRESET_NAMES = {
  read_only: 'Read Only',
  run_evaluations: 'Run Evaluations',
  upload_conversations: 'Upload Conversations',
};

export function presetName(id) {
  return PRESET_NAMES[id] ?? id.replace(/_/g, ' ').replace(/\b\w/g, (c) => c.toUpperCase());
}

export const STATUS_LABELS = { active: 'Active', suspended: 'Suspended', revoked: 'Revoked' };

export const ACTION_LABELS = {
  create: 'Created',
  rotate: 'Rotated',
  suspend: 'Suspended',
  reactivate: 'Reactivated',
  revoke: 'Revoked',
  delete: 'Deleted',
  update: 'Edited',
  set_limits: 'Limits set',
  reset_usage: 'Usage reset',
  bootstrap: 'Bootstrapped',
};

export function isFullAccess(scopes) {
  return scopes.includes(FULL_ACCESS);
}

/** Whether a key with `held` scopes may grant `scope`. */
export function holdsScope(held, scope) {
  return isFullAccess(held) || held.includes(scope);
}

/**
 * How a key's permissions read: "Full access", a preset's name when the
 * scopes are exactly that preset's, else "N scopes" (with the list).
 */
export function describePermissions(scopes, presets = {}) {
  if (isFullAccess(scopes)) return { label: 'Full access', scopes: null };
  const sorted = [...scopes].sort().join(' ');
  for (const [id, presetScopes] of Object.entries(presets)) {
    if ([...presetScopes].sort().join(' ') === sorted) return { label: presetName(id), scopes };
  }
  const count = scopes.length;
  return { label: `${count} ${count === 1 ? 'scope' : 'scopes'}`, scopes };
}

const relative = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
// Each unit is used while the rounded count stays below its limit.
const UNITS = [
  ['minute', 60, 60],
  ['hour', 3600, 24],
  ['day', 86400, 7],
  ['week', 7 * 86400, 4.35],
  ['month', 30.44 * 86400, 12],
  ['year', 365.25 * 86400, Infinity],
];

/** "5 minutes ago", "in 3 days", "yesterday", "just now"; "never" for null. */
export function relativeTime(iso, now = Date.now()) {
  if (!iso) return 'never';
  const seconds = (Date.parse(iso) - now) / 1000;
  if (Math.abs(seconds) < 45) return 'just now';
  for (const [unit, size, limit] of UNITS) {
    const count = Math.round(seconds / size);
    if (Math.abs(count) < limit) return relative.format(count, unit);
  }
  return formatDate(iso);
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export function formatDate(iso) {
  return dateFormat.format(new Date(iso));
}

export function formatDateTime(iso) {
  return dateTimeFormat.format(new Date(iso));
}

const WEEK_MS = 7 * 86400 * 1000;

/** "past", "soon" (within 7 days) or null for no expiry or a distant one. */
export function expiryUrgency(iso, now = Date.now()) {
  if (!iso) return null;
  const left = Date.parse(iso) - now;
  if (left <= 0) return 'past';
  return left <= WEEK_MS ? 'soon' : null;
}

/** RFC 3339 in UTC with whole seconds, as the API writes times. */
export function toRfc3339(date) {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
