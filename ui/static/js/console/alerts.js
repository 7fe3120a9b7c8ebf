// Public alerts (CAP 1.2 from BMKG, InaTEWS): a banner across the console for each live alert that applies to
// the region, and its area on the map. An exercise is marked LATIHAN; an alert outside the region, or without
// an area until a supervisor confirms it, raises nothing here (the server decides: `banner`).

import { $, fill, h } from '../lib/dom.js';
import { getLang, t } from '../lib/i18n.js';
import { get } from '../lib/api.js';
import { dateTime } from '../lib/time.js';

const RECHECK_MS = 30 * 1000; // an alert that expires while the console is open leaves within this

export class Alerts {
  constructor({ map }) {
    this.map = map;
    this.alerts = new Map();
    setInterval(() => this.draw(), RECHECK_MS);
  }

  /** The live alerts from the server (at start and after every reconnect: what was missed is in them). */
  async load() {
    const list = await get('/api/v1/alerts');
    this.alerts.clear();
    for (const alert of list) this.alerts.set(alert.id, alert);
    this.draw();
  }

  /** An `alert.*` event carries the whole alert as it now is. */
  apply(event) {
    const alert = event.data && event.data.alert;
    if (!event.type.startsWith('alert.') || !alert) return;
    this.alerts.set(alert.id, alert);
    this.draw();
  }

  shown() {
    const now = Date.now();
    return [...this.alerts.values()]
      .filter((a) => a.banner && a.live && !(a.expires && Date.parse(a.expires) <= now))
      .sort((a, b) => Date.parse(b.sent) - Date.parse(a.sent));
  }

  draw() {
    const list = this.shown();
    const box = $('#alert-banner');
    box.hidden = list.length === 0;
    document.body.classList.toggle('has-alert', list.length > 0);
    fill(box, list.map((a) => h('div', {
      class: ['alert-line', a.exercise && 'exercise', `sev-${String(a.severity).toLowerCase()}`],
      dataset: { id: a.id, identifier: a.identifier },
    },
    a.exercise ? h('strong', { class: 'alert-exercise' }, t('alert.exercise')) : null,
    h('strong', { class: 'alert-kind' }, t('alert.label')),
    h('span', { class: 'alert-headline' }, headline(a)),
    h('span', { class: 'alert-meta' }, [a.sender_name || a.sender, dateTime(a.sent),
      a.relevance === 'confirmed' ? t('alert.whole_region') : a.area_desc].filter(Boolean).join(' · ')),
    a.area ? h('button', { type: 'button', class: 'alert-show', onclick: () => this.map.focusAlert(a.id) },
      t('alert.show_area')) : null)));
    this.map.drawAlerts(list);
  }
}

function headline(alert) {
  return (getLang() === 'en' && alert.headline_en) || alert.headline || alert.event;
}
