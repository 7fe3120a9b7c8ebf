// The responder's phone: the unit's current assignment, one tap per status, position while on duty, and an
// outbox so that taps on a weak connection are sent later, in order, exactly once. A tap changes the screen at
// once (marked as waiting for a signal until the server has it) and carries the time it was made.

import { $, fill, h } from '../lib/dom.js';
import { getLang, onLang, t } from '../lib/i18n.js';
import { get } from '../lib/api.js';
import { Stream } from '../lib/stream.js';
import { clock, dateTime, now as serverNow } from '../lib/time.js';
import { boot, connection, tickTimers, timer, toast } from '../lib/shell.js';
import { Outbox } from './outbox.js';
import { audioReady, beep, unlockAudio, vibrate } from './alert.js';
import { uncertainty } from './uncertainty.js';

// The buttons, and the statuses each can be tapped from (the server's assignment state machine). The patient
// steps are offered only to a unit that carries patients (an ambulance; the server refuses them to the others).
const STEPS = [
  ['acknowledged', ['dispatched']],
  ['en_route', ['dispatched', 'acknowledged']],
  ['on_scene', ['en_route']],
  ['transporting', ['on_scene']],
  ['at_hospital', ['transporting']],
  ['cleared', ['on_scene', 'transporting', 'at_hospital']],
];
const PATIENT_STEPS = new Set(['transporting', 'at_hospital']);
const ACTIVE = new Set(['dispatched', 'acknowledged', 'en_route', 'on_scene', 'transporting', 'at_hospital']);
const STAMP = { dispatched: 'dispatched_at', acknowledged: 'acknowledged_at', en_route: 'en_route_at',
  on_scene: 'on_scene_at', transporting: 'transporting_at', at_hospital: 'at_hospital_at' };
// Refusals explained in Bahasa by their kind (ui/errors.py); any other gets a general text, the server's
// English words small beneath it.
const REFUSALS = new Set(['InvalidTransition', 'Invalid', 'Forbidden', 'NotFound', 'ValidationError']);
const REALERT_MS = 15000;
const SEND_EVERY_MS = 30000;
const SEND_MOVED_M = 30;
const GPS_ERRORS = { 1: 'gps.denied', 2: 'gps.error', 3: 'gps.timeout' };

const state = { me: null, unit: null, mine: [], outbox: null, alerts: 0, cancels: 0, lastFix: null, lastSent: null,
  known: new Set(), notices: [] };
// Assignment updates seen while a load is in flight: its snapshot may predate them, so they are applied again
// on top of it (a reconnect flushes the outbox and reloads at once; the reply could otherwise undo the tap).
let loading = 0;
let during = [];

async function main() {
  const { me } = await boot();
  state.me = me;
  if (me.unit_id == null) {
    fill($('#current'), h('p', { class: 'error' }, t('resp.no_unit')));
    return;
  }
  state.known = new Set(remember('known', []));
  state.notices = remember('notices', []);
  state.outbox = new Outbox(`tanggap.outbox.${me.username}`, {
    onChange: (items) => {
      drawOutbox(items);
      draw(); // a tap the server now has is no longer marked as waiting
    },
    onSent: (item, answer) => {
      if (item.kind === 'action' && answer && answer.id) update(answer);
      if (item.kind === 'position') state.lastSent = item.body;
      draw();
      drawGps();
    },
    onRejected: refused,
  });
  drawOutbox(state.outbox.items);
  $('#send-now').addEventListener('click', () => state.outbox.flush());
  $('#sound').addEventListener('click', () => {
    unlockAudio();
    setTimeout(drawSound, 100);
  });
  document.addEventListener('pointerdown', () => {
    unlockAudio();
    setTimeout(drawSound, 100);
  }, { once: true });
  drawSound();
  setupGps();
  onLang(draw);

  const stream = new Stream({
    onEvent: (event) => {
      const d = event.data || {};
      if (event.type === 'assignment.created' && d.assignment && d.assignment.unit_id === me.unit_id) {
        load({ alert: true });
      } else if (event.type === 'assignment.status' && d.assignment) {
        update(d.assignment);
        if (d.unit && d.unit.id === me.unit_id) state.unit = { ...state.unit, ...d.unit };
        draw();
      } else if (event.type.startsWith('incident.')) {
        load();
      } else if (event.type === 'unit.status' && d.unit && d.unit.id === me.unit_id) {
        state.unit = { ...state.unit, ...d.unit };
        draw();
      }
    },
    onLive: (first) => {
      state.outbox.flush();
      if (first) load({ alert: true });
      else load(); // we may have missed an incident update while away; cheap to ask
    },
    onState: connection,
  });
  stream.start();
  tickTimers();
  setInterval(() => {
    if (stream.state !== 'live') connection(stream.state, { retryAt: stream.retryAt });
    realert();
  }, 1000);
}

