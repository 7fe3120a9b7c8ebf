// The supervisor dashboard: response times against the standards, call mix, callbacks, follow-up per
// agency, recorded conversations to listen back to, and the queue right now. Every table has a CSV export;
// the page refreshes itself on events.

import { $, debounce, fill, h } from '../lib/dom.js';
import { callerText, getLang, localNumber, number, onLang, t } from '../lib/i18n.js';
import { get, post } from '../lib/api.js';
import { Stream } from '../lib/stream.js';
import { clock, dateTime, localDate } from '../lib/time.js';
import { boot, connection, tickTimers, timer, toast } from '../lib/shell.js';
import { startAudit } from './audit.js';
import { startAlerts } from './alerts.js';
import { startPlaces } from './places.js';
import { refresh as refreshMajor, startMajor } from './major.js';
import { ringButton } from '../lib/simulator.js';

const INTERVALS = ['answering', 'processing', 'turnout', 'travel', 'total'];
const CLASSES = ['emergency', 'information', 'prank', 'ghost', 'abandoned', 'unclassified'];
const CLASS_COLOURS = {
  emergency: '#c62828', information: '#1565c0', prank: '#6a1b9a', ghost: '#9e9e9e', abandoned: '#ef6c00',
  unclassified: '#cfd8dc',
};
const LIVE = ['call.', 'incident.', 'assignment.', 'referral.', 'taker.', 'caller.'];

const data = { all: null, grouped: null, mix: null, daily: null, follow: null, recordings: null, queue: null,
  takers: null, callbacks: null };
const charts = {};
let typeNames = null;
let referralNames = null; // agency names and referral topics, for the overdue list

async function main() {
  const { me, region } = await boot();
  if (me.role === 'admin') startAudit(); // the access audit (UU PDP): admins only
  const reloadAlerts = startAlerts(); // public alerts (CAP): confirm those without an area
  startPlaces(); // places learned from closed incidents: list, correct, remove
  startMajor(); // the major incident: declare (by hand, from an alert, a burst of calls), stand down, surge
  ringButton(me, region);
  $('#tz').textContent = t('sup.tz', { tz: region.tz_label });
  $('#from').value = localDate(-6);
  $('#to').value = localDate(0);
  for (const button of document.querySelectorAll('[data-days]')) {
    button.addEventListener('click', () => {
      $('#from').value = localDate(1 - Number(button.dataset.days));
      $('#to').value = localDate(0);
      loadPeriod();
    });
  }
  $('#period').addEventListener('submit', (e) => {
    e.preventDefault();
    loadPeriod();
  });
  $('#by').addEventListener('change', () => loadGrouped().then(drawTimes));
  onLang(drawAll);
  await Promise.all([loadPeriod(), loadLive()]);

  const refresh = debounce(() => {
    loadLive();
    if ($('#to').value >= localDate(0) || !data.all) loadPeriod();
  }, 1500);
  const delayed = busBanner(refresh);
  const stream = new Stream({
    onEvent: (event) => {
      if (event.type === 'bus.status') delayed(!(event.data && event.data.live));
      else if (event.type.startsWith('alert.')) reloadAlerts();
      else if (event.type.startsWith('major.')) refreshMajor();
      else if (LIVE.some((prefix) => event.type.startsWith(prefix))) refresh();
    },
    onLive: (first) => {
      delayed(false); // a server whose bus is deaf says so right after `live`
      if (!first || !data.all || !data.queue) refresh(); // missed events, or a first load that failed
    },
    onState: connection,
  });
  stream.start();
  tickTimers();
  setInterval(() => {
    if (stream.state !== 'live') connection(stream.state, { retryAt: stream.retryAt });
  }, 1000);
}

/**
 * While the server's bus is deaf (Redis down) events may not come: say so in a banner under the connection's
 * and reload the live figures every few seconds instead, until the bus is back. Returns `set(delayed)`.
 */
function busBanner(refresh, everyMs = 5000) {
  const banner = h('div', { id: 'bus-banner', class: 'banner bus-delayed', role: 'status', 'aria-live': 'polite' });
  Object.assign(banner.style, { background: '#fff3e0', color: '#7a3b00', fontWeight: '600' });
  banner.hidden = true;
  const draw = () => {
    banner.textContent = t('bus.delayed');
  };
  draw();
  onLang(draw);
  ($('#offline-banner') || document.body.firstChild).after(banner);
  let timer = null;
  return (delayed) => {
    if (banner.hidden === !delayed) return;
    banner.hidden = !delayed;
    clearInterval(timer);
    timer = delayed ? setInterval(refresh, everyMs) : null;
    if (delayed) refresh();
  };
}

