// The Create key dialog. The page checks what it can (lengths, required
// fields, at least one scope, an expiry in the future, whole numbers of
// requests for limits) before calling the API; the API still decides, and its
// errors appear next to the field they name. The scope picker is built from GET /v1/scopes; what the signed-in key
// may not grant is shown disabled, with the reason.

import * as api from './api.js';
import { $, h, replaceChildren } from './dom.js';
import { formDialog } from './dialogs.js';
import { PRESET_NAMES, formatDate, presetName, toRfc3339 } from './format.js';
import { checkLimitFields, fillLimitFields, hasLimits, limitsFromFields } from './limits.js';
import { session } from './session.js';

const dialog = $('create-dialog');
const form = $('create-form');

const DAY_MS = 86400 * 1000;

form.addEventListener('change', (event) => {
  if (['key_type', 'access', 'expires'].includes(event.target.name)) showDependentFields();
  if (event.target.name === 'scope') showAppliedPreset();
});

/** Opens the dialog; resolves to the created record (with its `key`) or null. */
export function createKeyDialog() {
  return formDialog(dialog, {
    action: 'create',
    keyName: () => form.elements.name.value.trim() || 'the key',
    prepare,
    initialFocus: () => form.elements.name,
    validate,
    submit: () => api.createKey(requestBody()),
  });
}

function prepare() {
  buildScopePicker();
  const full = form.querySelector('input[name=access][value=full]');
  full.disabled = !session.fullAccess;
  $('create-full-choice').classList.toggle('is-disabled', full.disabled);
  $('create-full-choice').title = full.disabled ? 'Only a full-access key can create a full-access key.' : '';
  form.querySelector(`input[name=access][value=${full.disabled ? 'scoped' : 'full'}]`).checked = true;
  $('create-permissions-note').textContent = full.disabled
    ? 'Full access is unavailable: only a full-access key can create one. Scopes your key does not hold are disabled.'
    : '';

  $('create-expires-date').min = localDate(new Date());
  $('create-expires-hint').textContent = session.me.expires_at
    ? `Your key expires on ${formatDate(session.me.expires_at)}; a key it creates cannot outlive it, and “Never” means that date.`
    : '';
  fillLimitFields(form, null);
  $('create-limits-note').hidden = !hasLimits(session.me);
  showDependentFields();
}

function showDependentFields() {
  const isUser = form.elements.key_type.value === 'user';
  $('create-owner-field').hidden = !isUser;
  $('scope-picker').hidden = form.elements.access.value !== 'scoped';
  $('create-expires-date-field').hidden = form.elements.expires.value !== 'date';
}

/** What the page can tell before asking the API: `{field: message}`. */
function validate() {
  const fields = form.elements;
  const problems = {};
  const name = [...fields.name.value.trim()].length;
  if (name === 0) problems.name = 'Name is required: 1–100 characters.';
  else if (name > 100) problems.name = `Name must be 1–100 characters (it has ${name}).`;
  const description = [...fields.description.value.trim()].length;
  if (description > 500) problems.description = `Description must be at most 500 characters (it has ${description}).`;
  if (fields.key_type.value === 'user' && !fields.owner.value.trim()) {
    problems.owner = 'Owner is required for a user key: the person it belongs to.';
  }
  if (fields.access.value === 'scoped' && !form.querySelector('input[name=scope]:checked')) {
    problems.permissions = 'Pick at least one scope, or choose Full access.';
  }
  if (fields.expires.value === 'date' && fields.expires_date.value) {
    const end = endOfDay(fields.expires_date.value);
    if (Number.isNaN(end.getTime())) problems.expires_at = 'The expiry date is not a date.';
    else if (end.getTime() <= Date.now()) problems.expires_at = 'The expiry date must be in the future.';
  }
  return { ...problems, ...checkLimitFields(form, { rateField: 'rate', quotaField: 'quota' }) };
}

