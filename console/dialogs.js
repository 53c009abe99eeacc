// Modal dialogs: opening and closing with focus return, an in-page confirm,
// forms whose errors (the page's own checks, then the API's) land next to the
// field they name, and the dialogs for edit, rotate, revoke and delete.

import * as api from './api.js';
import { $, restoreFocus } from './dom.js';
import { describeFailure, sentence } from './errors.js';
import { session } from './session.js';

// Every [data-close] button closes its dialog.
for (const button of document.querySelectorAll('dialog [data-close]')) {
  button.addEventListener('click', () => button.closest('dialog').close());
}

// A field's error goes as soon as the field changes.
for (const form of document.querySelectorAll('dialog form')) {
  form.addEventListener('input', (event) => clearFieldError(event.target));
  form.addEventListener('change', (event) => clearFieldError(event.target));
}

/**
 * Opens `dialog` as a modal (the browser traps focus and closes it on
 * Escape); resolves once it closes, with focus back where it was.
 */
export function openModal(dialog, { initialFocus = null } = {}) {
  const opener = document.activeElement;
  dialog.showModal();
  initialFocus?.focus();
  return new Promise((resolve) => {
    dialog.addEventListener(
      'close',
      () => {
        restoreFocus(opener, $('main'));
        resolve();
      },
      { once: true },
    );
  });
}

const confirm = {
  dialog: $('confirm-dialog'),
  title: $('confirm-title'),
  message: $('confirm-message'),
  ok: $('confirm-ok'),
  cancel: $('confirm-cancel'),
};
confirm.ok.addEventListener('click', () => confirm.dialog.close('ok'));
confirm.cancel.addEventListener('click', () => confirm.dialog.close('cancel'));

/**
 * Asks before something that cannot be undone; resolves to true when
 * confirmed. The safe choice has focus; Escape is the safe choice.
 */
export async function confirmDialog({ title, message, confirmLabel, cancelLabel = 'Cancel' }) {
  confirm.title.textContent = title;
  confirm.message.textContent = message;
  confirm.ok.textContent = confirmLabel;
  confirm.cancel.textContent = cancelLabel;
  confirm.dialog.returnValue = '';
  await openModal(confirm.dialog, { initialFocus: confirm.cancel });
  return confirm.dialog.returnValue === 'ok';
}

/**
 * Runs a dialog's form: `validate(form)` returns the page's own findings
 * (`{field: message}`, empty when none), then `submit(form)` calls the API;
 * its result resolves the dialog. A failure stays in the dialog, next to the
 * field it names. Resolves to null when the dialog is cancelled.
 */
export async function formDialog(dialog, { action, keyName, prepare, validate, submit, initialFocus }) {
  const form = dialog.querySelector('form');
  form.reset();
  clearErrors(form);
  prepare?.(form);

  let result = null;
  let busy = false;
  const submitButton = form.querySelector('[type=submit]');
  const onSubmit = async (event) => {
    event.preventDefault();
    if (busy) return;
    clearErrors(form);
    const problems = Object.entries(validate?.(form) ?? {});
    if (problems.length > 0) {
      problems.forEach(([field, message], index) => showFieldError(form, field, message, index === 0));
      return;
    }
    busy = true;
    submitButton.setAttribute('aria-disabled', 'true');
    try {
      result = await submit(form);
      dialog.close();
    } catch (error) {
      if (!(error instanceof api.ApiError)) throw error;
      const shown = await showError(form, error, action, keyName(form));
      if (!shown) dialog.close();
    } finally {
      busy = false;
      submitButton.removeAttribute('aria-disabled');
    }
  };
  form.addEventListener('submit', onSubmit);
  await openModal(dialog, { initialFocus: initialFocus?.(form) });
  form.removeEventListener('submit', onSubmit);
  return result;
}

const FIELD_LABELS = {
  name: 'Name',
  description: 'Description',
  key_type: 'Key type',
  owner: 'Owner',
  permissions: 'Permissions',
  expires_at: 'The expiry date',
  reason: 'Reason',
  grace_period_seconds: 'The grace period',
  limits: 'The usage limits',
  rate: 'The rate limit',
  quota: 'The quota',
};

// Errors that name no field but belong to one.
const FIELDS_BY_CODE = { privilege_escalation: 'permissions', unknown_scope: 'permissions' };

/** Shows `error` in `form`; false when it ended the session instead. */
async function showError(form, error, action, keyName) {
  const field = limitField(error) ?? error.field ?? FIELDS_BY_CODE[error.code] ?? null;
  if (field && showFieldError(form, field, fieldMessage(field, error), true)) return true;
  const message = await describeFailure(error, action, keyName);
  if (message === null) return false;
  form.querySelector('[data-error-for="form"]').textContent = message;
  return true;
}

/** A create's `limits.rate…` or `limits.quota…` error belongs to that limit's field. */
function limitField(error) {
  return error.field === 'limits' ? (/^limits\.(rate|quota)\b/.exec(error.message)?.[1] ?? null) : null;
}

