// Actions a responder takes on a weak connection: kept in localStorage, sent in order, retried with the same
// Idempotency-Key until the server answers, so nothing is lost and nothing is done twice.

import { newKey, post } from '../lib/api.js';

const MAX_DELAY = 30000;

export class Outbox {
  /** onChange(items): the list changed. onSent(item, answer). onRejected(item, error): refused for good. */
  constructor(storageKey, { onChange, onSent, onRejected }) {
    this.storageKey = storageKey;
    this.onChange = onChange || (() => {});
    this.onSent = onSent || (() => {});
    this.onRejected = onRejected || (() => {});
    this.items = this.read();
    this.sending = false;
    this.timer = null;
    window.addEventListener('online', () => this.flush());
    setInterval(() => this.flush(), 15000);
  }

  read() {
    try {
      const items = JSON.parse(localStorage.getItem(this.storageKey) || '[]');
      return Array.isArray(items) ? items : [];
    } catch {
      return [];
    }
  }

  save() {
    localStorage.setItem(this.storageKey, JSON.stringify(this.items));
    this.onChange(this.items);
  }

  /** Queue a POST. Positions replace an unsent older position: only the newest fix matters. */
  add({ url, body, label, kind = 'action', ref = null }) {
    if (kind === 'position') this.items = this.items.filter((i) => i.kind !== 'position');
    const item = { id: newKey(), url, body, label, kind, ref, at: new Date().toISOString(), tries: 0, error: null,
      retryAt: null };
    this.items.push(item);
    this.save();
    this.flush();
    return item;
  }

  async flush() {
    if (this.sending || !this.items.length) return;
    this.sending = true;
    clearTimeout(this.timer);
    try {
      while (this.items.length) {
        const item = this.items[0];
        try {
          const answer = await post(item.url, item.body, { key: item.id, quiet401: false });
          this.items.shift();
          this.save();
          this.onSent(item, answer);
        } catch (err) {
          if (err.retryable || err.status === 401) {
            item.tries += 1;
            item.error = err.message;
            const wait = Math.min(1000 * 2 ** Math.min(item.tries, 5), MAX_DELAY);
            item.retryAt = Date.now() + wait;
            this.save();
            this.timer = setTimeout(() => this.flush(), wait);
            return;
          }
          this.items.shift(); // refused for good (the state moved on elsewhere): retrying cannot help
          this.save();
          this.onRejected(item, err);
        }
      }
    } finally {
      this.sending = false;
    }
  }
}