function params(extra = {}) {
  const p = new URLSearchParams({ from: $('#from').value, to: $('#to').value, ...extra });
  return p.toString();
}

async function loadPeriod() {
  try {
    const [all, mix, daily, follow, recordings] = await Promise.all([
      get(`/api/v1/reports/response-times?${params({ by: 'all' })}`),
      get(`/api/v1/reports/call-mix?${params()}`),
      get(`/api/v1/reports/call-mix/daily?${params()}`),
      get(`/api/v1/reports/follow-up?${params()}`),
      get(`/api/v1/reports/recordings?${params()}`),
    ]);
    Object.assign(data, { all, mix, daily, follow, recordings });
    await loadGrouped();
  } catch (err) {
    toast(err.message, 'error');
    return;
  }
  $('#updated').textContent = t('sup.updated', { at: clock(new Date().toISOString()) });
  drawAll();
}

async function loadGrouped() {
  const by = $('#by').value;
  data.grouped = by === 'all' ? data.all : await get(`/api/v1/reports/response-times?${params({ by })}`);
  if (by === 'type' && !typeNames) {
    typeNames = new Map((await get('/api/v1/incident-types')).map((ty) => [ty.code, ty]));
  }
}

async function loadLive() {
  try {
    const [queue, takers, callbacks, overdue] = await Promise.all([
      get('/api/v1/reports/queue'), get('/api/v1/reports/takers'), get('/api/v1/reports/callbacks'),
      get('/api/v1/referrals?overdue=true'),
    ]);
    if (!referralNames) {
      const [agencies, topics] = await Promise.all([get('/api/v1/agencies'), get('/api/v1/referral-topics')]);
      referralNames = { agencies: new Map(agencies.map((a) => [a.id, a.name])),
        topics: new Map(topics.map((x) => [x.code, x])) };
    }
    Object.assign(data, { queue, takers, callbacks, overdue });
  } catch (err) {
    toast(err.message, 'error');
    return;
  }
  drawLive();
  drawOverdue();
  drawKpis();
}

function drawAll() {
  drawKpis();
  drawTimes();
  drawMix();
  drawFollow();
  drawRecordings();
  drawLive();
  drawOverdue();
  links();
}

function links() {
  $('#csv-times').href = `/api/v1/reports/response-times?${params({ by: $('#by').value, format: 'csv' })}`;
  $('#csv-mix').href = `/api/v1/reports/call-mix?${params({ format: 'csv' })}`;
  $('#csv-daily').href = `/api/v1/reports/call-mix/daily?${params({ format: 'csv' })}`;
  $('#csv-follow').href = `/api/v1/reports/follow-up?${params({ format: 'csv' })}`;
  $('#csv-recordings').href = `/api/v1/reports/recordings?${params({ format: 'csv' })}`;
  $('#csv-queue').href = '/api/v1/reports/queue?format=csv';
  $('#csv-takers').href = '/api/v1/reports/takers?format=csv';
  $('#csv-callbacks').href = '/api/v1/reports/callbacks?format=csv';
}

// ---- KPI cards ---------------------------------------------------------------------------------------

function row(interval) {
  return data.all ? data.all.rows.find((r) => r.group === '*' && r.interval === interval) : null;
}

const pct = (v) => (v == null ? '–' : `${number(v)}%`);
const secs = (v) => (v == null ? '–' : `${number(v, 0)} ${t('unit.s')}`);

