// Who is signed in: the key's own record, the scope catalog and the scope
// each route needs, read once at sign-in. The key itself stays inside api.js.

import * as api from './api.js';
import { holdsScope, isFullAccess } from './format.js';

let ended = () => {};

export const session = {
  /** The signed-in key's record (GET /v1/api-keys/{own id}). */
  me: null,
  /** GET /v1/scopes: `{resources, presets, full_access}`. */
  catalog: { resources: [], presets: {} },
  /** operationId → the scope its route needs, from /openapi.json (empty if it could not be read). */
  routes: new Map(),

  start(me, catalog, routes) {
    this.me = me;
    this.catalog = catalog;
    this.routes = routes;
  },

  clear() {
    this.me = null;
    this.catalog = { resources: [], presets: {} };
    this.routes = new Map();
  },

  /** Registers what happens when the session ends (the page returns to sign-in). */
  onEnd(callback) {
    ended = callback;
  },

  /** Drops the key and returns to sign-in, saying why (tone "info" or "error"). */
  end(message, { tone = 'error' } = {}) {
    api.signOut();
    ended(message, tone);
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
