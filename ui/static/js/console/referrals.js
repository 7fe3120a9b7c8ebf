// Complaints referred to agencies (OPD): record what each agency reports back, so the follow-up rate per
// agency can be reported.

import { $, fill, h } from '../lib/dom.js';
import { localNumber, t } from '../lib/i18n.js';
import { newKey, post } from '../lib/api.js';
import { dateTime } from '../lib/time.js';
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
    const open = [...this.store.referrals.values()].filter((r) => NEXT[r.status])
      .sort((a, b) => Date.parse(a.referred_at) - Date.parse(b.referred_at));
    $('#referral-count').textContent = String(open.length);
    $('#referrals-empty').hidden = open.length > 0;
    fill($('#referral-list'), open.map((r) => {
      const agency = this.store.agencies.get(r.agency_id);
      const note = h('input', { class: 'note', maxlength: 500, placeholder: t('ref.note_placeholder') });
      return h('li', { class: ['referral', `rst-${r.status}`], dataset: { id: r.id } },
        h('div', { class: 'row1' }, h('strong', {}, `#${r.id} · ${agency ? agency.name : r.agency_id}`), ' ',
          h('span', { class: `chip rst-${r.status}` }, t(`rstatus.${r.status}`)), ' ',
          h('span', { class: 'muted' }, dateTime(r.referred_at), ' · '), timer(r.referred_at)),
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