function drawKpis() {
  const cards = [];
  for (const interval of INTERVALS) {
    const r = row(interval);
    const target = targetText(r, interval);
    if (interval === 'total') {
      cards.push(card(interval, r ? secs(r.p90_s) : '–', [t('sup.p90'), r ? ` · p50 ${secs(r.p50_s)} · n=${r.n}` : ''], null));
      continue;
    }
    const met = r && r.met != null ? r.met && (r.met2 == null || r.met2) : null;
    cards.push(card(interval, r ? pct(r.within_target_pct) : '–', [
      t('sup.within', { target }), r && r.target2_s != null ? ` · ${pct(r.within_target2_pct)} ≤ ${secs(r.target2_s)}` : '',
      h('br'), r ? `p90 ${secs(r.p90_s)} · n=${r.n}` : t('sup.no_data')], met));
  }
  if (data.mix) {
    cards.push(h('div', { class: 'card', dataset: { kpi: 'abandoned' } }, h('div', { class: 'name' }, t('sup.kpi.abandoned')),
      h('div', { class: 'big' }, pct(data.mix.abandon_rate_pct)),
      h('div', { class: 'sub' }, t('sup.false_calls', { pct: pct(data.mix.false_call_rate_pct), n: data.mix.total }))));
  }
  if (data.follow) {
    cards.push(h('div', { class: 'card', dataset: { kpi: 'follow' } }, h('div', { class: 'name' }, t('sup.kpi.follow')),
      h('div', { class: 'big' }, pct(data.follow.follow_up_pct)),
      h('div', { class: 'sub' }, t('sup.referred', { n: data.follow.referred }))));
  }
  if (data.queue) {
    cards.push(h('div', { class: ['card', data.queue.waiting ? 'missed' : 'met'], dataset: { kpi: 'queue' } },
      h('div', { class: 'name' }, t('sup.kpi.queue')), h('div', { class: 'big' }, String(data.queue.waiting)),
      h('div', { class: 'sub' }, data.queue.longest_s != null ? t('sup.longest', { s: Math.round(data.queue.longest_s) })
        : t('sup.nobody_waiting'))));
  }
  fill($('#kpis'), cards);
}

function card(interval, big, sub, met) {
  return h('div', { class: ['card', met === true && 'met', met === false && 'missed'], dataset: { kpi: interval } },
    h('div', { class: 'name' }, t(`interval.${interval}`)), h('div', { class: 'big' }, big),
    h('div', { class: 'sub' }, sub));
}

function targetText(r, interval) {
  if (interval === 'total') return '';
  if (!r || r.target_s == null) return interval === 'turnout' ? t('sup.turnout_mixed') : '–';
  return `${r.target_s} ${t('unit.s')} (${r.goal_pct}%)`;
}

// ---- response times ----------------------------------------------------------------------------------

function groupLabel(r, by) {
  // Grouped by type or place, the '*' row holds the calls that belong to no incident (no type, no place):
  // labelled as such, so that "all calls" never names two different counts.
  if (r.group === '*') return t(by === 'all' ? 'sup.all' : by === 'agency' ? 'sup.all_calls' : 'sup.no_incident');
  if (by === 'type' && typeNames && getLang() === 'en' && typeNames.has(r.group)) return typeNames.get(r.group).name_en;
  return r.group_label || t('sup.unknown_place');
}

function drawTimes() {
  const body = data.grouped;
  if (!body) return;
  const by = body.by;
  table($('#table-times'), [
    { label: t(`sup.by.${by}`), value: (r) => groupLabel(r, by) },
    { label: t('sup.interval'), value: (r) => t(`interval.${r.interval}`) },
    { label: 'n', key: 'n', num: true },
    { label: 'p50', value: (r) => secs(r.p50_s), num: true },
    { label: 'p90', value: (r) => secs(r.p90_s), num: true },
    { label: t('sup.target'), value: (r) => targetText(r, r.interval) },
    { label: t('sup.within_col'), value: (r) => pct(r.within_target_pct), num: true, cls: (r) => metClass(r.met) },
    { label: t('sup.second'), value: (r) => (r.target2_s != null ? `${pct(r.within_target2_pct)} ≤ ${secs(r.target2_s)} (${r.goal2_pct}%)` : ''),
      cls: (r) => metClass(r.met2) },
  ], body.rows, (r) => ({ interval: r.interval, group: r.group }));
  const rows = INTERVALS.map((i) => row(i));
  chart('chart-times', {
    type: 'bar',
    data: {
      labels: INTERVALS.map((i) => t(`interval.${i}`)),
      datasets: [
        { label: 'p50', data: rows.map((r) => (r ? r.p50_s : null)), backgroundColor: '#90caf9' },
        { label: 'p90', data: rows.map((r) => (r ? r.p90_s : null)), backgroundColor: '#1565c0' },
        { type: 'line', label: t('sup.target'), data: rows.map((r) => (r ? r.target_s : null)), showLine: false,
          pointStyle: 'line', pointRadius: 18, pointBorderWidth: 3, borderColor: '#c62828', backgroundColor: '#c62828' },
      ],
    },
    options: { scales: { y: { beginAtZero: true, title: { display: true, text: t('unit.seconds') } } } },
  });
}

function metClass(met) {
  return met === true ? 'met' : met === false ? 'missed' : null;
}

// ---- call mix, follow-up -----------------------------------------------------------------------------