/** Puts `message` next to `field`'s control and marks it invalid; false when the form has no such field. */
function showFieldError(form, field, message, focus) {
  const slot = form.querySelector(`[data-error-for="${field}"]`);
  if (!slot) return false;
  slot.textContent = message;
  const control = [...form.querySelectorAll(`[aria-describedby~="${slot.id}"]:not(fieldset)`)]
    .find((element) => element.offsetParent !== null)
    ?? slot.closest('fieldset')?.querySelector('input:not(:disabled)');
  control?.setAttribute('aria-invalid', 'true');
  if (focus) control?.focus();
  return true;
}

function clearFieldError(control) {
  const described = [control, ...ancestors(control, 'fieldset')]
    .flatMap((element) => (element.getAttribute('aria-describedby') ?? '').split(/\s+/));
  for (const id of described) {
    const slot = id ? document.getElementById(id) : null;
    if (slot?.dataset.errorFor && slot.dataset.errorFor !== 'form') {
      slot.textContent = '';
      for (const marked of document.querySelectorAll(`[aria-describedby~="${id}"][aria-invalid]`)) {
        marked.removeAttribute('aria-invalid');
      }
    }
  }
  for (const fieldset of ancestors(control, 'fieldset')) {
    for (const marked of fieldset.querySelectorAll('[aria-invalid]')) marked.removeAttribute('aria-invalid');
  }
  control.removeAttribute('aria-invalid');
}

function ancestors(element, selector) {
  const found = [];
  for (let at = element.parentElement?.closest(selector); at; at = at.parentElement?.closest(selector)) found.push(at);
  return found;
}

function fieldMessage(field, error) {
  const problem = error.problem.replace(/[.\s]+$/, '');
  if (error.code === 'privilege_escalation') return `Your key ${problem}: a key can only grant scopes it holds.`;
  if (/^(is|must|are) /.test(problem)) return `${FIELD_LABELS[field] ?? field} ${problem}.`;
  return `${sentence(problem)}.`;
}

export function clearErrors(form) {
  for (const slot of form.querySelectorAll('[data-error-for]')) slot.textContent = '';
  for (const control of form.querySelectorAll('[aria-invalid]')) control.removeAttribute('aria-invalid');
}

/**
 * Edit: resolves to the key afterwards, or null. Sends only what changed;
 * an emptied description removes it. Saving nothing changed closes it.
 */
export function editDialog(record) {
  let unchanged = false;
  return formDialog($('edit-dialog'), {
    action: 'update',
    keyName: () => record.name,
    prepare: (form) => {
      form.elements.name.value = record.name;
      form.elements.description.value = record.description ?? '';
    },
    initialFocus: () => $('edit-name'),
    validate: (form) => (form.elements.name.value.trim() ? {} : { name: 'Name is required.' }),
    submit: async (form) => {
      const name = form.elements.name.value;
      const description = form.elements.description.value;
      const body = {};
      if (name !== record.name) body.name = name;
      if (description !== (record.description ?? '')) body.description = description || null;
      unchanged = Object.keys(body).length === 0;
      return unchanged ? record : api.updateKey(record.id, body);
    },
  }).then((updated) => (unchanged ? null : updated));
}

/** Rotate: resolves to `{successor, graceSeconds}` (the successor with its `key`) or null. */
export async function rotateDialog(record) {
  let graceSeconds = 0;
  const successor = await formDialog($('rotate-dialog'), {
    action: 'rotate',
    keyName: () => record.name,
    prepare: () => {
      $('rotate-name').textContent = record.name;
      $('rotate-own').hidden = !session.isMe(record.id);
    },
    initialFocus: () => $('rotate-grace'),
    submit: (form) => {
      const reason = form.elements.reason.value.trim();
      graceSeconds = Number(form.elements.grace_period_seconds.value);
      return api.rotateKey(record.id, {
        grace_period_seconds: graceSeconds,
        ...(reason ? { reason } : {}),
      });
    },
  });
  return successor && { successor, graceSeconds };
}

/** Revoke: resolves to the revoked record or null. The API requires the reason. */
export function revokeDialog(record) {
  return formDialog($('revoke-dialog'), {
    action: 'revoke',
    keyName: () => record.name,
    prepare: () => {
      $('revoke-name').textContent = record.name;
      $('revoke-own').hidden = !session.isMe(record.id);
      $('revoke-last').hidden = record.last_active_full_access !== true;
    },
    initialFocus: () => $('revoke-reason'),
    // An empty reason is left out, so the API answers "reason: is required".
    submit: (form) => api.revokeKey(record.id, form.elements.reason.value.trim() || undefined),
  });
}

/** Delete: resolves to true once deleted, or null. */
export function deleteDialog(record) {
  return formDialog($('delete-dialog'), {
    action: 'delete',
    keyName: () => record.name,
    prepare: () => {
      $('delete-name').textContent = record.name;
      $('delete-own').hidden = !session.isMe(record.id);
      $('delete-last').hidden = record.last_active_full_access !== true;
    },
    // The safe choice has focus; deleting takes a deliberate move.
    initialFocus: (form) => form.querySelector('[data-close]'),
    submit: async () => {
      await api.deleteKey(record.id);
      return true;
    },
  });
}
