// A list that loads page by page through an API's next_cursor: the keys
// table and both views of the audit trail.

import * as api from './api.js';
import { replaceChildren } from './dom.js';
import { notify } from './toast.js';
import { reason } from './errors.js';

/**
 * `list` receives `render(item)` for each item; `empty`, `error` and `more`
 * are the empty state, the error line and the "Load more" button. `noun`
 * names one item ("key"). `onLoaded(elements, append, items, page)` runs after each page;
 * `announce(text)` says how many more arrived (default: a toast; a list in a
 * dialog says it inside the dialog, above which no toast shows).
 * `show(fetchPage)` starts over; `fetchPage(cursor)` answers `{data, next_cursor}`.
 */
export function pagedList({ list, empty, error, more, render, noun, onLoaded = () => {}, announce = notify }) {
  const state = { cursor: null, ticket: 0, fetchPage: null };
  const plural = `${noun}s`;

  function refreshEmpty() {
    const none = list.children.length === 0;
    empty.hidden = !none;
    (list.closest('table') ?? list).hidden = none;
  }

  async function load(append) {
    const ticket = ++state.ticket;
    list.setAttribute('aria-busy', 'true');
    more.setAttribute('aria-disabled', 'true');
    error.hidden = true;
    try {
      const page = await state.fetchPage(append ? state.cursor : null);
      if (ticket !== state.ticket) return;
      const items = page.data.flatMap((item) => render(item));
      if (append) list.append(...items);
      else replaceChildren(list, items);
      state.cursor = page.next_cursor;
      more.hidden = !state.cursor;
      refreshEmpty();
      if (append) announce(`Loaded ${page.data.length} more ${page.data.length === 1 ? noun : plural}.`);
      onLoaded(items, append, page.data, page);
    } catch (failure) {
      if (ticket !== state.ticket || !api.hasSession()) return;
      error.textContent = `The ${plural} could not be loaded. ${reason(failure)}`;
      error.hidden = false;
    } finally {
      if (ticket === state.ticket) {
        list.removeAttribute('aria-busy');
        more.removeAttribute('aria-disabled');
      }
    }
  }

  // aria-disabled keeps the button focusable but does not stop clicks: a
  // click while a page loads would follow the previous list's cursor.
  more.addEventListener('click', () => {
    if (more.getAttribute('aria-disabled') !== 'true') load(true);
  });

  return {
    show(fetchPage) {
      state.fetchPage = fetchPage;
      state.cursor = null;
      more.hidden = true;
      return load(false);
    },
    /** Forgets every item; a page still loading is dropped when it arrives. */
    reset() {
      state.ticket += 1;
      state.cursor = null;
      replaceChildren(list);
      more.hidden = true;
      empty.hidden = true;
      error.hidden = true;
    },
    /** After rows were added or removed in place. */
    refreshEmpty,
  };
}