function buildScopePicker() {
  const { resources, presets } = session.catalog;
  const ungrantable = 'Your key does not hold this scope, so it cannot grant it.';

  const presetButtons = Object.keys({ ...PRESET_NAMES, ...presets })
    .filter((id) => presets[id])
    .map((id) => {
      const missing = presets[id].filter((scope) => !session.holds(scope));
      return h(
        'button',
        {
          type: 'button',
          class: 'button small',
          'aria-disabled': missing.length > 0 ? 'true' : null,
          title: missing.length > 0 ? `Your key cannot grant ${missing.join(', ')}.` : `Select the ${presetName(id)} scopes.`,
          'aria-pressed': 'false',
          'data-preset': id,
          onclick: () => {
            if (missing.length === 0) fillPreset(presets[id]);
          },
        },
        presetName(id),
      );
    });
  replaceChildren($('preset-buttons'), h('span', { class: 'presets-label' }, 'Presets:'), presetButtons);

  const groups = resources.map(({ resource, description, scopes }) =>
    h(
      'fieldset',
      { class: 'scope-group', title: description || null },
      h('legend', {}, resource),
      scopes.map((scope) => {
        const allowed = session.holds(scope);
        return h(
          'label',
          { class: allowed ? 'scope' : 'scope is-disabled', title: allowed ? null : ungrantable },
          h('input', {
            type: 'checkbox',
            name: 'scope',
            value: scope,
            disabled: !allowed,
            title: allowed ? null : ungrantable,
          }),
          h(
            'span',
            { class: 'scope-text' },
            scope.slice(scope.indexOf(':') + 1),
            scopeDescription(scope) ? h('span', { class: 'scope-description' }, scopeDescription(scope)) : null,
          ),
        );
      }),
    ),
  );
  replaceChildren($('scope-groups'), groups);
  showAppliedPreset();
}

/**
 * What a scope allows, in words, from the catalog the deployer wrote; `null`
 * when the catalog says nothing about it.
 */
function scopeDescription(scope) {
  for (const { actions = [] } of session.catalog.resources) {
    const action = actions.find((a) => a.scope === scope);
    if (action) return action.description || null;
  }
  return null;
}

function fillPreset(scopes) {
  for (const box of form.querySelectorAll('input[name=scope]')) {
    box.checked = !box.disabled && scopes.includes(box.value);
  }
  form.querySelector('input[name=scope]')?.dispatchEvent(new Event('change', { bubbles: true }));
}

/**
 * Which preset the picked scopes are: pressed on its button and said in
 * words. A scope changed by hand makes it "custom" unless the picks happen
 * to be a preset's again.
 */
function showAppliedPreset() {
  const picked = [...form.querySelectorAll('input[name=scope]:checked')].map((box) => box.value).sort().join(' ');
  const { presets } = session.catalog;
  const applied = Object.keys(presets).find((id) => [...presets[id]].sort().join(' ') === picked) ?? null;
  for (const button of form.querySelectorAll('[data-preset]')) {
    button.setAttribute('aria-pressed', String(button.dataset.preset === applied));
  }
  $('preset-status').textContent = applied
    ? `Preset applied: ${presetName(applied)}.`
    : picked
      ? 'Custom scopes: no preset applies.'
      : 'No scopes picked yet: pick some, or fill with a preset.';
}

/** The POST /v1/api-keys body, as the form says. */
function requestBody() {
  const fields = form.elements;
  const body = { name: fields.name.value.trim(), key_type: fields.key_type.value };
  const description = fields.description.value.trim();
  if (description) body.description = description;
  const owner = fields.owner.value.trim();
  if (body.key_type === 'user' && owner) body.owner = owner;
  body.permissions = fields.access.value === 'full'
    ? 'full'
    : [...form.querySelectorAll('input[name=scope]:checked')].map((box) => box.value);
  const expiresAt = expiry(fields.expires.value, fields.expires_date.value);
  if (expiresAt !== null) body.expires_at = expiresAt;
  const limits = limitsFromFields(form);
  if (Object.keys(limits).length > 0) body.limits = limits;
  return body;
}

/** "never" → null; "30" → now + 30 days; "date" → the end of that local day; no date → null (never). */
function expiry(choice, date) {
  if (choice === 'never') return null;
  if (choice === 'date') return date ? toRfc3339(endOfDay(date)) : null;
  return toRfc3339(new Date(Date.now() + Number(choice) * DAY_MS));
}

/** The last second of a local day given as YYYY-MM-DD. */
function endOfDay(date) {
  const [year, month, day] = date.split('-').map(Number);
  return new Date(year, month - 1, day, 23, 59, 59);
}

function localDate(date) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}
