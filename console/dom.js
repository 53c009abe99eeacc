// DOM helpers. Text from the API only ever enters the page as text nodes.

import { formatDateTime, relativeTime } from './format.js';

/** The element with this id. */
export const $ = (id) => document.getElementById(id);

/**
 * h('button', {class: 'primary', type: 'button', onclick: fn}, 'Save')
 * Strings and numbers among the children become text nodes; null, undefined
 * and false are skipped. Attribute values are set with setAttribute (true
 * means present, false or null means absent); on* props add listeners.
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2), value);
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  element.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return element;
}

/** Replaces an element's children. */
export function replaceChildren(element, ...children) {
  element.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

let noticeTimer = 0;

/**
 * Shows a message in the page's notice bar, which is also a polite live
 * region. Errors stay until the next message; confirmations fade after a while.
 */
export function notify(message, { error = false } = {}) {
  const notice = document.getElementById('notice');
  window.clearTimeout(noticeTimer);
  notice.classList.toggle('is-error', error);
  notice.textContent = message;
  if (!error) {
    noticeTimer = window.setTimeout(() => {
      notice.textContent = '';
    }, 10000);
  }
}

export function clearNotice() {
  window.clearTimeout(noticeTimer);
  document.getElementById('notice').textContent = '';
}

/** Focuses `element` if it is still in the page, else `fallback`. */
export function restoreFocus(element, fallback) {
  const target = element?.isConnected ? element : fallback;
  target?.focus();
}

/** A <time> for an API timestamp: `text` (default "5 minutes ago"), the full date on hover. */
export function timeElement(iso, text = relativeTime(iso)) {
  return h('time', { datetime: iso, title: formatDateTime(iso) }, text);
}
