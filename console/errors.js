// Failed calls, in words a person can act on.

import * as api from './api.js';
import { ACTIONS, scopeFor } from './capabilities.js';
import { session } from './session.js';

/** Why a call failed, as a sentence ending in a full stop. `actionName` names the action tried. */
export function reason(error, actionName = null) {
  if (error.status === 0) return 'keygate could not be reached. Check your connection and try again.';
  if (error.gateway) {
    const scope = actionName && scopeFor(actionName);
    if (error.status === 403 && scope) {
      return `Your key lacks ${scope}, which is needed to ${ACTIONS[actionName].verb} a key.`;
    }
    if (error.status === 404) return 'This keygate does not offer that call (404 Not Found).';
    return `keygate denied the request (${error.status} ${error.message}).`;
  }
  switch (error.code) {
    case 'service_unavailable': {
      const wait = error.retryAfter ? ` Try again in ${seconds(error.retryAfter)}.` : ' Try again shortly.';
      return `keygate is busy or unavailable.${wait}`;
    }
    case 'not_found':
      return 'The key no longer exists; it may have been deleted.';
    case 'invalid_transition':
      return `The key is not in a state that allows this: ${error.message}.`;
    case 'limit_exceeded': {
      const wait = error.retryAfter ? ` Try again in ${seconds(error.retryAfter)}.` : '';
      return `Your key is over its usage limit: ${error.message}.${wait}`;
    }
    case 'insufficient_authority':
      return `Your key does not have authority over this key: ${error.message}.`;
    default:
      return `${sentence(error.message)}.`;
  }
}

/**
 * The message for a failed action, or null when the failure ended the
 * session (the signed-in key itself is denied: the page is back at sign-in).
 */
export async function describeFailure(error, actionName, keyName) {
  const action = ACTIONS[actionName];
  const scope = scopeFor(actionName);
  if (error.gateway && error.status === 403 && (!scope || session.holds(scope))) {
    // The key holds the scope (or the document did not say which), so the
    // gateway may have denied the key itself. A read tells for sure, and ends
    // the session if so.
    try {
      await api.whoami();
    } catch {
      if (!api.hasSession()) return null;
    }
    if (scope === undefined) {
      return `Could not ${action.verb} “${keyName}”: keygate denied it. Your key may lack the scope this needs.`;
    }
    return `Could not ${action.verb} “${keyName}”: keygate denied your key.`;
  }
  return `Could not ${action.verb} “${keyName}”. ${reason(error, actionName)}`;
}

/** `text` as the start of a sentence: capitalised, without a closing full stop. */
export function sentence(text) {
  const trimmed = text.replace(/[.\s]+$/, '');
  return trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
}

function seconds(n) {
  return n === 1 ? '1 second' : `${n} seconds`;
}
