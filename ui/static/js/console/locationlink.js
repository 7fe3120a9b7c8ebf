// A location link for the caller on screen: one key (G) asks the server for it. The server sends it by SMS
// when it can; the link is shown in any case, grouped to be read out. The position its page sends arrives
// like an AML fix (a `call.location` event, source `link`): drawn on the map with its accuracy circle, and
// said here.

import { $, fill, h } from '../lib/dom.js';
import { t } from '../lib/i18n.js';
import { newKey, post } from '../lib/api.js';
import { clock } from '../lib/time.js';
import { toast } from '../lib/shell.js';

export const LINK_KEY = ['G', 'keys.location_link'];

export class LocationLinks {
  /** `call()`: the call on the call-taker's screen, or null. */
  constructor({ store, call }) {
    this.store = store;
    this.call = call;
    this.links = new Map(); // call id -> the server's answer
    this.asking = null;
    this.box = h('div', { id: 'link-box', class: 'aml link-box', role: 'status', hidden: true });
    $('#call-card').append(this.box);
    store.on((topic, detail) => {
      const call = this.call();
      if (topic === 'all' || (topic === 'location' && call && detail === call.id)) this.draw();
    });
  }

  /** Ask for a link for the call on screen, one request at a time. */
  async request() {
    const call = this.call();
    if (!call) {
      toast(t('calls.none_selected'));
      return;
    }
    if (this.asking) return;
    this.asking = newKey();
    try {
      const link = await post(`/api/v1/calls/${call.id}/location-link`, {}, { key: this.asking });
      this.links.set(call.id, link);
      toast(link.sent_by === 'sms' ? t('link.sms') : t('link.no_sms'), 'info', 4000);
    } catch (err) {
      toast(`${t('link.failed')}: ${err.message}`, 'error');
    } finally {
      this.asking = null;
    }
    this.draw();
  }

  /** The link of the call on screen: how it went, the link to read out, and the latest position it brought. */
  draw() {
    const call = this.call();
    const link = call ? this.links.get(call.id) : null;
    this.box.hidden = !link;
    if (!link) {
      fill(this.box);
      return;
    }
    const fixes = (this.store.locations.get(call.id) || []).filter((l) => l.source === 'link' && l.valid !== false);
    const fix = fixes[fixes.length - 1];
    fill(this.box,
      h('strong', {}, t('link.title')), ' · ', link.sent_by === 'sms' ? t('link.sms') : t('link.no_sms'), ' ',
      h('span', { class: 'muted' }, t('link.until', { at: clock(link.expires_at) })),
      h('div', {}, t('link.read_out'), ' ', h('code', { id: 'link-url', class: 'link-url' }, link.read_out)),
      h('div', { id: 'link-fix', class: fix ? 'ok' : 'muted', dataset: { at: fix ? fix.received_at : '' } },
        fix ? t('link.fix', { m: Math.round(fix.accuracy_m), at: clock(fix.received_at) }) : t('link.waiting')));
  }
}
