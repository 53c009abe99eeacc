// Sign-in: paste a key that holds api-keys:read. api.js checks it by reading
// the key's own record and keeps it in sessionStorage for this tab only.
//
// The field is a text input masked by CSS (-webkit-text-security), not a
// password field: browsers offer to save what a submitted form's password
// field held, whatever autocomplete says, and an API key must not land among
// saved passwords. The trade: assistive technology treats it as plain text
// (a screen reader may speak what is typed), so "Show key" is offered and the
// page never echoes the key.

import * as api from './api.js';
import { $ } from './dom.js';
import { reason } from './errors.js';

const view = $('signin-view');
const form = $('signin-form');
const input = $('signin-key');
const message = $('signin-message');
const info = $('signin-info');
const show = $('signin-show');

let signedIn = () => {};

show.addEventListener('click', () => setShown(show.getAttribute('aria-pressed') !== 'true'));

function setShown(shown) {
  show.setAttribute('aria-pressed', String(shown));
  show.textContent = shown ? 'Hide key' : 'Show key';
  input.classList.toggle('masked', !shown);
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const key = input.value.trim();
  setMessage('');
  if (!key) {
    fail('Paste an API key to sign in.');
    return;
  }
  const submit = form.querySelector('[type=submit]');
  submit.setAttribute('aria-disabled', 'true');
  try {
    const record = await api.signIn(key);
    input.value = '';
    signedIn(record);
  } catch (error) {
    if (!(error instanceof api.ApiError)) throw error;
    fail(await whyRefused(key, error));
  } finally {
    submit.removeAttribute('aria-disabled');
  }
});

/**
 * Shows the sign-in form, with `text` saying why when the page was signed
 * out: tone "info" (you signed out) or "error" (the key was denied).
 */
export function showSignIn(text = '', tone = 'error') {
  view.hidden = false;
  input.value = '';
  setShown(false);
  input.removeAttribute('aria-invalid');
  setMessage(text, tone);
  input.focus();
}

export function hideSignIn() {
  view.hidden = true;
  setMessage('');
}

/** Called with the key's record once a key is accepted. */
export function onSignedIn(callback) {
  signedIn = callback;
}

// An error is an alert; information ("You signed out.") is a polite status.
function setMessage(text, tone = 'error') {
  message.textContent = tone === 'error' ? text : '';
  info.textContent = tone === 'error' ? '' : text;
}

function fail(text) {
  setMessage(text, 'error');
  input.setAttribute('aria-invalid', 'true');
  input.focus();
}

async function whyRefused(key, error) {
  if (error.code === 'malformed_key') {
    return 'That is not a keygate API key. A key is a short prefix, an underscore and 65 letters and digits, like kg_0354…';
  }
  if (error.gateway && error.status === 403) {
    // GET /v1/scopes accepts any valid key: it tells a denied key from one
    // that only lacks api-keys:read.
    if (await api.keyIsValid(key)) {
      return 'This key works, but it lacks api-keys:read, which the console needs. Sign in with a key that holds it.';
    }
    return 'keygate did not accept this key: it is mistyped, unknown, suspended, revoked or expired.';
  }
  return `Sign-in failed. ${reason(error)}`;
}
