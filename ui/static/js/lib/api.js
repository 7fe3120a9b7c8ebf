// JSON over fetch: one error shape ({error, kind} from the server), idempotency keys, login on 401.

import { t } from './i18n.js';

export class ApiError extends Error {
  constructor(status, message, kind, data = null) {
    super(message);
    this.status = status;
    this.kind = kind;
    this.data = data; // the whole answer, e.g. retry_after_s of a locked login
  }

  /** A network failure or a server hiccup: the same request may succeed later. */
  get retryable() {
    return this.status === 0 || this.status >= 500 || this.status === 429;
  }
}

/** A random Idempotency-Key. crypto.randomUUID needs HTTPS; getRandomValues works on a plain-HTTP LAN too. */
export function newKey() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function toLogin() {
  const next = location.pathname + location.search;
  location.assign(`/login?next=${encodeURIComponent(next)}`);
}

export async function api(method, url, body, { key, signal, quiet401 } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (key) headers['Idempotency-Key'] = key;
  let response;
  try {
    response = await fetch(url, {
      method, headers, signal, credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, t('err.network'), 'Network');
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (response.status === 401 && !quiet401) {
    toLogin();
  }
  if (!response.ok) {
    throw new ApiError(response.status, (data && data.error) || `${response.status} ${response.statusText}`,
      data && data.kind, data);
  }
  return data;
}

export const get = (url, opts) => api('GET', url, undefined, opts);
export const post = (url, body, opts) => api('POST', url, body ?? {}, opts);
export const patch = (url, body, opts) => api('PATCH', url, body, opts);

/** GET that answers null when the endpoint does not exist (yet): parts of the API arrive separately. */
export async function optional(url) {
  try {
    return await get(url);
  } catch (err) {
    // A route that does not exist answers a plain 404; a missing record answers kind NotFound.
    if ((err.status === 404 && err.kind !== 'NotFound') || err.status === 405) return null;
    throw err;
  }
}