async function load({ alert = false } = {}) {
  loading += 1;
  try {
    const [mine, units] = await Promise.all([get('/api/v1/assignments/mine'), state.unit ? null : get('/api/v1/units')]);
    if (units) state.unit = units.find((u) => u.id === state.me.unit_id) || null;
    const before = current();
    // Keep what this phone has done but not yet sent: the outbox is the truth for those.
    state.mine = mine.map(shown);
    for (const assignment of during) merge(assignment, { watching: false });
    watch();
    const now = current();
    if (alert && now && now.status === 'dispatched' && (!before || before.id !== now.id)) announce();
  } catch (err) {
    toast(err.status === 0 ? err.message : t('err.load'), 'error'); // err.network is in Bahasa already
  } finally {
    loading -= 1;
    if (!loading) during = [];
  }
  draw();
}

/** A newer state of one of our assignments (an event, or the answer to a tap). */
function update(assignment) {
  merge(assignment);
  if (loading) during.push(assignment);
}

function pendingStatus(assignment) {
  const item = pendingItem(assignment);
  return item ? item.body.status : null;
}

function merge(assignment, { watching = true } = {}) {
  const at = state.mine.findIndex((a) => a.id === assignment.id);
  if (at < 0) return;
  state.mine[at] = shown({ ...state.mine[at], ...assignment });
  if (watching) watch();
}

/** The assignment as the phone shows it: its own unsent tap over the server's status, unless the server has
 * ended the assignment (a cancellation wins over a tap still waiting for a signal). */
function shown(a) {
  const pending = pendingStatus(a);
  return { ...a, status: pending && ACTIVE.has(a.status) ? pending : a.status };
}

/** Notice the assignments this phone saw active that have been cancelled since (live, or found on a reload
 * after a time without signal). The ids it saw are kept across reloads. */
function watch() {
  for (const a of state.mine) {
    if (ACTIVE.has(a.status)) state.known.add(a.id);
    else if (state.known.has(a.id)) {
      state.known.delete(a.id);
      if (a.status === 'cancelled') cancelled(a);
    }
  }
  keep('known', [...state.known]);
}

function cancelled(a) {
  if (state.notices.some((n) => n.kind === 'cancelled' && n.id === a.id)) return;
  const i = a.incident || {};
  state.notices.push({ kind: 'cancelled', id: a.id, incident_id: a.incident_id, type_id: i.type_name_id,
    type_en: i.type_name_en, address: i.address || null, reason: a.cancel_reason || null, at: a.cleared_at });
  keep('notices', state.notices);
  state.cancels += 1;
  document.body.dataset.cancelAlerts = String(state.cancels);
  $('#alert').hidden = true;
  beep();
  vibrate();
  drawNotices();
}

/** A tap or position the server refused for good: said in Bahasa, kept on screen until dismissed. */
async function refused(item, err) {
  await load(); // the screen shows what the server has again; the refusal is explained against it
  if (item.kind === 'position') {
    toast(t('resp.refused.position'), 'error', 10000);
    return;
  }
  const a = state.mine.find((x) => x.id === item.ref);
  state.notices.push({ kind: 'refused', id: item.id, step: item.body.status, incident_id: a ? a.incident_id : null,
    why: REFUSALS.has(err.kind) ? err.kind : 'other', status: a ? a.status : null,
    detail: REFUSALS.has(err.kind) ? null : err.detail || err.message });
  keep('notices', state.notices);
  vibrate();
  drawNotices();
}

function dismiss(notice) {
  state.notices = state.notices.filter((n) => n !== notice);
  keep('notices', state.notices);
  drawNotices();
}

function remember(name, fallback) {
  try {
    const value = JSON.parse(localStorage.getItem(`tanggap.${name}.${state.me.username}`) || 'null');
    return Array.isArray(value) ? value : fallback;
  } catch {
    return fallback;
  }
}

function keep(name, value) {
  localStorage.setItem(`tanggap.${name}.${state.me.username}`, JSON.stringify(value));
}

function current() {
  return state.mine.find((a) => ACTIVE.has(a.status)) || null;
}

function announce() {
  state.alerts += 1;
  state.lastAlert = Date.now();
  document.body.dataset.alerts = String(state.alerts);
  $('#alert').hidden = false;
  beep();
  vibrate();
}

function realert() {
  const now = current();
  if (!now || now.status !== 'dispatched') {
    $('#alert').hidden = true;
    return;
  }
  if (!state.lastAlert || Date.now() - state.lastAlert > REALERT_MS) announce();
}

function steps() {
  const patients = Boolean(state.unit && state.unit.carries_patients);
  return STEPS.filter(([step]) => patients || !PATIENT_STEPS.has(step));
}

const allowed = (status, step) => steps().some(([s, from]) => s === step && from.includes(status));

