// Public alerts (CAP) on the supervisor's page: every live alert with what the server decided about it, and a
// button that makes an alert without an area apply to the whole region (it then reaches the consoles).

import { $, fill, h } from '../lib/dom.js';
import { getLang, onLang, t } from '../lib/i18n.js';
import { get, post } from '../lib/api.js';
import { dateTime } from '../lib/time.js';
import { toast } from '../lib/shell.js';

let rows = [];

/** Load the section; the returned function reloads it (on `alert.*` events). */
export function startAlerts() {
  onLang(draw);
  load();
  return load;
}

async function load() {
  try {
    rows = await get('/api/v1/alerts');
  } catch (err) {
    toast(err.message, 'error');
    return;
  }
  draw();
}

function state(alert) {
  if (alert.awaiting_confirmation) return t('alert.awaiting');
  if (alert.relevance === 'outside') return t('alert.outside');
  if (alert.relevance === 'confirmed') return t('alert.whole_region');
  return alert.banner ? t('alert.region') : t('alert.test');
}

function draw() {
  const head = ['sup.alert_sent', 'alert.label', 'sup.alert_state', 'sup.alert_expires', null];
  fill($('#table-alerts'),
    h('thead', {}, h('tr', {}, head.map((key) => h('th', {}, key ? t(key) : '')))),
    h('tbody', {}, rows.length ? rows.map((a) => h('tr', { dataset: { id: a.id, identifier: a.identifier },
      class: a.awaiting_confirmation ? 'flagged' : null },
    h('td', {}, dateTime(a.sent)),
    h('td', {}, a.exercise ? h('strong', {}, `${t('alert.exercise')} `) : null,
      (getLang() === 'en' && a.headline_en) || a.headline || a.event, h('br'),
      h('span', { class: 'muted small' }, [a.sender_name || a.sender, a.area_desc].filter(Boolean).join(' · '))),
    h('td', {}, state(a)),
    h('td', {}, a.expires ? dateTime(a.expires) : '–'),
    h('td', {}, a.awaiting_confirmation ? h('button', { type: 'button', class: 'confirm-alert',
      onclick: () => confirm(a.id) }, t('alert.confirm')) : ''))) : h('tr', {}, h('td', { colspan: 5, class: 'muted' },
      t('alert.none')))));
}

async function confirm(id) {
  try {
    await post(`/api/v1/alerts/${id}/confirm`);
    toast(t('alert.confirmed'), 'ok');
  } catch (err) {
    toast(err.message, 'error');
  }
  load();
}
