// The one module that talks to keygate's /v1 API. It alone knows the signed-in
// key (kept in sessionStorage, so it is gone when the tab closes) and the
// X-API-Key header. Every call resolves to parsed JSON or throws an ApiError.

const STORAGE_KEY = 'keygate.session';
const KEY_PATTERN = /^[a-z][a-z0-9]{0,9}_([0-9A-Za-z]{22})[0-9A-Za-z]{43}$/;

let sessionEnded = () => {};

/** A failed call: `gateway` is true for API Gateway's own `{"message"}` answers. */
export class ApiError extends Error {
  constructor({ status, code = null, message, gateway = false, retryAfter = null }) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.gateway = gateway;
    this.retryAfter = retryAfter;
  }

  /** The field a 400 names (`"name: must be ..."` → "name", `"limits.rate.requests: …"` → "limits"), or null. */
  get field() {
    const match = /^([a-z_]+)(?:\.[a-z_]+)*: /.exec(this.message);
    return this.status === 400 && match ? match[1] : null;
  }

  /** The message without its leading `field: `. */
  get problem() {
    return this.field ? this.message.slice(this.message.indexOf(': ') + 2) : this.message;
  }
}

/** The key id embedded in a full key, or null when the text is not a key. */
export function keyIdOf(key) {
  const match = KEY_PATTERN.exec(key);
  return match ? match[1] : null;
}

export function hasSession() {
  return sessionStorage.getItem(STORAGE_KEY) !== null;
}

export function sessionKeyId() {
  const key = sessionStorage.getItem(STORAGE_KEY);
  return key ? keyIdOf(key) : null;
}

/** Called with a message when a read is denied for the signed-in key. */
export function onSessionEnded(callback) {
  sessionEnded = callback;
}

export function signOut() {
  sessionStorage.removeItem(STORAGE_KEY);
}

/**
 * Checks `key` by reading its own record (which needs api-keys:read), then
 * keeps it for the tab's lifetime. Resolves to the key's record.
 */
export async function signIn(key) {
  const id = keyIdOf(key);
  if (!id) {
    throw new ApiError({ status: 0, code: 'malformed_key', message: 'malformed key' });
  }
  const record = await request('GET', `/v1/api-keys/${id}`, { key });
  sessionStorage.setItem(STORAGE_KEY, key);
  return record;
}

/** Whether `key` is valid at all: GET /v1/scopes needs no particular scope. */
export async function keyIsValid(key) {
  try {
    await request('GET', '/v1/scopes', { key });
    return true;
  } catch {
    return false;
  }
}

let openApi = null;

/**
 * The API's OpenAPI document, read once (a public route: no key is sent).
 * Every operation names the scope it needs in x-required-scope.
 */
export function openApiDocument() {
  openApi ??= fetch('/openapi.json', { cache: 'no-store', credentials: 'omit', redirect: 'error' })
    .then((response) => {
      if (!response.ok) throw new ApiError({ status: response.status, message: response.statusText });
      return response.json();
    })
    .catch((error) => {
      openApi = null; // try again next time
      if (error instanceof ApiError) throw error;
      throw new ApiError({ status: 0, code: 'network', message: 'keygate could not be reached' });
    });
  return openApi;
}

export const whoami = () => getKey(sessionKeyId());
export const scopes = () => request('GET', '/v1/scopes');
export const getKey = (id) => request('GET', `/v1/api-keys/${encodeURIComponent(id)}`);
export const createKey = (body) => request('POST', '/v1/api-keys', { body });
export const suspendKey = (id) => request('POST', `${keyPath(id)}/suspend`);
export const reactivateKey = (id) => request('POST', `${keyPath(id)}/reactivate`);
export const revokeKey = (id, reason) => request('POST', `${keyPath(id)}/revoke`, { body: { reason } });
export const rotateKey = (id, body) => request('POST', `${keyPath(id)}/rotate`, { body });
export const deleteKey = (id) => request('DELETE', keyPath(id));
/** Sets a key's limits to exactly `{rate?, quota?}` (`{}` removes them). */
export const setLimits = (id, limits) => request('PUT', `${keyPath(id)}/limits`, { body: limits });
/** A key's usage: each limit's used, remaining and resets_at. */
export const getUsage = (id) => request('GET', `${keyPath(id)}/usage`);
/** Sets the counts of a key's budget back to zero; resolves to its usage. */
export const resetUsage = (id) => request('POST', `${keyPath(id)}/reset-usage`);
/** Renames a key or changes its description: `{name?, description?}` (description null removes it). */
export const updateKey = (id, body) => request('PATCH', keyPath(id), { body });

/**
 * One page of keys: `{data, next_cursor, counts}`. status: all, active,
 * suspended, revoked; `name` (the start of a name), or `type` and `owner`.
 */
export function listKeys({ status = 'all', name = null, type = null, owner = null, cursor = null, limit = 50 } = {}) {
  return request('GET', `/v1/api-keys?${query({ status, name, key_type: type, owner, limit, cursor })}`);
}

/**
 * One page of audit events: `{data, next_cursor}`, newest first; by the key
 * changed or the key that acted, an action, and a time range (RFC 3339).
 */
export function listAuditEvents({
  keyId = null, actorId = null, action = null, since = null, until = null, cursor = null, limit = 50,
} = {}) {
  const params = { key_id: keyId, actor_key_id: actorId, action, since, until, limit, cursor };
  return request('GET', `/v1/audit-events?${query(params)}`);
}

function keyPath(id) {
  return `/v1/api-keys/${encodeURIComponent(id)}`;
}

function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== '') search.set(name, String(value));
  }
  return search.toString();
}

async function request(method, path, { body, key } = {}) {
  const apiKey = key ?? sessionStorage.getItem(STORAGE_KEY);
  if (!apiKey) {
    throw new ApiError({ status: 401, message: 'Unauthorized', gateway: true });
  }
  const headers = { 'X-API-Key': apiKey, Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';

  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
      redirect: 'error', // never follow a redirect with the key
    });
  } catch {
    throw new ApiError({ status: 0, code: 'network', message: 'keygate could not be reached' });
  }

  if (response.status === 204) return null;
  const payload = await response.json().catch(() => null);
  if (response.ok) return payload;

  const error = toError(response, payload);
  // A read denied for the signed-in key means the key no longer works here.
  if (method === 'GET' && key === undefined && error.gateway && [401, 403].includes(error.status)) {
    signOut();
    sessionEnded(error);
  }
  throw error;
}

function toError(response, payload) {
  const retryAfter = Number(response.headers.get('Retry-After')) || null;
  if (payload?.error) {
    return new ApiError({
      status: response.status,
      code: payload.error.code,
      message: payload.error.message,
      retryAfter,
    });
  }
  return new ApiError({
    status: response.status,
    message: payload?.message ?? response.statusText,
    gateway: typeof payload?.message === 'string',
    retryAfter,
  });
}
