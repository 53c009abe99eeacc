// Feedback where the user is: toasts fixed to the bottom of the window, in
// live regions that exist from page load (a region added with its message
// is often not announced). Successes are polite and fade after a while;
// failures are assertive and stay until dismissed. Open modal dialogs sit
// in the top layer, above every toast, so a toast never covers their buttons.

import { focusView, h } from './dom.js';

const polite = document.getElementById('toasts-status');
const assertive = document.getElementById('toasts-alert');

const SHOWN_MS = 8000;
const MAX_SHOWN = 3;

/**
 * Shows `message` as a toast. tone: "success" (default), "info" or "error".
 * Errors are announced at once and stay until dismissed.
 */
export function notify(message, { error = false, tone = error ? 'error' : 'success' } = {}) {
  const region = tone === 'error' ? assertive : polite;
  const dismiss = h('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss' }, '✕');
  const toast = h('div', { class: `toast toast-${tone}` }, h('p', { class: 'toast-text' }, message), dismiss);
  dismiss.addEventListener('click', () => remove(toast, true));
  for (const old of [...region.children].slice(0, Math.max(0, region.children.length - MAX_SHOWN + 1))) {
    remove(old, false);
  }
  region.append(toast);
  if (tone !== 'error') fadeLater(toast);
  return toast;
}

/** Removes every toast (at sign-out). */
export function clearNotices() {
  polite.replaceChildren();
  assertive.replaceChildren();
}

// A toast that is hovered or holds focus stays until the pointer or focus leaves.
function fadeLater(toast) {
  let timer = 0;
  const start = () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => remove(toast, false), SHOWN_MS);
  };
  const hold = () => window.clearTimeout(timer);
  toast.addEventListener('pointerenter', hold);
  toast.addEventListener('pointerleave', start);
  toast.addEventListener('focusin', hold);
  toast.addEventListener('focusout', start);
  start();
}

function remove(toast, byUser) {
  if (!toast.isConnected) return;
  // Focus on the dismiss button would be lost with it: hand it to the view's heading.
  if (byUser && toast.contains(document.activeElement)) focusView();
  toast.remove();
}
