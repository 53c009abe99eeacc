// DOM helpers. Text from the API only ever enters the page as text nodes.

import { formatDateTime, relativeTime } from './format.js';

/** The element with this id. */
export const $ = (id) => document.getElementById(id);

/**
 * h('button', {class: 'primary', type: 'button', onclick: fn}, 'Save')
 * Strings and numbers among the children (arrays of them, at any depth)
 * become text nodes; null, undefined and false are skipped. Attribute values are set with setAttribute (true
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
  element.append(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return element;
}

/** Replaces an element's children. */
export function replaceChildren(element, ...children) {
  element.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
}

/** Focuses `element` if it is still in the page, else `fallback`. */
export function restoreFocus(element, fallback) {
  const target = element?.isConnected ? element : fallback;
  target?.focus();
}

/** Focuses the heading of the view on show (the page's one visible h1). */
export function focusView() {
  [...document.querySelectorAll('main h1')].find((heading) => heading.offsetParent !== null)?.focus();
}

/** A <time> for an API timestamp: `text` (default "5 minutes ago"), the full date on hover. */
export function timeElement(iso, text = relativeTime(iso)) {
  return h('time', { datetime: iso, title: formatDateTime(iso) }, text);
}

/** The absolute time with the relative one beside it: "1 Dec 2026, 13:58 (5 minutes ago)". */
export function timeWithRelative(iso) {
  if (!iso) return 'never';
  return h(
    'span',
    { class: 'when' },
    h('time', { datetime: iso }, formatDateTime(iso)),
    ' ',
    h('span', { class: 'relative' }, `(${relativeTime(iso)})`),
  );
}

export const prefersReducedMotion = () => window.matchMedia('(prefers-reduced-motion: reduce)').matches;

const HIGHLIGHT_MS = 4000;

/**
 * Scrolls `element` into view unless it is already wholly visible, and marks
 * it for a few seconds (a fading background, or a still one with reduced motion).
 */
export function bringIntoView(element, { highlight = true } = {}) {
  if (!element?.isConnected) return;
  const box = element.getBoundingClientRect();
  const visible = box.top >= 0 && box.bottom <= window.innerHeight;
  if (!visible) element.scrollIntoView({ block: 'center', behavior: prefersReducedMotion() ? 'auto' : 'smooth' });
  if (!highlight) return;
  element.classList.remove('is-highlighted');
  void element.offsetWidth; // restart the animation when marked again
  element.classList.add('is-highlighted');
  window.setTimeout(() => element.classList.remove('is-highlighted'), HIGHLIGHT_MS);
}
