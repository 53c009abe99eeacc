// A menu button (WAI-ARIA APG "menu button"): Enter, Space or ArrowDown opens
// the menu on its first item, ArrowUp on its last; arrows, Home and End move;
// a letter jumps; Enter or Space picks; Escape closes; focus returns to the button.

import { h } from './dom.js';

let openMenu = null;
let menuCount = 0;

/**
 * items: [{label, onSelect, danger?}]. Returns the wrapper element holding
 * the button and its (hidden) menu.
 */
export function menuButton({ label, text = '⋯', items }) {
  const id = `menu-${++menuCount}`;
  const button = h(
    'button',
    { type: 'button', class: 'button icon menu-button', 'aria-haspopup': 'menu', 'aria-expanded': 'false', 'aria-controls': id, 'aria-label': label },
    h('span', { 'aria-hidden': 'true' }, text),
  );
  const menuItems = items.map((item) =>
    h(
      'button',
      { type: 'button', role: 'menuitem', tabindex: '-1', class: item.danger ? 'menu-item danger' : 'menu-item' },
      item.label,
    ),
  );
  const menu = h('div', { id, role: 'menu', class: 'menu', 'aria-label': label, hidden: true }, menuItems);
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
        order.find((item) => item.textContent.toLowerCase().startsWith(letter))?.focus();
      }
    }
    event.preventDefault();
    event.stopPropagation(); // Escape closes the menu, not a dialog around it
  });

  menuItems.forEach((element, index) => {
    element.addEventListener('click', () => {
      state.close();
      items[index].onSelect();
    });
  });

  return wrapper;
}
