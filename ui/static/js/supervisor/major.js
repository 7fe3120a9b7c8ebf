// The supervisor's major incident section: declare one (by hand, from a live alert, or accepting a burst of calls
// the server proposes), stand it down, and watch the surge: calls per minute over the last hour against the same
// hour on normal days, calls waiting, abandoned, and the callers' choices at the announcement.

import { $, fill, h } from '../lib/dom.js';
import { getLang, number, onLang, t } from '../lib/i18n.js';
import { get, newKey, post } from '../lib/api.js';
import { clock } from '../lib/time.js';
import { toast } from '../lib/shell.js';

const EVERY_MS = 10_000; // the surge is a minute-by-minute figure: a poll is enough, and survives a deaf bus
const state = { active: null, proposals: [], alerts: [], surge: null, types: [], kecamatan: [] };
let chart = null;

export async function startMajor() {
  const section = h('section', { class: 'panel span2', id: 'major-panel' });
  $('main.dash').prepend(section);
  const [types, boundaries] = await Promise.all([
    get('/api/v1/incident-types').catch(() => []),
    get('/api/v1/geo/boundaries/kecamatan').catch(() => null),
  ]);
  state.types = types;
  state.kecamatan = ((boundaries && boundaries.features) || [])
    .map((f) => ({ code: f.properties.kode, name: f.properties.nama }))
    .sort((a, b) => a.name.localeCompare(b.name));
  onLang(draw);
  await refresh();
  setInterval(refresh, EVERY_MS);
}

export async function refresh() {
  try {
    const [active, proposals, alerts, surge] = await Promise.all([
      get('/api/v1/major/active'), get('/api/v1/major/proposals'), get('/api/v1/alerts').catch(() => []),
      get('/api/v1/major/surge'),
    ]);
    Object.assign(state, { active: active.major, proposals, alerts: alerts.filter((a) => a.banner), surge });
  } catch (err) {
    toast(`${t('err.load')}: ${err.message}`, 'error');
    return;
  }
  draw();
}

function draw() {
  const section = $('#major-panel');
  if (!section) return;
  // On an ordinary day nothing here asks for the supervisor: the section is one folded line at the page's end,
  // so the day's figures stay on top. A major incident, a proposal or a live alert brings it up, whole.
  const calm = !state.active && !state.proposals.length && !state.alerts.length;
  const main = $('main.dash');
  if (calm && section !== main.lastElementChild) main.append(section);
  const raised = !calm && section.classList.contains('calm');
  if (!calm && section !== main.firstElementChild) main.prepend(section);
  section.classList.toggle('calm', calm);
  if (calm) {
    const open = $('#major-fold') ? $('#major-fold').open : false;
    fill(section, h('details', { id: 'major-fold', open },
      h('summary', {}, h('h2', {}, t('major.section')), ' ', h('span', { class: 'muted small' }, t('major.calm'))),
      declareForm(), surgeView(state.surge)));
  } else {
    fill(section, h('div', { class: 'panel-head' }, h('h2', {}, t('major.section'))),
      state.active ? activeView(state.active) : declareForm(), surgeView(state.surge));
  }
  drawChart();
  if (raised) section.scrollIntoView({ block: 'start' }); // declared, proposed or alerted: in front of the supervisor
}

function activeView(major) {
  const stand = async (e) => {
    e.target.disabled = true;
    try {
      await post(`/api/v1/major/${major.id}/stand-down`);
      toast(t('major.stood_down', { name: major.name }));
    } catch (err) {
      toast(err.message, 'error');
    }
    refresh();
  };
  const names = major.kecamatan_codes.map((c) => (state.kecamatan.find((k) => k.code === c) || { name: c }).name);
  return h('div', { class: 'major-active-box', id: 'major-active' },
    h('p', {}, h('strong', {}, t('major.banner', { name: major.name })), ' · ', typeName(major.type_code), ' · ',
      names.length ? names.join(', ') : t('major.whole_region'), ' · ', t('major.since', { at: clock(major.declared_at) })),
    h('button', { type: 'button', id: 'major-stand-down', class: 'danger', onclick: stand }, t('major.stand_down')));
}