function tap(id, status) {
  unlockAudio();
  const at = state.mine.findIndex((a) => a.id === id);
  const assignment = state.mine[at];
  // Checked against the status shown now, not the one the button was drawn for: a second tap of one step,
  // or a tap of a button from an older drawing, queues nothing.
  if (!assignment || !allowed(assignment.status, status)) return;
  state.mine[at] = { ...assignment, status };
  $('#alert').hidden = true;
  state.outbox.add({
    url: `/api/v1/assignments/${id}/status`,
    // The time of the tap by the server's clock as this phone last learnt it; the server keeps it as the step's
    // time when it is plausible, however late the tap arrives.
    body: { status, at: new Date(serverNow()).toISOString() },
    ref: id,
    label: `${t(`resp.step.${status}`)} #${assignment.incident_id}`,
  });
  draw();
}

function draw() {
  const unit = state.unit;
  $('#unit').textContent = unit ? unit.callsign : state.me.name;
  const a = current();
  const status = a ? a.status : unit ? unit.status : 'available';
  const waiting = a ? pendingItem(a) : null;
  const chip = $('#unit-status');
  chip.className = ['chip', `ust-${status}`, waiting && 'pending'].filter(Boolean).join(' ');
  chip.textContent = t(`astatus.${status}`);
  $('#pending-chip').hidden = !waiting;
  drawNotices();
  drawCurrent(a, waiting);
  drawRecent();
}

/** The newest tap of this assignment still in the outbox, or null once the server has them all. */
function pendingItem(a) {
  const mine = state.outbox.items.filter((i) => i.kind === 'action' && i.ref === a.id);
  return mine.length ? mine[mine.length - 1] : null;
}

function drawNotices() {
  const lang = getLang();
  fill($('#notices'), state.notices.map((n) => {
    const ok = h('button', { type: 'button', class: 'dismiss', onclick: () => dismiss(n) }, t('resp.notice_ok'));
    if (n.kind === 'cancelled') {
      const name = lang === 'en' ? n.type_en : n.type_id;
      return h('div', { class: 'notice cancelled', role: 'alert', dataset: { assignment: n.id } },
        h('strong', {}, t('resp.cancelled_title')),
        h('p', {}, `#${n.incident_id} `, name || '', n.address ? ` · ${n.address}` : ''),
        h('p', { class: 'reason' }, n.reason ? t('resp.cancelled_reason', { reason: n.reason })
          : t('resp.cancelled_no_reason')),
        n.at ? h('p', { class: 'muted' }, t('resp.cancelled_at', { at: clock(n.at) })) : null,
        ok);
    }
    const what = `${t(`resp.step.${n.step}`)}${n.incident_id ? ` #${n.incident_id}` : ''}`;
    const status = n.status ? t(`astatus.${n.status}`).toLowerCase() : t('resp.refused.unknown_status');
    return h('div', { class: 'notice refused', role: 'alert', dataset: { why: n.why } },
      h('strong', {}, t('resp.refused.title')),
      h('p', {}, t(`resp.refused.${n.why}`, { what, status })),
      n.detail ? h('small', { class: 'muted detail', lang: 'en' }, n.detail) : null,
      ok);
  }));
}

function drawCurrent(a, waiting) {
  const box = $('#current');
  if (!a) {
    fill(box, h('p', { class: 'idle' }, t('resp.idle')));
    return;
  }
  const i = a.incident;
  const name = getLang() === 'en' ? i.type_name_en : i.type_name_id;
  const where = [i.kelurahan, i.kecamatan].filter(Boolean).join(', ');
  const nav = i.lat != null ? [
    h('a', { class: 'nav', href: `geo:${i.lat},${i.lon}?q=${i.lat},${i.lon}` }, t('resp.navigate')),
    h('a', { class: 'nav', target: '_blank', rel: 'noopener noreferrer',
      href: `https://www.openstreetmap.org/?mlat=${i.lat}&mlon=${i.lon}#map=17/${i.lat}/${i.lon}` }, 'OpenStreetMap'),
  ] : [h('p', { class: 'muted' }, t('resp.no_coords'))];
  fill(box,
    h('div', { class: 'head' }, h('span', { class: `prio p${i.priority}` }, `P${i.priority}`), ' ',
      h('strong', {}, name), h('span', { class: 'muted' }, ` #${i.id}`)),
    h('p', { class: 'address' }, i.address || t('detail.no_place')),
    where ? h('p', { class: 'muted' }, where) : null,
    uncertainty(i, state.lastFix && state.lastFix.coords), // how sure the point is: a circle, to scale
    i.notes ? h('p', { class: 'notes' }, i.notes) : null,
    h('p', { class: 'muted' }, t('resp.dispatched_at', { at: clock(a.dispatched_at) }), ' · ', timer(a.dispatched_at)),
    waiting
      ? h('p', { class: 'pending-line', role: 'status' }, t('resp.pending_line', {
        step: t(`resp.step.${waiting.body.status}`), at: clock(waiting.body.at || waiting.at) }))
      : recorded(a),
    h('div', { class: 'navs' }, nav),
    h('div', { class: 'steps' }, steps().map(([step, from], _, shownSteps) => {
      const can = from.includes(a.status);
      const next = can && shownSteps.find(([, f]) => f.includes(a.status))[0] === step;
      // After the arrival at hospital, "available" means the patient has been handed over.
      const text = step === 'cleared' && a.status === 'at_hospital' ? t('resp.step.handover') : t(`resp.step.${step}`);
      return h('button', {
        type: 'button', class: ['step', `step-${step}`, next && 'next'], disabled: !can,
        dataset: { step }, onclick: () => tap(a.id, step),
      }, text);
    })));
}

