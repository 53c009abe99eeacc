// What the signed-in key may do. The scope each route needs is read from the
// API's own OpenAPI document (every operation carries x-required-scope), once
// after sign-in, so the console keeps no copy of the route table.

import { session } from './session.js';

/** The console's actions on keys: what each is called and the operation it calls. */
export const ACTIONS = {
  create: { verb: 'create', operation: 'create-key' },
  suspend: { verb: 'suspend', operation: 'suspend-key' },
  reactivate: { verb: 'reactivate', operation: 'reactivate-key' },
  rotate: { verb: 'rotate', operation: 'rotate-key' },
  revoke: { verb: 'revoke', operation: 'revoke-key' },
  delete: { verb: 'delete', operation: 'delete-key' },
};

/**
 * operationId → the scope its route needs, from an OpenAPI document: a scope
 * such as "api-keys:write", "any" (any valid key) or null (a public route).
 */
export function routeScopes(document) {
  const scopes = new Map();
  for (const item of Object.values(document?.paths ?? {})) {
    for (const operation of Object.values(item ?? {})) {
      if (operation?.operationId && Object.hasOwn(operation, 'x-required-scope')) {
        scopes.set(operation.operationId, operation['x-required-scope']);
      }
    }
  }
  return scopes;
}

/**
 * The scope an action's route needs, or null when any valid key may call it.
 * Undefined when the document did not say (it could not be read): then the
 * console offers the action and the API decides.
 */
export function scopeFor(actionName) {
  const scope = session.routes.get(ACTIONS[actionName].operation);
  return scope === 'any' ? null : scope;
}

/**
 * Whether the console offers `actionName` to the signed-in key, for `record`
 * (the target key; none for create): `{allowed: true}` or `{allowed: false,
 * reason, short}` (a sentence, and the few words a menu item has room for).
 *
 * The one place that decides. Today it knows each route's scope. Authority
 * over the target key (its permissions covered by the caller's) and "the last
 * active full-access key" will come from a field of the key record; they
 * belong here, next to the scope check.
 */
export function permission(actionName, record = null) {
  const { verb } = ACTIONS[actionName];
  const scope = scopeFor(actionName);
  if (scope && !session.holds(scope)) {
    return {
      allowed: false,
      reason: `Your key lacks ${scope}, which is needed to ${verb} a key.`,
      short: `Your key lacks ${scope}.`,
    };
  }
  if (actionName === 'reactivate' && record && session.isMe(record.id)) {
    const reason = 'A key can never reactivate itself.';
    return { allowed: false, reason, short: reason };
  }
  return { allowed: true, reason: null, short: null };
}