function declareForm() {
  const name = h('input', { id: 'major-name', type: 'text', maxlength: '200', placeholder: t('major.name_ph') });
  const type = h('select', { id: 'major-type' }, state.types.map((ty) => h('option',
    { value: ty.code, selected: ty.code === 'earthquake' }, getLang() === 'en' ? ty.name_en : ty.name_id)));
  const area = h('select', { id: 'major-area', multiple: true, size: '4', 'aria-label': t('major.area') },
    state.kecamatan.map((k) => h('option', { value: k.code }, k.name)));
  const declare = (extra) => send({ name: name.value.trim() || null, type_code: type.value, ...extra });
  const form = h('form', { class: 'period', id: 'major-declare', onsubmit: (e) => {
    e.preventDefault();
    declare({ kecamatan_codes: [...area.selectedOptions].map((o) => o.value) });
  } },
  h('label', { for: 'major-name' }, t('major.name')), name, h('label', { for: 'major-type' }, t('major.type')), type,
  h('label', { for: 'major-area' }, t('major.area')), area,
  h('button', { type: 'submit', class: 'primary' }, t('major.declare')));
  const proposals = state.proposals.length ? h('ul', { id: 'major-proposals' }, state.proposals.map((p) => h('li', {},
    t('major.proposal', { kecamatan: p.kecamatan, calls: p.calls, min: p.window_min, usual: number(p.usual) }), ' ',
    h('button', { type: 'button', onclick: () => declare({ origin: 'burst', kecamatan_codes: [p.kecamatan_code],
      name: name.value.trim() || t('major.burst_name', { kecamatan: p.kecamatan }) }) }, t('major.accept')))))
    : h('p', { class: 'muted small' }, t('major.no_proposals'));
  const alerts = state.alerts.length ? h('ul', { id: 'major-alerts' }, state.alerts.map((a) => h('li', {},
    getLang() === 'en' && a.headline_en ? a.headline_en : a.headline || a.event, ' ',
    h('button', { type: 'button', onclick: () => declare({ alert_id: a.id }) }, t('major.from_alert')))))
    : null;
  return h('div', {}, form, h('h3', {}, t('major.proposals')), proposals,
    alerts ? [h('h3', {}, t('major.alerts')), alerts] : null);
}

async function send(body) {
  try {
    const major = await post('/api/v1/major', body, { key: newKey() });
    toast(t('major.declared', { name: major.name }));
  } catch (err) {
    toast(err.message, 'error');
  }
  refresh();
}

function surgeView(surge) {
  if (!surge) return null;
  const card = (label, value, id) => h('div', { class: 'card', id }, h('div', { class: 'big' }, value), h('div', {}, label));
  const ratio = surge.ratio == null ? '–' : `${number(surge.ratio)}×`;
  return h('div', { id: 'major-surge' }, h('h3', {}, t('major.surge')),
    h('div', { class: 'cards' },
      card(t('major.last_hour'), surge.last_hour, 'surge-hour'),
      card(t('major.normal_hour'), number(surge.normal_hour), 'surge-normal'),
      card(t('major.ratio'), ratio, 'surge-ratio'),
      card(t('major.waiting'), surge.waiting, 'surge-waiting'),
      card(t('major.abandoned'), surge.abandoned, 'surge-abandoned')),
    h('p', { id: 'surge-choices' }, t('major.by_choice'), ' ',
      ['1', '2', '3', 'none'].map((c) => h('span', { class: 'chip' }, `${t(`major.choice_${c}`)}: ${surge.by_choice[c]}`))),
    h('div', { class: 'chart' }, h('canvas', { id: 'chart-surge', 'aria-label': t('major.surge') })));
}

function drawChart() {
  const surge = state.surge;
  if (!surge || typeof window.Chart === 'undefined' || !$('#chart-surge')) return;
  if (chart) chart.destroy();
  const labels = surge.per_minute.map((_, i) => `-${60 - i}`);
  chart = new window.Chart($('#chart-surge'), {
    data: { labels, datasets: [
      { type: 'bar', label: t('major.per_minute'), data: surge.per_minute, backgroundColor: '#c62828' },
      { type: 'line', label: t('major.normal_per_minute'), data: labels.map(() => surge.normal_per_minute),
        borderColor: '#1565c0', pointRadius: 0 },
    ] },
    options: { responsive: true, maintainAspectRatio: false, animation: false, scales: { y: { beginAtZero: true } } },
  });
}

function typeName(code) {
  const type = state.types.find((ty) => ty.code === code);
  if (!type) return code;
  return getLang() === 'en' ? type.name_en : type.name_id;
}
