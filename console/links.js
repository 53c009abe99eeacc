// Keys by name rather than by id: what the page has seen of each key (from
// the keys it listed and the events it read), and links between a rotated
// key and its successor that bring the other one into view.

import { bringIntoView, h } from './dom.js';

/** id → {name, hint?}: every key the page has seen, for naming it elsewhere. */
export const knownKeys = {
  names: new Map(),
  set(id, { name, hint = null }) {
    const known = this.names.get(id);
    this.names.set(id, { name, hint: hint ?? known?.hint ?? null });
  },
  get(id) {
    return this.names.get(id) ?? null;
  },
  clear() {
    this.names.clear();
  },
};

/** "“ci-deployer” (kg_...Q6E2)", or "a key (id 0354hGhY…)" when the page has not seen it. */
export function keyLabel(id) {
  const known = knownKeys.get(id);
  if (!known) return `a key not listed here (id ${id.slice(0, 8)}…)`;
  return known.hint ? `“${known.name}” (${known.hint})` : `“${known.name}”`;
}

/**
 * A link to the key this one was rotated `to` (its successor) or `from` (its
 * predecessor). In the keys table it brings that row into view; elsewhere, or
 * when the table does not show it, it opens that key's page.
 */
export function rotationLink(direction, id) {
  const text = direction === 'to' ? 'Rotated to ' : 'Rotated from ';
  return h(
    'span',
    { class: 'rotation', 'data-rotation': id, 'data-direction': direction, 'data-unknown': !knownKeys.get(id) },
    text,
    h('a', { href: `#key/${id}`, onclick: (event) => showRow(event, id) }, keyLabel(id)),
  );
}

/** Names the rotation links in `container` whose other key the page has come to know. */
export function refreshRotationLinks(container) {
  for (const link of container.querySelectorAll('[data-rotation][data-unknown]')) {
    if (knownKeys.get(link.dataset.rotation)) link.replaceWith(rotationLink(link.dataset.direction, link.dataset.rotation));
  }
}

/** A link to a key's page, named by what the page knows of it. */
export function keyLink(id, name = knownKeys.get(id)?.name) {
  return h('a', { href: `#key/${id}`, class: 'key-link' }, name ?? `key ${id.slice(0, 8)}…`);
}

function showRow(event, id) {
  const table = document.getElementById('keys-view');
  const row = table.hidden ? null : document.querySelector(`#keys-rows tr[data-key-id="${CSS.escape(id)}"]`);
  if (!row) return; // follow the link to the key's page
  event.preventDefault();
  bringIntoView(row);
  row.querySelector('.key-name').focus({ preventScroll: true });
}
