// Complaints referred to agencies (OPD): record what each agency reports back, so the follow-up rate per
// agency can be reported.

import { $, fill, h } from '../lib/dom.js';
import { localNumber, t } from '../lib/i18n.js';
import { newKey, post } from '../lib/api.js';
import { dateTime, now } from '../lib/time.js';
import { timer, toast } from '../lib/shell.js';

const NEXT = { referred: ['in_progress', 'done', 'rejected'], in_progress: ['done', 'rejected'] };

export class Referrals {
  constructor({ store }) {
    this.store = store;
    store.on((topic) => {
      if (topic === 'all' || topic === 'referrals') this.draw();
    });
  }

  key() {
    return false;
  }

  draw() {
    // Overdue ones first (still open past the topic's deadline), then the oldest.
    const open = [...this.store.referrals.values()].filter((r) => NEXT[r.status])
      .sort((a, b) => Number(overdue(b)) - Number(overdue(a)) || Date.parse(a.referred_at) - Date.parse(b.referred_at));
    $('#referral-count').textContent = String(open.length);
    $('#referrals-empty').hidden = open.length > 0;
    fill($('#referral-list'), open.map((r) => {
      const agency = this.store.agencies.get(r.agency_id);
      const note = h('input', { class: 'note', maxlength: 500, placeholder: t('ref.note_placeholder') });
      const topic = r.topic ? this.store.topics.get(r.topic) : null;
      const late = overdue(r);
      return h('li', { class: ['referral', `rst-${r.status}`, late ? 'overdue' : null], dataset: { id: r.id } },
        h('div', { class: 'row1' }, h('strong', {}, `#${r.id} · ${agency ? agency.name : r.agency_id}`), ' ',
          h('span', { class: `chip rst-${r.status}` }, t(`rstatus.${r.status}`)), ' ',
          late ? [h('span', { class: 'chip danger' }, t('ref.overdue')), ' '] : null,
          h('span', { class: 'muted' }, dateTime(r.referred_at), ' · '), timer(r.referred_at)),
        topic || r.due_at ? h('p', { class: 'muted' }, topic ? h('span', { class: 'chip topic' }, topic.name) : null,
          r.due_at ? ` ${t('ref.due')}: ${dateTime(r.due_at)}` : null,
          r.lat != null ? ` · ${r.lat.toFixed(5)}, ${r.lon.toFixed(5)}` : null) : null,
        h('p', { class: 'summary' }, r.summary),
        r.address ? h('p', { class: 'muted' }, r.address) : null,
        r.caller ? h('p', { class: 'muted', title: r.caller }, t('detail.caller'), ': ', localNumber(r.caller)) : null,
        h('div', { class: 'actions' }, note, NEXT[r.status].map((status) => h('button', {
          type: 'button', class: `to-${status}`,
          onclick: () => this.step(r, status, note.value.trim()),
        }, t(`ref.to_${status}`)))));
    }));
  }

  async step(referral, status, note) {
    try {
      const row = await post(`/api/v1/referrals/${referral.id}/status`, { status, note: note || null },
        { key: newKey() });
      this.store.referrals.set(row.id, row);
      this.draw();
    } catch (err) {
      toast(err.message, 'error');
    }
  }
}

function overdue(r) {
  return Boolean(NEXT[r.status]) && r.due_at != null && Date.parse(r.due_at) < now();
}
