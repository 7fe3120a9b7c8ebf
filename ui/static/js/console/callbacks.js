// Callbacks from the console: the abandoned calls nobody has called back yet ("Panggil balik"), a key or a button
// to call one back (through the PBX: the call-taker's own desk phone rings first, then the caller; through Twilio;
// or by hand, with the number shown), and the outcome form after it. The server keeps each attempt
// (dispatch/calls/callbacks.py); its steps come back as `callback.*` events.

import { $, debounce, fill, h } from '../lib/dom.js';
import { callerText, t } from '../lib/i18n.js';
import { get, newKey, post } from '../lib/api.js';
import { timer, toast } from '../lib/shell.js';

export const CALLBACK_KEY = ['B', 'keys.callback'];
const RINGING = new Set(['requested', 'ringing']); // the phones are being rung: no second attempt
const FINAL = new Set(['answered', 'no_answer', 'busy', 'failed']);

function stateText(state) {
  return {
    requested: t('cb.state_requested'), ringing: t('cb.state_ringing'), answered: t('cb.state_answered'),
    no_answer: t('cb.state_no_answer'), busy: t('cb.state_busy'), failed: t('cb.state_failed'),
  }[state] || state;
}

function routeText(route) {
  return { pbx: t('cb.route_pbx'), twilio: t('cb.route_twilio'), none: t('cb.route_none') }[route] || route;
}

const OUTCOMES = [
  ['reached', () => t('cb.out_reached')], ['no_answer', () => t('cb.out_no_answer')],
  ['wrong_number', () => t('cb.out_wrong_number')], ['voicemail', () => t('cb.out_voicemail')],
];

export class Callbacks {
  constructor({ store }) {
    this.store = store;
    this.rows = []; // GET /callbacks: abandoned calls, newest first, each with its `attempts`
    this.active = null; // the attempt this console placed, until its outcome is recorded or it is closed
    this.placing = false;
    this.loadSoon = debounce(() => this.load(), 300);
    store.on((topic, detail) => {
      if (topic === 'all') this.load();
      else if (topic === 'event') this.event(detail);
    });
  }

  async load() {
    try {
      this.rows = await get('/api/v1/callbacks');
    } catch (err) {
      toast(`${t('cb.title')}: ${err.message}`, 'error');
      return;
    }
    this.draw();
  }

  event(e) {
    const d = e.data || {};
    if (e.type.startsWith('callback.')) {
      if (this.active && d.id === this.active.id) {
        this.active = { ...this.active, ...d };
        this.drawActive();
      }
      this.loadSoon();
    } else if ((e.type === 'call.ended' && d.classification === 'abandoned') || e.type === 'call.callback_done') {
      this.loadSoon();
    }
  }

  /** `B`: call back the newest caller on the list whose phone is not being rung already. */
  key(e) {
    if (e.key.toLowerCase() !== 'b') return false;
    const next = this.rows.find((row) => !this.ringing(row));
    if (next) this.place(next);
    else toast(t('cb.none'), 'info');
    return true;
  }

  ringing(row) {
    const last = row.attempts[0];
    return Boolean(last && last.route !== 'none' && RINGING.has(last.state) && !last.outcome);
  }

  async place(row) {
    if (this.placing) return;
    if (this.active && !this.active.outcome) {
      toast(t('cb.finish_first'), 'warn');
      $('#cb-note').focus();
      return;
    }
    this.placing = true;
    try {
      this.active = await post(`/api/v1/calls/${row.id}/callbacks`, {}, { key: newKey() });
      this.drawActive();
      this.loadSoon();
    } catch (err) {
      toast(err.message, 'error');
    } finally {
      this.placing = false;
    }
  }

  async outcome(outcome) {
    const attempt = this.active;
    if (!attempt) return;
    const note = $('#cb-note').value.trim();
    try {
      await post(`/api/v1/callbacks/${attempt.id}/outcome`, { outcome, note: note || null }, { key: newKey() });
      toast(t('cb.saved'), 'ok');
      this.active = null;
      this.drawActive();
      this.load();
    } catch (err) {
      toast(err.message, 'error');
    }
  }

  close() {
    this.active = null;
    this.drawActive();
  }

  draw() {
    $('#callback-count').textContent = String(this.rows.length);
    $('#callbacks-empty').hidden = this.rows.length > 0;
    fill($('#callback-list'), this.rows.map((row) => {
      const last = row.attempts[0];
      const busy = this.ringing(row);
      return h('li', { class: 'callback', dataset: { call: row.id } },
        h('div', { class: 'row1' },
          h('strong', { class: 'number', title: row.caller || '' }, callerText(row)), ' ',
          timer(row.ended_at || row.offered_at, { cls: 'ago' })),
        last ? h('div', { class: 'muted small' }, t('cb.attempts', { n: row.attempts.length }), ' · ',
          h('span', { class: `chip cbs-${last.state}` }, stateText(last.state)),
          last.reason ? ` · ${last.reason}` : '') : null,
        h('button', {
          type: 'button', class: 'cb-place', disabled: busy || this.placing,
          onclick: () => this.place(row),
        }, t('cb.call')));
    }));
  }

  drawActive() {
    const box = $('#callback-panel');
    const a = this.active;
    box.hidden = !a;
    if (!a) return;
    const manual = a.route === 'none';
    fill(box,
      h('h3', {}, t('cb.to'), ' ', h('span', { class: 'caller-big', title: a.caller || '' }, callerText(a))),
      h('p', { class: 'muted small' }, routeText(a.route)),
      manual ? h('p', { class: 'dial-by-hand' }, t('cb.dial_by_hand'), ' ',
        h('strong', { title: a.caller || '' }, callerText(a))) : null,
      manual ? null : h('p', {}, h('span', { class: `chip cbs-${a.state}`, id: 'cb-state' }, stateText(a.state)),
        a.reason ? h('span', { class: 'cb-reason' }, ` ${a.reason}`) : null),
      h('label', { for: 'cb-note' }, t('cb.outcome_title')),
      h('input', { id: 'cb-note', maxlength: 2000, placeholder: t('cb.note_ph') }),
      h('div', { class: 'actions' },
        OUTCOMES.map(([value, text]) => h('button', {
          type: 'button', class: `cb-out cb-out-${value}`, onclick: () => this.outcome(value),
        }, text())),
        manual || FINAL.has(a.state) || a.ended_at
          ? h('button', { type: 'button', class: 'cb-close', onclick: () => this.close() }, t('cb.close')) : null));
  }
}
