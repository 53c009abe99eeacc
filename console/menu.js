// A menu button (WAI-ARIA APG "menu button"): Enter, Space or ArrowDown opens
// the menu on its first item, ArrowUp on its last; arrows, Home and End move;
// a letter jumps; Enter or Space picks; Escape closes; focus returns to the button.

import { h } from './dom.js';

let openMenu = null;
let menuCount = 0;

/**
 * items: [{label, onSelect, danger?, disabled?, reason?}], where `disabled` is
 * the reason an item cannot be chosen, in a few words (shown under it, once
 * when several items in a row share it; the item stays focusable) and
 * `reason` the whole sentence, when longer (each item's accessible
 * description),
 * and the string 'separator' draws a line. `text` is the button's visible
 * text (default ⋯, its name then is `label`). Returns the wrapper element
 * holding the button and its (hidden) menu.
 */
export function menuButton({ label, text = '⋯', items, buttonClass = 'button icon' }) {
  const id = `menu-${++menuCount}`;
  const button = h(
    'button',
    {
      type: 'button',
      class: `${buttonClass} menu-button`,
      'aria-haspopup': 'menu',
      'aria-expanded': 'false',
      'aria-controls': id,
      'aria-label': text === '⋯' ? label : null,
    },
    text === '⋯' ? h('span', { 'aria-hidden': 'true' }, text) : text,
  );
  const choices = items.filter((item) => item !== 'separator');
  let shown = null; // the reason last shown, so the next item with it need not repeat it
  const menuItems = choices.map((item, index) => {
    const reasonId = item.disabled ? `${id}-reason-${index}` : null;
    const showReason = Boolean(item.disabled) && item.disabled !== shown;
    shown = item.disabled ? item.disabled : null;
    return h(
      'button',
      {
        type: 'button',
        role: 'menuitem',
        tabindex: '-1',
        class: item.danger ? 'menu-item danger' : 'menu-item',
        'aria-disabled': item.disabled ? 'true' : null,
        'aria-describedby': reasonId,
      },
      h('span', { class: 'menu-item-label' }, item.label),
      showReason ? h('span', { class: 'menu-item-reason', 'aria-hidden': 'true' }, item.disabled) : null,
      item.disabled ? h('span', { id: reasonId, class: 'visually-hidden' }, item.reason ?? item.disabled) : null,
    );
  });
  let next = 0;
  const children = items.map((item) =>
    item === 'separator' ? h('div', { role: 'separator', class: 'menu-separator' }) : menuItems[next++],
  );
  const menu = h('div', { id, role: 'menu', class: 'menu', 'aria-label': label, hidden: true }, children);
  const wrapper = h('div', { class: 'menu-wrapper' }, button, menu);

  const state = {
    open(focusIndex = 0) {
      if (openMenu && openMenu !== state) openMenu.close(false);
      menu.hidden = false;
      button.setAttribute('aria-expanded', 'true');
      openMenu = state;
      document.addEventListener('pointerdown', closeOnOutside, true);
      focusItem(focusIndex < 0 ? menuItems.length - 1 : focusIndex);
    },
    close(returnFocus = true) {
      if (menu.hidden) return;
      menu.hidden = true;
      button.setAttribute('aria-expanded', 'false');
      if (openMenu === state) openMenu = null;
      document.removeEventListener('pointerdown', closeOnOutside, true);
      if (returnFocus) button.focus();
    },
  };

  function closeOnOutside(event) {
    if (!wrapper.contains(event.target)) state.close(false);
  }

  function focusItem(index) {
    const count = menuItems.length;
    menuItems[((index % count) + count) % count].focus();
  }

  button.addEventListener('click', () => (menu.hidden ? state.open(0) : state.close()));
  button.addEventListener('keydown', (event) => {
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      state.open(event.key === 'ArrowDown' ? 0 : -1);
    }
  });

  menu.addEventListener('keydown', (event) => {
    const index = menuItems.indexOf(document.activeElement);
    switch (event.key) {
      case 'ArrowDown':
        focusItem(index + 1);
        break;
      case 'ArrowUp':
        focusItem(index - 1);
        break;
      case 'Home':
        focusItem(0);
        break;
      case 'End':
        focusItem(-1);
        break;
      case 'Escape':
        state.close();
        break;
      case 'Tab':
        state.close(false);
        return; // let Tab move on from the menu
      default: {
        if (event.key.length !== 1 || !/\S/.test(event.key)) return;
        const letter = event.key.toLowerCase();
        const order = [...menuItems.slice(index + 1), ...menuItems.slice(0, index + 1)];
        order.find((item) => item.firstChild.textContent.toLowerCase().startsWith(letter))?.focus();
      }
    }
    event.preventDefault();
    event.stopPropagation(); // Escape closes the menu, not a dialog around it
  });

  menuItems.forEach((element, index) => {
    element.addEventListener('click', () => {
      if (choices[index].disabled) return; // it says why it cannot be chosen
      state.close();
      choices[index].onSelect();
    });
  });

  return wrapper;
}
