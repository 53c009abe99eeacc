// Failed calls, in words a person can act on.

import * as api from './api.js';
import { session } from './session.js';

/** What each action is called and the scope its route needs. */
export const ACTIONS = {
  create: { verb: 'create', scope: 'api-keys:write' },
  suspend: { verb: 'suspend', scope: 'api-keys:write' },
  reactivate: { verb: 'reactivate', scope: 'api-keys:write' },
  rotate: { verb: 'rotate', scope: 'api-keys:write' },
  revoke: { verb: 'revoke', scope: 'api-keys:write' },
  delete: { verb: 'delete', scope: 'api-keys:delete' },
};

/** Why a call failed, as a sentence ending in a full stop. */
export function reason(error, action = null) {
  if (error.status === 0) return 'keygate could not be reached. Check your connection and try again.';
  if (error.gateway) {
    if (error.status === 403 && action) {
      return `Your key lacks ${action.scope}, which is needed to ${action.verb} a key.`;
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
  if (error.gateway && error.status === 403 && session.holds(action.scope)) {
    // The key holds the scope, so the gateway denied the key itself. A read
    // tells for sure, and ends the session if so.
    try {
      await api.whoami();
    } catch {
      if (!api.hasSession()) return null;
    }
    return `Could not ${action.verb} “${keyName}”: keygate denied your key.`;
  }
  return `Could not ${action.verb} “${keyName}”. ${reason(error, action)}`;
}

/** `text` as the start of a sentence: capitalised, without a closing full stop. */
export function sentence(text) {
  const trimmed = text.replace(/[.\s]+$/, '');
  return trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
}

function seconds(n) {
  return n === 1 ? '1 second' : `${n} seconds`;
}