function drawMix() {
  if (!data.mix || !data.daily) return;
  table($('#table-mix'), [
    { label: t('sup.class'), value: (r) => t(`class.${r.classification}`) },
    { label: t('sup.count'), key: 'count', num: true },
    { label: '%', value: (r) => pct(r.pct), num: true },
  ], data.mix.rows, (r) => ({ classification: r.classification }));
  chart('chart-mix', {
    type: 'bar',
    data: {
      labels: data.daily.rows.map((r) => r.date.slice(5)),
      datasets: CLASSES.map((c) => ({ label: t(`class.${c}`), data: data.daily.rows.map((r) => r[c]),
        backgroundColor: CLASS_COLOURS[c] })),
    },
    options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } },
  });
}

/** Referrals still open past their topic's deadline, the longest overdue first: each one a row in red. */
function drawOverdue() {
  if (!data.overdue || !referralNames) return;
  const rows = [...data.overdue].sort((a, b) => Date.parse(a.due_at) - Date.parse(b.due_at));
  $('#overdue-count').textContent = String(rows.length);
  const topic = (code) => {
    const x = code && referralNames.topics.get(code);
    return x ? (getLang() === 'en' ? x.name_en : x.name) : code || '–';
  };
  table($('#table-overdue'), [
    { label: '#', key: 'id', num: true },
    { label: t('sup.agency'), value: (r) => referralNames.agencies.get(r.agency_id) || r.agency_id },
    { label: t('referral.topic'), value: (r) => topic(r.topic) },
    { label: t('referral.summary'), key: 'summary' },
    { label: t('ref.due'), value: (r) => dateTime(r.due_at) },
    { label: t('sup.state'), value: (r) => t(`rstatus.${r.status}`) },
  ], rows, (r) => ({ id: r.id }), () => 'overdue');
  const none = h('tr', {}, h('td', { class: 'muted' }, t('sup.overdue_none')));
  if (!rows.length) fill($('#table-overdue'), h('tbody', {}, none));
}

function drawFollow() {
  if (!data.follow) return;
  table($('#table-follow'), [
    { label: t('sup.agency'), key: 'agency_name' },
    { label: t('sup.referred_col'), key: 'referred', num: true },
    { label: t('sup.waiting_col'), key: 'waiting', num: true },
    { label: t('rstatus.in_progress'), key: 'in_progress', num: true },
    { label: t('rstatus.done'), key: 'done', num: true },
    { label: t('rstatus.rejected'), key: 'rejected', num: true },
    { label: t('sup.overdue_col'), key: 'overdue', num: true, cls: (r) => (r.overdue ? 'late' : null) },
    { label: t('sup.follow_rate'), value: (r) => pct(r.follow_up_pct), num: true },
    { label: t('sup.first_response'), num: true,
      value: (r) => (r.p50_first_response_h == null ? '–' : `${number(r.p50_first_response_h)} ${t('unit.h')}`) },
  ], data.follow.rows, (r) => ({ agency: r.agency }));
  const used = data.follow.rows.filter((r) => r.referred > 0);
  chart('chart-follow', {
    type: 'bar',
    data: {
      labels: used.map((r) => r.agency_name),
      datasets: [{ label: t('sup.follow_rate'), data: used.map((r) => r.follow_up_pct), backgroundColor: '#2e7d32' }],
    },
    options: { indexAxis: 'y', scales: { x: { min: 0, max: 100 } } },
  });
}

// ---- recordings ----------------------------------------------------------------------------------------

const playing = new Map(); // call id -> the <audio> made for it, kept across redraws

function drawRecordings() {
  const body = data.recordings;
  if (!body) return;
  $('#recordings-hint').textContent = t('sup.recordings_hint', { n: body.shown, limit: body.limit });
  table($('#table-recordings'), [
    { label: t('sup.offered'), value: (r) => dateTime(r.offered_at) },
    { label: t('detail.caller'), value: (r) => localNumber(r.caller) || t('call.withheld') },
    { label: t('sup.taker'), value: (r) => r.taker },
    { label: t('sup.talked'), value: (r) => secs(r.talk_s), num: true },
    { label: t('sup.class'), value: (r) => t(`class.${r.classification || 'unclassified'}`) },
    { label: t('sup.incident'), value: (r) => (r.incident_id ? `#${r.incident_id}` : '') },
    { label: '', value: (r) => playing.get(r.call_id) || h('button', { type: 'button', class: 'play',
      onclick: (e) => play(r.call_id, e.currentTarget) }, t('sup.play')) },
  ], body.rows, (r) => ({ call: r.call_id }), (r) => (r.flagged ? 'flagged' : null));
}

