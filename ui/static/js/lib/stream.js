// The /ws event stream, kept alive: reconnects by itself with backoff and resumes from the last sequence
// number it saw, so a console never silently misses an event. The server replays everything after `since`.

import { noteServerTime } from './time.js';
import { toLogin } from './api.js';

const FIRST_DELAY = 500;
const MAX_DELAY = 15000;

export class Stream {
  /**
   * onEvent(event): every event, in order, each once.
   * onLive(first): caught up; `first` on the very first connection (load the snapshot then).
   * onState(state, info): 'connecting' | 'live' | 'reconnecting' | 'offline'.
   */
  constructor({ onEvent, onLive, onState }) {
    this.onEvent = onEvent;
    this.onLive = onLive || (() => {});
    this.onState = onState || (() => {});
    this.seq = null;
    this.ws = null;
    this.delay = FIRST_DELAY;
    this.timer = null;
    this.everLive = false;
    this.state = 'connecting';
    this.retryAt = null;
  }

  start() {
    window.addEventListener('online', () => this.now());
    window.addEventListener('offline', () => this.drop());
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden && !this.ws) this.now();
    });
    this.connect();
    return this;
  }

  /** Reconnect at once (the network is back, or the user asked). */
  now() {
    this.delay = FIRST_DELAY;
    if (!this.ws) this.connect();
  }

  /** The network went away: close at once rather than wait for TCP to notice, and say so. */
  drop() {
    clearTimeout(this.timer);
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close();
    this.setState('offline');
  }

  setState(state) {
    this.state = state;
    this.onState(state, { retryAt: this.retryAt, seq: this.seq });
  }

  connect() {
    clearTimeout(this.timer);
    this.retryAt = null;
    if (!navigator.onLine) {
      this.setState('offline'); // the 'online' event brings us back
      return;
    }
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const since = this.seq != null ? `?since=${this.seq}` : '';
    const ws = new WebSocket(`${scheme}://${location.host}/ws${since}`);
    this.ws = ws;
    this.setState(this.everLive ? 'reconnecting' : 'connecting');
    ws.onmessage = (message) => {
      // Each websocket message is an array of messages in order (a burst arrives as one array).
      for (const item of JSON.parse(message.data)) {
        if (this.ws !== ws) return;
        this.receive(item);
      }
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return; // replaced or dropped on purpose
      this.ws = null;
      if (event.code === 4401) {
        toLogin();
        return;
      }
      this.retry();
    };
  }

  receive(message) {
    if (message.type === 'live') {
      this.seq = message.seq;
      this.delay = FIRST_DELAY;
      noteServerTime(message.at);
      const first = !this.everLive;
      this.everLive = true;
      this.setState('live');
      this.onLive(first);
      return;
    }
    if (message.type === 'resync') return; // the server closes next; we come back with `since`
    if (typeof message.seq === 'number') {
      if (this.seq != null && message.seq <= this.seq) return; // already seen
      this.seq = message.seq;
    }
    this.onEvent(message);
  }

  retry() {
    const wait = this.delay * (0.75 + Math.random() * 0.5);
    this.delay = Math.min(this.delay * 2, MAX_DELAY);
    this.retryAt = Date.now() + wait;
    this.setState(navigator.onLine ? 'reconnecting' : 'offline');
    this.timer = setTimeout(() => this.connect(), wait);
  }
}
