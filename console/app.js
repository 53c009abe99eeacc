// The console's entry point: sign-in or the console, and the URL fragment
// (#keys, #keys/active, #audit, #audit/revoke) that picks the view.

import * as api from './api.js';
import { $, clearNotice } from './dom.js';
import { reason } from './errors.js';
import { hideAudit, resetAudit, showAudit } from './audit.js';
import { STATUSES, hideKeys, resetKeys, showKeys } from './keys.js';
import { session } from './session.js';
import { hideSignIn, onSignedIn, showSignIn } from './signin.js';

const DENIED =
  'keygate denied your key: it may have been suspended, revoked or expired. Sign in with a key that holds api-keys:read.';

api.onSessionEnded(() => session.end(DENIED));
session.onEnd(showSignedOut);
onSignedIn(enter);
$('sign-out').addEventListener('click', () => session.end('You signed out. This tab no longer holds your key.'));
window.addEventListener('hashchange', route);

start();

async function start() {
  if (!api.hasSession()) {
    document.title = 'Sign in · keygate';
    showSignIn();
    return;
  }
  try {
    await enter(await api.whoami());
  } catch (error) {
    if (api.hasSession()) session.end(`Your session could not be restored. ${reason(error)}`);
  }
}

/** Shows the console for the signed-in key (its own record). */
async function enter(me) {
  let catalog;
  try {
    catalog = await api.scopes();
  } catch (error) {
    if (api.hasSession()) session.end(`The scope catalog could not be loaded. ${reason(error)}`);
    return;
  }
  session.start(me, catalog);
  $('identity-org').textContent = me.org_id;
  $('identity-name').textContent = me.name;
  $('identity-hint').textContent = me.hint;
  $('identity').hidden = false;
  hideSignIn();
  $('console-view').hidden = false;
  route();
  document.querySelector('#console-view section:not([hidden]) h1')?.focus();
}

function showSignedOut(message) {
  for (const dialog of document.querySelectorAll('dialog[open]')) dialog.close();
  session.clear();
  resetKeys();
  resetAudit();
  clearNotice();
  $('identity').hidden = true;
  $('console-view').hidden = true;
  document.title = 'Sign in · keygate';
  showSignIn(message);
}

function route() {
  if (!session.me) return;
  const [section, filter] = window.location.hash.replace(/^#\/?/, '').split('/');
  const audit = section === 'audit';
  for (const link of document.querySelectorAll('.sections a')) {
    if ((link.dataset.section === 'audit') === audit) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (audit) {
    hideKeys();
    showAudit(filter);
    document.title = 'Audit log · keygate';
  } else {
    hideAudit();
    showKeys(STATUSES.includes(filter) ? filter : 'all');
    document.title = 'API keys · keygate';
  }
}