/** Fetch the sound through the server (which asks the PBX), so that a missing recording says why. */
async function play(callId, button) {
  button.disabled = true;
  button.textContent = t('sup.loading');
  let response;
  try {
    response = await fetch(`/api/v1/telephony/calls/${callId}/recording`, { credentials: 'same-origin' });
  } catch {
    response = null;
  }
  if (!response || !response.ok) {
    let why = response ? `${response.status}` : t('err.network');
    if (response) {
      try {
        why = (await response.json()).error || why;
      } catch { /* not JSON: the status says enough */ }
    }
    toast(t('sup.recording_failed', { id: callId, why }), 'error');
    button.disabled = false;
    button.textContent = t('sup.play');
    return;
  }
  const audio = h('audio', { controls: true, preload: 'auto', dataset: { call: callId } });
  audio.src = URL.createObjectURL(await response.blob());
  audio.addEventListener('play', () => {
    for (const other of playing.values()) if (other !== audio) other.pause();
  });
  playing.set(callId, audio);
  button.replaceWith(audio);
  audio.play().catch(() => { /* autoplay refused: the controls are there */ });
}

// ---- live tables ---------------------------------------------------------------------------------------

function drawLive() {
  if (data.queue) {
    table($('#table-queue'), [
      { label: t('sup.position'), key: 'position', num: true },
      { label: t('sup.call'), value: (r) => `#${r.call_id}` },
      { label: t('detail.caller'), value: (r) => localNumber(r.caller) || t('call.withheld') },
      { label: t('sup.waiting'), value: (r) => timer(r.offered_at, { warn: 15, over: 20 }), num: true },
    ], data.queue.rows, (r) => ({ call: r.call_id }), (r) => (r.flagged ? 'flagged' : null));
  }
  if (data.takers) {
    table($('#table-takers'), [
      { label: t('sup.taker'), value: (r) => r.name },
      { label: t('sup.state'), value: (r) => t(`taker.${r.state}`) },
      { label: t('sup.since'), value: (r) => timer(r.since), num: true },
      { label: t('sup.call'), value: (r) => (r.call_id ? `#${r.call_id}` : '') },
      { label: t('sup.calls_today'), key: 'calls_today', num: true },
    ], data.takers.rows, (r) => ({ taker: r.username, state: r.state }));
  }
  if (data.callbacks) {
    table($('#table-callbacks'), [
      { label: t('detail.caller'), value: (r) => callerText(r) },
      { label: t('sup.offered'), value: (r) => dateTime(r.offered_at) },
      { label: t('sup.rang'), value: (r) => secs(r.rang_s), num: true },
      { label: '', value: (r) => h('button', { type: 'button', onclick: () => calledBack(r.call_id) }, t('sup.called_back')) },
    ], data.callbacks.rows, (r) => ({ call: r.call_id }), (r) => (r.flagged ? 'flagged' : null));
  }
}

async function calledBack(callId) {
  try {
    await post(`/api/v1/calls/${callId}/callback-done`);
    loadLive();
  } catch (err) {
    toast(err.message, 'error');
  }
}

// ---- helpers -------------------------------------------------------------------------------------------

function table(el, columns, rows, dataset, rowClass) {
  fill(el,
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { class: c.num ? 'num' : null }, c.label)))),
    h('tbody', {}, rows.length ? rows.map((r) => h('tr', { dataset: dataset ? dataset(r) : undefined,
      class: rowClass ? rowClass(r) : null }, columns.map((c) => {
      const value = c.value ? c.value(r) : r[c.key];
      return h('td', { class: [c.num && 'num', c.key || null, c.cls && c.cls(r)] }, value ?? '–');
    }))) : h('tr', {}, h('td', { colspan: columns.length, class: 'muted' }, t('sup.no_data')))));
}

function chart(id, config) {
  if (typeof window.Chart === 'undefined') {
    const canvas = $(`#${id}`);
    canvas.replaceWith(h('p', { class: 'muted', id }, t('sup.no_chart_lib')));
    return;
  }
  const options = { responsive: true, maintainAspectRatio: false, animation: false, ...config.options };
  if (charts[id]) charts[id].destroy();
  charts[id] = new window.Chart($(`#${id}`), { ...config, options });
}

main().catch((err) => {
  document.body.prepend(h('div', { class: 'banner offline' }, err.message));
});
