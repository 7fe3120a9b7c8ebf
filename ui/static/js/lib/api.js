// JSON over fetch: one error shape ({error, kind} from the server), idempotency keys, login on 401.

import { getLang, has, label, t } from './i18n.js';

// A lifecycle refusal (dispatch/lifecycle.py `Machine.check`): "assignment cannot go from 'x' to 'y'; ...".
const TRANSITION = /^(call|incident|assignment|referral) cannot go from '(\w+)' to '(\w+)'/;
const STATUS_KEYS = { call: 'call.status', incident: 'istatus', assignment: 'astatus', referral: 'rstatus' };

/**
 * What the server said, in the console's language. The server answers in English with a `kind`
 * (ui/errors.py); in Bahasa a lifecycle refusal is said with the statuses' own names, any other refusal by
 * its kind (err.kind.* in ui/i18n/messages.json) before the server's words. Those stay in ApiError's `detail`.
 */
export function explain(status, kind, message) {
  if (getLang() === 'en' || !message) return message;
  const move = TRANSITION.exec(message);
  if (move) {
    const [, thing, from, to] = move;
    return t('err.transition', {
      thing: t(`err.thing.${thing}`), from: label(STATUS_KEYS[thing], from), to: label(STATUS_KEYS[thing], to),
    });
  }
  // The server's words follow in brackets: some are Bahasa already, and the English ones name the record.
  const known = kind && has(`err.kind.${kind}`) ? kind : status === 403 ? 'Forbidden' : null;
  return known ? `${t(`err.kind.${known}`)} (${message})` : message;
}

export class ApiError extends Error {
  constructor(status, message, kind, data = null) {
    super(explain(status, kind, message));
    this.detail = message; // the server's own words
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
