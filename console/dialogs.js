// Modal dialogs: opening and closing with focus return, forms whose API
// errors land next to the field they name, and the dialogs for shown-once
// keys, rotate, revoke and delete.

import * as api from './api.js';
import { $, restoreFocus } from './dom.js';
import { describeFailure, sentence } from './errors.js';


// Every [data-close] button closes its dialog.
for (const button of document.querySelectorAll('dialog [data-close]')) {
  button.addEventListener('click', () => button.closest('dialog').close());
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

/**
 * Runs a dialog's form: `submit(form)` calls the API; its result resolves
 * the dialog. A failure stays in the dialog, next to the field it names.
 * Resolves to null when the dialog is cancelled.
 */
export async function formDialog(dialog, { action, keyName, prepare, submit, initialFocus }) {
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
    busy = true;
    submitButton.setAttribute('aria-disabled', 'true');
    clearErrors(form);
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
};

// Errors that name no field but belong to one.
const FIELDS_BY_CODE = { privilege_escalation: 'permissions', unknown_scope: 'permissions' };

/** Shows `error` in `form`; false when it ended the session instead. */
async function showError(form, error, action, keyName) {
  const field = error.field ?? FIELDS_BY_CODE[error.code] ?? null;
  const slot = field && form.querySelector(`[data-error-for="${field}"]`);
  if (slot) {
    slot.textContent = fieldMessage(field, error);
    const control = form.querySelector(`[aria-describedby~="${slot.id}"]:not(fieldset)`)
      ?? slot.closest('fieldset')?.querySelector('input:not(:disabled)');
    control?.setAttribute('aria-invalid', 'true');
    control?.focus();
    return true;
  }
  const message = await describeFailure(error, action, keyName);
  if (message === null) return false;
  form.querySelector('[data-error-for="form"]').textContent = message;
  return true;
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

// Shown-once key: the key lives only in this dialog's text while it is open.

const secret = {
  dialog: $('secret-dialog'),
  value: $('secret-value'),
  copied: $('secret-copied'),
};

$('secret-copy').addEventListener('click', async () => {
  try {
    await navigator.clipboard.writeText(secret.value.textContent);
    secret.copied.textContent = 'Copied to the clipboard.';
  } catch {
    window.getSelection().selectAllChildren(secret.value);
    secret.copied.textContent = 'The key is selected: press Ctrl+C (⌘C on a Mac) to copy it.';
  }
});

/** Shows a new key once; when the dialog closes the page forgets it. */
export async function showSecret(key, { title, subject }) {
  $('secret-title').textContent = title;
  $('secret-for').textContent = subject;
  secret.value.textContent = key;
  secret.copied.textContent = '';
  await openModal(secret.dialog, { initialFocus: $('secret-copy') });
  secret.value.textContent = '';
  secret.copied.textContent = '';
  window.getSelection()?.removeAllRanges();
}

/** Rotate: resolves to the successor (with its `key`) or null. */
export function rotateDialog(record) {
  return formDialog($('rotate-dialog'), {
    action: 'rotate',
    keyName: () => record.name,
    prepare: () => {
      $('rotate-name').textContent = record.name;
    },
    initialFocus: () => $('rotate-grace'),
    submit: (form) => {
      const reason = form.elements.reason.value.trim();
      return api.rotateKey(record.id, {
        grace_period_seconds: Number(form.elements.grace_period_seconds.value),
        ...(reason ? { reason } : {}),
      });
    },
  });
}

/** Revoke: resolves to the revoked record or null. The API requires the reason. */
export function revokeDialog(record) {
  return formDialog($('revoke-dialog'), {
    action: 'revoke',
    keyName: () => record.name,
    prepare: () => {
      $('revoke-name').textContent = record.name;
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
    },
    // The safe choice has focus; deleting takes a deliberate move.
    initialFocus: (form) => form.querySelector('[data-close]'),
    submit: async () => {
      await api.deleteKey(record.id);
      return true;
    },
  });
}
