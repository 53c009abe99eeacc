// What the signed-in key may do. The scope each route needs is read from the
// API's own OpenAPI document (every operation carries x-required-scope), once
// after sign-in; what it may do to a particular key (its authority over that
// key, the key's state) comes with the key itself, in the `caller` field the
// API computes with the rules its calls apply. The console keeps no copy of
// either.

import { session } from './session.js';

/** The console's actions on keys: what each is called and the operation it calls. */
export const ACTIONS = {
  create: { verb: 'create', operation: 'create-key' },
  update: { verb: 'edit', operation: 'update-key' },
  suspend: { verb: 'suspend', operation: 'suspend-key' },
  reactivate: { verb: 'reactivate', operation: 'reactivate-key' },
  rotate: { verb: 'rotate', operation: 'rotate-key' },
  revoke: { verb: 'revoke', operation: 'revoke-key' },
  delete: { verb: 'delete', operation: 'delete-key' },
  set_limits: { verb: 'set the limits of', operation: 'set-limits' },
  reset_usage: { verb: 'reset the usage of', operation: 'reset-usage' },
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
 * The one place that decides: first the scope the route needs (from the
 * OpenAPI document), then what the API says of this key (`record.caller`).
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
  const permit = record?.caller?.[actionName];
  if (permit && !permit.allowed) {
    const text = permit.reason ?? `your key may not ${verb} this key`;
    // A menu item has room for the first clause; the rest is in the reason.
    return { allowed: false, reason: sentence(text), short: sentence(text.split(': ')[0]) };
  }
  return { allowed: true, reason: null, short: null };
}

function sentence(text) {
  const trimmed = text.replace(/[.\s]+$/, '');
  return `${trimmed.charAt(0).toUpperCase()}${trimmed.slice(1)}.`;
}
