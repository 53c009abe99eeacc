// The shown-once key. It lives only in this dialog's text while the dialog
// is open (never in storage, a URL or a log), with what it can do and how to
// use it. Closing before the key was copied asks first: the key cannot be
// shown again, and after a rotation without grace the old key is gone too.

import { $, h, replaceChildren, timeWithRelative } from './dom.js';
import { confirmDialog, openModal } from './dialogs.js';
import { describePermissions } from './format.js';
import { describeLimits } from './limits.js';
import { session } from './session.js';

const dialog = $('secret-dialog');
const value = $('secret-value');
const copied = $('secret-copied');
const SNIPPETS = ['snippet-curl', 'snippet-cli', 'snippet-actions'];

const state = { open: false, copied: false, closing: false, lostOnClose: '' };

for (const button of dialog.querySelectorAll('[data-copy]')) {
  button.addEventListener('click', () => copy($(button.dataset.copy), button));
}

// A copy by hand (the fallback selects the text) counts too.
dialog.addEventListener('copy', () => {
  if (String(window.getSelection()).includes(value.textContent)) state.copied = true;
});

// Escape would close the dialog at once: it asks instead. (Cancelling keydown
// stops the close request, which a cancelled `cancel` event does not always.)
dialog.addEventListener('keydown', (event) => {
  if (event.key !== 'Escape') return;
  event.preventDefault();
  requestClose();
});
dialog.addEventListener('cancel', (event) => {
  event.preventDefault();
  requestClose();
});
$('secret-close').addEventListener('click', requestClose);
$('secret-done').addEventListener('click', requestClose);

/**
 * Shows a new key once; resolves when the dialog has closed and the page has
 * forgotten it. `created` is the API's answer (the record with its `key`);
 * `lostOnClose` says what else is lost if the key is not stored.
 */
export async function showSecret(created, { title, subject, lostOnClose = '' }) {
  const { key, ...record } = created;
  $('secret-title').textContent = title;
  $('secret-for').textContent = subject;
  value.textContent = key;
  fillSummary(record);
  fillSnippets(key);
  copied.textContent = '';
  Object.assign(state, { open: true, copied: false, closing: false, lostOnClose });
  await openModal(dialog, { initialFocus: $('secret-copy') });
  state.open = false;
  value.textContent = '';
  for (const id of SNIPPETS) $(id).textContent = '';
  copied.textContent = '';
  window.getSelection()?.removeAllRanges();
}

async function requestClose() {
  if (!state.open || state.closing) return;
  if (!state.copied) {
    state.closing = true;
    const close = await confirmDialog({
      title: 'Close without copying the key?',
      message: `You have not copied the key, and it cannot be shown again.${state.lostOnClose ? ` ${state.lostOnClose}` : ''}`,
      confirmLabel: 'Close without copying',
      cancelLabel: 'Keep it open',
    });
    state.closing = false;
    if (!close) return;
  }
  dialog.close();
}

async function copy(source, button) {
  const text = source.textContent;
  const holdsKey = text.includes(value.textContent);
  try {
    await navigator.clipboard.writeText(text);
    copied.textContent = `${button.textContent.replace(/^Copy /, '').replace(/^./, (c) => c.toUpperCase())} copied to the clipboard.`;
    if (holdsKey) state.copied = true;
  } catch {
    window.getSelection().selectAllChildren(source);
    copied.textContent = 'The text is selected: press Ctrl+C (⌘C on a Mac) to copy it.';
  }
}

/** What the key can do: its permissions, its expiry and its usage limits. */
function fillSummary(record) {
  const { label, scopes } = describePermissions(record.scopes, session.catalog.presets);
  replaceChildren(
    $('secret-summary'),
    h('dt', {}, 'Permissions'),
    h('dd', {}, label, scopes ? h('span', { class: 'secondary' }, scopes.join(', ')) : null),
    h('dt', {}, 'Expires'),
    h('dd', {}, record.expires_at ? timeWithRelative(record.expires_at) : 'never'),
    h('dt', {}, 'Usage limits'),
    h('dd', {}, describeLimits(record.limits).join('; ') || 'none'),
  );
}

/** How to use the key: curl, the keygate command, GitHub Actions. The URL is this page's origin. */
function fillSnippets(key) {
  const origin = window.location.origin;
  $('snippet-curl').textContent = `curl -H "X-API-Key: ${key}" ${origin}/v1/scopes`;
  $('snippet-cli').textContent = `export KEYGATE_API_URL=${origin}\nexport KEYGATE_API_KEY=${key}`;
  $('snippet-actions').textContent =
    `env:\n  KEYGATE_API_URL: ${origin}\n  KEYGATE_API_KEY: \${{ secrets.KEYGATE_API_KEY }}`;
}