/** The step the server has recorded last, and its time (the tap's, when the server believed the phone). */
function recorded(a) {
  const at = a[STAMP[a.status]];
  if (!at || a.status === 'dispatched') return null;
  return h('p', { class: 'recorded', dataset: { at } }, t('resp.recorded', { status: t(`astatus.${a.status}`),
    at: clock(at) }));
}

function drawRecent() {
  const done = state.mine.filter((a) => !ACTIVE.has(a.status)).slice(0, 5);
  $('#recent-box').hidden = done.length === 0;
  fill($('#recent'), done.map((a) => h('li', {}, dateTime(a.dispatched_at), ' · #', a.incident_id, ' ',
    getLang() === 'en' ? a.incident.type_name_en : a.incident.type_name_id, ' · ', t(`astatus.${a.status}`))));
}

function drawOutbox(items) {
  const actions = items || [];
  $('#outbox').hidden = actions.length === 0;
  $('#outbox-count').textContent = String(actions.length);
  fill($('#outbox-list'), actions.map((item) => h('li', {},
    item.kind === 'position' ? t('resp.position') : item.label, ' · ', clock(item.at),
    item.error ? h('span', { class: 'muted' }, ` · ${t('resp.retrying')}`) : null)));
}

function drawSound() {
  $('#sound').hidden = audioReady();
}

// ---- position ----------------------------------------------------------------------------------------

function setupGps() {
  const toggle = $('#duty');
  toggle.checked = localStorage.getItem('tanggap.duty') !== 'off';
  toggle.addEventListener('change', () => {
    localStorage.setItem('tanggap.duty', toggle.checked ? 'on' : 'off');
    drawGps();
  });
  if (!('geolocation' in navigator)) {
    state.gpsError = t('gps.unsupported');
  } else if (!window.isSecureContext) {
    state.gpsError = t('gps.insecure');
  } else {
    navigator.geolocation.watchPosition((pos) => {
      state.gpsError = null;
      state.lastFix = pos;
      share(pos);
      drawGps();
    }, (err) => {
      state.gpsError = t(GPS_ERRORS[err.code] || 'gps.error');
      drawGps();
    }, { enableHighAccuracy: true, maximumAge: 10000, timeout: 60000 });
  }
  drawGps();
}

function share(pos) {
  if (!$('#duty').checked) return;
  const { latitude: lat, longitude: lon, accuracy } = pos.coords;
  const last = state.lastQueued;
  const moved = last ? metres(last.lat, last.lon, lat, lon) : Infinity;
  if (last && moved < SEND_MOVED_M && pos.timestamp - last.t < SEND_EVERY_MS) return;
  state.lastQueued = { lat, lon, t: pos.timestamp };
  state.outbox.add({
    kind: 'position', url: `/api/v1/units/${state.me.unit_id}/position`, label: t('resp.position'),
    body: { lat, lon, accuracy_m: Math.min(accuracy, 100000), at: new Date(pos.timestamp).toISOString() },
  });
}

function drawGps() {
  const box = $('#gps-status');
  if (!$('#duty').checked) fill(box, t('gps.off'));
  else if (state.gpsError) fill(box, h('span', { class: 'error' }, state.gpsError));
  else if (state.lastFix) {
    fill(box, t('gps.fix', { m: Math.round(state.lastFix.coords.accuracy) }),
      state.lastSent ? ` · ${t('gps.sent', { at: clock(state.lastSent.at) })}` : '');
  } else fill(box, t('gps.waiting'));
}

function metres(lat1, lon1, lat2, lon2) {
  const rad = Math.PI / 180;
  const x = (lon2 - lon1) * rad * Math.cos(((lat1 + lat2) / 2) * rad);
  const y = (lat2 - lat1) * rad;
  return Math.sqrt(x * x + y * y) * 6371000;
}

main().catch((err) => {
  document.body.prepend(h('div', { class: 'banner offline' }, err.message));
});
