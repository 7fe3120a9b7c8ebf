// "Ready for the next call" in the header: the queue (ACD) rings only call-takers who are ready. Shows the
// state as the server has it, and why the queue changed it (desk phone ringing, not answered, busy).

import { $, fill, h } from '../lib/dom.js';
import { onLang, t } from '../lib/i18n.js';
import { post } from '../lib/api.js';
import { since } from '../lib/time.js';
import { toast } from '../lib/shell.js';

export const READINESS_KEY = ['S', 'keys.ready'];
const TAKES_CALLS = new Set(['call_taker', 'supervisor']); // dispatch/users/service.py set_available
const RING_S = 60; // the queue forgets a reservation after this (dispatch/calls/queue.py RESERVATION_TTL)
const FADE_MS = 5000; // "ready again" says what happened, then goes

/** What to tell the call-taker about a `taker.available` reason; null when their state says it all. */
function noticeFor(reason) {
  if (!reason) return null; // their own toggle
  if (reason === 'ringing') return { key: 'ready.ringing', kind: 'ringing', ms: RING_S * 1000 };
  if (reason.startsWith('no_answer')) return { key: 'ready.no_answer', kind: 'bad' };
  if (reason === 'originate_failed') return { key: 'ready.originate_failed', kind: 'bad' };
  if (reason === 'desk_busy') return { key: 'ready.desk_busy', kind: 'warn' };
  if (reason === 'desk_free_again') return { key: 'ready.free_again', kind: 'ok', ms: FADE_MS, fade: true };
  return null; // call_ended, caller_hung_up: ready again, as expected
}

export class Readiness {
  constructor({ store, me }) {
    this.store = store;
    this.me = me;
    this.box = $('#readiness');
    this.button = $('#ready-toggle');
    this.noticeBox = $('#ready-notice');
    this.enabled = Boolean(this.box) && TAKES_CALLS.has(me.role);
    this.available = Boolean(me.available);
    this.notice = null;
    this.timer = null;
    this.saving = false;
    if (!this.enabled) return;
    this.box.hidden = false;
    this.button.addEventListener('click', () => this.toggle());
    store.on((topic, detail) => this.changed(topic, detail));
    onLang(() => this.draw());
    this.draw();
  }

  changed(topic, detail) {
    if (topic === 'all' && this.store.me) {
      this.available = Boolean(this.store.me.available); // the snapshot: events after it follow
      this.draw();
    } else if (topic === 'readiness') {
      this.available = Boolean(detail.data.available);
      this.show(noticeFor(detail.data.reason), detail);
      this.draw();
    } else if (topic === 'calls' && this.notice && this.notice.kind === 'ringing') {
      const call = this.store.calls.get(detail);
      if (call && call.taker_id === this.me.id && call.status !== 'offered') this.show(null); // picked up
    }
  }

  /** Ask the server; the control changes only when it has said yes (a refusal leaves it as it was). */
  async toggle() {
    if (!this.enabled || this.saving) return;
    this.saving = true;
    this.draw();
    try {
      const me = await post('/api/v1/me/availability', { available: !this.available });
      this.available = Boolean(me.available);
      if (this.store.me) this.store.me.available = this.available;
      this.show(null);
    } catch (err) {
      toast(`${t('ready.failed')}: ${err.message}`, 'error', 8000);
    } finally {
      this.saving = false;
      this.draw();
    }
  }

  show(notice, event) {
    clearTimeout(this.timer);
    // A replay after a long disconnection brings old events: a phone that rang minutes ago rings no more.
    const stale = notice && notice.kind === 'ringing' && event && since(event.at) > RING_S;
    this.notice = stale ? null : notice;
    if (this.notice && this.notice.ms) {
      this.timer = setTimeout(() => {
        this.notice = null;
        this.draw();
      }, this.notice.ms);
    }
    this.drawNotice();
  }

  draw() {
    if (!this.enabled) return;
    const on = this.available;
    const button = this.button;
    button.className = `ready-toggle ${on ? 'ready-on' : 'ready-off'}`;
    button.dataset.available = String(on);
    button.setAttribute('aria-label', t(on ? 'ready.label_on' : 'ready.label_off'));
    // The key is in the tooltip and the on-screen key list, not on the button: the header has one line to share.
    button.title = `${t(on ? 'ready.label_on' : 'ready.label_off')} (${READINESS_KEY[0]})`;
    button.setAttribute('aria-busy', String(this.saving));
    // On a narrower screen "ready" is said in one word (console.css), so that the header stays one line.
    fill(button, h('span', { class: 'ready-dot', 'aria-hidden': 'true' }), on
      ? [h('span', { class: 'ready-long' }, t('ready.on')), h('span', { class: 'ready-short' }, t('ready.on_short'))]
      : t('ready.off'));
    this.drawNotice();
  }

  drawNotice() {
    const n = this.notice;
    // The live region stays in place (an element that appears with its text is not always read out).
    this.noticeBox.className = n ? `ready-notice notice-${n.kind}${n.fade ? ' fading' : ''}` : 'ready-notice';
    const text = n ? t(n.key) : '';
    if (this.noticeBox.textContent !== text) fill(this.noticeBox, text); // the same words are not read out twice
  }
}
