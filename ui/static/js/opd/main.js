// An agency's desk (role opd): the complaints the 112 center referred to this agency, where they are, by when
// they are due, and one tap to report them taken up, done or rejected (with a note). No caller is ever shown
// (the server sends none); the list refreshes every half minute, as the desk has no event stream.

import { $, fill, h } from '../lib/dom.js';
import { applyI18n, getLang, loadI18n, onLang, setLang, t } from '../lib/i18n.js';
import { get, newKey, post } from '../lib/api.js';
import { clock, dateTime, now, setZone, zoneName } from '../lib/time.js';
import { toast } from '../lib/shell.js';

const NEXT = { referred: ['in_progress', 'done', 'rejected'], in_progress: ['done', 'rejected'] };
const REFRESH_MS = 30000;
const state = { desk: null };

async function main() {
  await loadI18n();
  applyI18n(document);
  header();
  await load();
  setInterval(load, REFRESH_MS);
  onLang(draw);
}

function header() {
  const lang = $('#lang');
  const label = () => {
    lang.textContent = getLang() === 'id' ? 'EN' : 'ID';
  };
  label();
  lang.addEventListener('click', () => setLang(getLang() === 'id' ? 'en' : 'id'));
  onLang(label);
  $('#logout').addEventListener('click', async () => {
    try {
      await post('/api/v1/auth/logout');
    } finally {
      location.assign('/login');
    }
  });
  const tick = () => {
    $('#clock').textContent = `${clock(new Date(now()).toISOString())} ${zoneName()}`;
  };
  setInterval(tick, 1000);
}

async function load() {
  try {
    state.desk = await get('/api/v1/opd/referrals');
  } catch (err) {
    toast(err.message, 'error');
    return;
  }
  setZone(state.desk.region.timezone, state.desk.region.tz_label);
  draw();
}

const overdue = (r) => Boolean(NEXT[r.status]) && r.due_at != null && Date.parse(r.due_at) < now();

function draw() {
  const desk = state.desk;
  if (!desk) return;
  $('#agency').textContent = desk.agency.name;
  const open = desk.referrals.filter((r) => NEXT[r.status])
    .sort((a, b) => Number(overdue(b)) - Number(overdue(a)) || (a.due_at || '~').localeCompare(b.due_at || '~'));
  const late = open.filter(overdue).length;
  const chip = $('#overdue-chip');
  chip.hidden = late === 0;
  chip.textContent = t('opd.overdue_count', { n: late });
  $('#open-count').textContent = String(open.length);
  $('#open-empty').hidden = open.length > 0;
  fill($('#open-list'), open.map(card));
  fill($('#finished-list'), desk.referrals.filter((r) => !NEXT[r.status]).slice(0, 20).map(card));
}

function topicName(code) {
  const topic = code && state.desk.topics[code];
  if (!topic) return code || t('opd.no_topic');
  return getLang() === 'en' ? topic.name_en : topic.name;
}

function place(r) {
  if (r.lat == null || r.lon == null) return null;
  const at = `${r.lat.toFixed(5)},${r.lon.toFixed(5)}`;
  return h('div', { class: 'navs' },
    h('a', { class: 'nav', href: `geo:${at}?q=${at}` }, t('opd.open_map')),
    h('a', { class: 'nav', target: '_blank', rel: 'noopener noreferrer',
      href: `https://www.openstreetmap.org/?mlat=${r.lat}&mlon=${r.lon}#map=18/${r.lat}/${r.lon}` }, at));
}

function card(r) {
  const late = overdue(r);
  const note = NEXT[r.status] ? h('input', { class: 'note', maxlength: 500, placeholder: t('ref.note_placeholder') })
    : null;
  return h('li', { class: ['opd-ref', late ? 'overdue' : null], dataset: { id: r.id } },
    h('div', { class: 'row1' }, h('strong', {}, `#${r.id} · ${topicName(r.topic)}`), ' ',
      h('span', { class: `chip rst-${r.status}` }, t(`rstatus.${r.status}`)), ' ',
      late ? h('span', { class: 'chip danger' }, t('opd.overdue')) : null),
    h('p', { class: 'summary' }, r.summary),
    r.address ? h('p', {}, r.address) : null,
    place(r),
    h('p', { class: 'muted' }, t('opd.referred_at'), ': ', dateTime(r.referred_at),
      r.due_at ? [' · ', h('span', { class: ['due', late ? 'over' : null] },
        t('opd.due_at'), ': ', dateTime(r.due_at))] : null),
    r.note ? h('p', {}, t('opd.note'), ': ', r.note) : null,
    note ? h('div', {}, note, h('div', { class: 'actions' }, NEXT[r.status].map((status) => h('button', {
      type: 'button', class: `to-${status}`, onclick: () => step(r, status, note.value.trim()),
    }, t(`ref.to_${status}`))))) : null);
}

async function step(referral, status, note) {
  if (status === 'rejected' && !note) {
    toast(t('opd.reject_needs_note'), 'error');
    return;
  }
  try {
    const row = await post(`/api/v1/opd/referrals/${referral.id}/status`, { status, note: note || null },
      { key: newKey() });
    state.desk.referrals = state.desk.referrals.map((r) => (r.id === row.id ? row : r));
    draw();
    toast(t('opd.saved', { id: row.id, status: t(`rstatus.${row.status}`) }), 'ok');
  } catch (err) {
    toast(err.message, 'error');
  }
}

main();
