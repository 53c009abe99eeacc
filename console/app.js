// The console's entry point: sign-in or the console, and the URL fragment
// that picks the view: #keys, #keys/active?name=ci, #key/<id>, #audit,
// #audit/revoke?key=<id>&actor=<id>&from=<date>&to=<date>, #reference,
// #reference/<anchor>. The API reference
// is readable signed out too.

import * as api from './api.js';
import { $, focusView } from './dom.js';
import { clearNotices } from './toast.js';
import { reason } from './errors.js';
import { routeScopes } from './capabilities.js';
import { hideAudit, resetAudit, showAudit } from './audit.js';
import { hideKey, resetKey, showKey } from './details.js';
import { STATUSES, hideKeys, resetKeys, showKeys } from './keys.js';
import { hideReference, resetReference, showReference } from './reference.js';
import { knownKeys } from './links.js';
import { session } from './session.js';
import { hideSignIn, onSignedIn, showSignIn } from './signin.js';

const DENIED =
  'keygate denied your key: it may have been suspended, revoked or expired. Sign in with a key that holds api-keys:read.';

api.onSessionEnded(() => session.end(DENIED));
session.onEnd(showSignedOut);
onSignedIn(enter);
$('sign-out').addEventListener('click', () =>
  session.end('You signed out. This tab no longer holds your key.', { tone: 'info' }),
);
let shownSection = null;
window.addEventListener('hashchange', () => {
  // A link in the History panel leads to another view: the panel closes.
  if ($('history-dialog').open) $('history-dialog').close();
  const before = shownSection;
  route();
  // A new view takes focus to its heading; a new filter or tab leaves it where it is.
  if (shownSection !== before || shownSection === 'key') focusView();
});

start();

async function start() {
  if (!api.hasSession()) {
    showSignedOutView();
    return;
  }
  try {
    await enter(await api.whoami());
  } catch (error) {
    if (api.hasSession()) session.end(`Your session could not be restored. ${reason(error)}`);
  }
}

/**
 * Shows the console for the signed-in key (its own record), once the scope
 * catalog and the OpenAPI document (the scope each route needs) are read.
 */
async function enter(me) {
  let catalog;
  let document = null;
  try {
    [catalog, document] = await Promise.all([
      api.scopes(),
      // Without the document every action is offered and the API decides.
      api.openApiDocument().catch(() => null),
    ]);
  } catch (error) {
    if (api.hasSession()) session.end(`The scope catalog could not be loaded. ${reason(error)}`);
    return;
  }
  session.start(me, catalog, routeScopes(document));
  resetReference();
  $('identity-org').textContent = me.org_id;
  $('identity-name').textContent = me.name;
  $('identity-hint').textContent = me.hint;
  $('identity').hidden = false;
  hideSignIn();
  $('console-view').hidden = false;
  route();
  focusView();
}

function showSignedOut(message, tone) {
  for (const dialog of document.querySelectorAll('dialog[open]')) dialog.close();
  session.clear();
  resetKeys();
  resetKey();
  resetAudit();
  resetReference();
  knownKeys.clear();
  clearNotices();
  $('identity').hidden = true;
  $('console-view').hidden = true;
  // Signing out from the reference returns to sign-in (without a hashchange,
  // which would show sign-in again without the message).
  if (parse().section === 'reference') window.history.replaceState(null, '', window.location.pathname);
  showSignedOutView(message, tone);
}

/** Sign-in, or the API reference when the fragment asks for it. */
function showSignedOutView(message = '', tone = 'error') {
  const { section, rest } = parse();
  shownSection = section === 'reference' ? 'reference' : 'signin';
  if (section === 'reference') {
    hideSignIn();
    document.title = 'API reference · keygate';
    showReference(rest[0]);
    return;
  }
  hideReference();
  document.title = 'Sign in · keygate';
  showSignIn(message, tone);
}

/** The fragment: #section/rest…?query */
function parse() {
  const [path, query = ''] = window.location.hash.replace(/^#\/?/, '').split('?');
  const [section, ...rest] = path.split('/').map(decodeURIComponent);
  return { section, rest, query: new URLSearchParams(query) };
}

function route() {
  if (!session.me) {
    showSignedOutView();
    return;
  }
  const { section, rest, query } = parse();
  const current = ['audit', 'reference'].includes(section) ? section : 'keys';
  shownSection = section === 'key' ? 'key' : current;
  for (const link of document.querySelectorAll('.sections a')) {
    if (link.dataset.section === current) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  hideKeys();
  hideKey();
  hideAudit();
  hideReference();
  if (section === 'audit') {
    showAudit({
      action: rest[0] ?? null,
      keyId: query.get('key'),
      actorId: query.get('actor'),
      from: query.get('from'),
      to: query.get('to'),
    });
    document.title = 'Audit log · keygate';
  } else if (section === 'reference') {
    showReference(rest[0]);
    document.title = 'API reference · keygate';
  } else if (section === 'key' && rest[0]) {
    showKey(rest[0]);
  } else {
    showKeys(STATUSES.includes(rest[0]) ? rest[0] : 'all', query);
    document.title = 'API keys · keygate';
  }
}
