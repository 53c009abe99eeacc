// Who is signed in: the key's own record and the scope catalog, read once at
// sign-in. The key itself stays inside api.js.

import * as api from './api.js';
import { holdsScope, isFullAccess } from './format.js';

let ended = () => {};

export const session = {
  /** The signed-in key's record (GET /v1/api-keys/{own id}). */
  me: null,
  /** GET /v1/scopes: `{resources, presets, full_access}`. */
  catalog: { resources: [], presets: {} },

  start(me, catalog) {
    this.me = me;
    this.catalog = catalog;
  },

  clear() {
    this.me = null;
    this.catalog = { resources: [], presets: {} };
  },

  /** Registers what happens when the session ends (the page returns to sign-in). */
  onEnd(callback) {
    ended = callback;
  },

  /** Drops the key and returns to sign-in, saying why. */
  end(message) {
    api.signOut();
    ended(message);
  },

  holds(scope) {
    return this.me !== null && holdsScope(this.me.scopes, scope);
  },

  get fullAccess() {
    return this.me !== null && isFullAccess(this.me.scopes);
  },

  isMe(id) {
    return this.me?.id === id;
  },
};
