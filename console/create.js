// The Create key dialog. The scope picker is built from GET /v1/scopes; what
// the signed-in key may not grant is shown disabled, with the reason. The API
// still decides: its errors appear next to the field they name.

import * as api from './api.js';
import { $, h, replaceChildren } from './dom.js';
import { formDialog } from './dialogs.js';
import { PRESET_NAMES, formatDate, presetName, toRfc3339 } from './format.js';
import { session } from './session.js';

const dialog = $('create-dialog');
const form = $('create-form');

const DAY_MS = 86400 * 1000;

form.addEventListener('change', (event) => {
  if (['key_type', 'access', 'expires'].includes(event.target.name)) showDependentFields();
});

/** Opens the dialog; resolves to the created record (with its `key`) or null. */
export function createKeyDialog() {
  return formDialog(dialog, {
    action: 'create',
    keyName: () => form.elements.name.value.trim() || 'the key',
    prepare,
    initialFocus: () => form.elements.name,
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

  const tomorrow = new Date(Date.now() + DAY_MS);
  $('create-expires-date').min = localDate(tomorrow);
  $('create-expires-hint').textContent = session.me.expires_at
    ? `Your key expires on ${formatDate(session.me.expires_at)}; a key it creates cannot outlive it, and “Never” means that date.`
    : '';
  showDependentFields();
}

function showDependentFields() {
  const isUser = form.elements.key_type.value === 'user';
  $('create-owner-field').hidden = !isUser;
  $('scope-picker').hidden = form.elements.access.value !== 'scoped';
  $('create-expires-date-field').hidden = form.elements.expires.value !== 'date';
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
          onclick: () => {
            if (missing.length === 0) fillPreset(presets[id]);
          },
        },
        presetName(id),
      );
    });
  replaceChildren($('preset-buttons'), h('span', { class: 'presets-label' }, 'Presets:'), presetButtons);

  const groups = resources.map(({ resource, scopes }) =>
    h(
      'fieldset',
      { class: 'scope-group' },
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
          h('span', {}, scope.slice(scope.indexOf(':') + 1)),
        );
      }),
    ),
  );
  replaceChildren($('scope-groups'), groups);
}

function fillPreset(scopes) {
  for (const box of form.querySelectorAll('input[name=scope]')) {
    box.checked = !box.disabled && scopes.includes(box.value);
  }
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
  return body;
}

/** "never" → null; "30" → now + 30 days; "date" → the end of that local day. */
function expiry(choice, date) {
  if (choice === 'never') return null;
  if (choice === 'date') {
    // An empty date is sent as given so that the API names the field.
    if (!date) return '';
    const [year, month, day] = date.split('-').map(Number);
    return toRfc3339(new Date(year, month - 1, day, 23, 59, 59));
  }
  return toRfc3339(new Date(Date.now() + Number(choice) * DAY_MS));
}

function localDate(date) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}
