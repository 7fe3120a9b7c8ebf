// The responder's phone: the unit's current assignment, one tap per status, position while on duty, and an
// outbox so that taps on a weak connection are sent later, in order, exactly once.

import { $, fill, h } from '../lib/dom.js';
import { getLang, onLang, t } from '../lib/i18n.js';
import { get } from '../lib/api.js';
import { Stream } from '../lib/stream.js';
import { clock, dateTime } from '../lib/time.js';
import { boot, connection, tickTimers, timer, toast } from '../lib/shell.js';
import { Outbox } from './outbox.js';
import { audioReady, beep, unlockAudio, vibrate } from './alert.js';

// The buttons, and the statuses each can be tapped from (the server's assignment state machine).
const STEPS = [
  ['acknowledged', ['dispatched']],
  ['en_route', ['dispatched', 'acknowledged']],
  ['on_scene', ['en_route']],
  ['transporting', ['on_scene']],
  ['cleared', ['on_scene', 'transporting', 'at_hospital']],
];
const ACTIVE = new Set(['dispatched', 'acknowledged', 'en_route', 'on_scene', 'transporting', 'at_hospital']);
const REALERT_MS = 15000;
const SEND_EVERY_MS = 30000;
const SEND_MOVED_M = 30;
const GPS_ERRORS = { 1: 'gps.denied', 2: 'gps.error', 3: 'gps.timeout' };

const state = { me: null, unit: null, mine: [], outbox: null, alerts: 0, lastFix: null, lastSent: null };
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
  state.outbox = new Outbox(`tanggap.outbox.${me.username}`, {
    onChange: drawOutbox,
    onSent: (item, answer) => {
      if (item.kind === 'action' && answer && answer.id) update(answer);
      if (item.kind === 'position') state.lastSent = item.body;
      drawGps();
    },
    onRejected: (item, err) => {
      toast(t('resp.rejected', { what: item.label, why: err.message }), 'error', 10000);
      load();
    },
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
    state.mine = mine.map((a) => ({ ...a, status: pendingStatus(a) || a.status }));
    for (const assignment of during) merge(assignment);
    const now = current();
    if (alert && now && now.status === 'dispatched' && (!before || before.id !== now.id)) announce();
  } catch (err) {
    toast(err.message, 'error');
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
  const mine = state.outbox.items.filter((i) => i.kind === 'action' && i.ref === assignment.id);
  return mine.length ? mine[mine.length - 1].body.status : null;
}

function merge(assignment) {
  const at = state.mine.findIndex((a) => a.id === assignment.id);
  if (at < 0) return;
  const pending = pendingStatus(assignment);
  state.mine[at] = { ...state.mine[at], ...assignment, status: pending || assignment.status };
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

function tap(assignment, status) {
  unlockAudio();
  const label = `${t(`resp.step.${status}`)} #${assignment.incident_id}`;
  state.outbox.add({
    url: `/api/v1/assignments/${assignment.id}/status`,
    body: { status },
    ref: assignment.id,
    label,
  });
  assignment.status = status;
  if (status !== 'dispatched') $('#alert').hidden = true;
  draw();
}

function draw() {
  const unit = state.unit;
  $('#unit').textContent = unit ? unit.callsign : state.me.name;
  const a = current();
  const status = a ? a.status : unit ? unit.status : 'available';
  const chip = $('#unit-status');
  chip.className = `chip ust-${status}`;
  chip.textContent = t(`astatus.${status}`);
  drawCurrent(a);
  drawRecent();
}

function drawCurrent(a) {
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
    i.notes ? h('p', { class: 'notes' }, i.notes) : null,
    h('p', { class: 'muted' }, t('resp.dispatched_at', { at: clock(a.dispatched_at) }), ' · ', timer(a.dispatched_at)),
    h('div', { class: 'navs' }, nav),
    h('div', { class: 'steps' }, STEPS.map(([step, from]) => {
      const allowed = from.includes(a.status);
      const next = allowed && STEPS.find(([, f]) => f.includes(a.status))[0] === step;
      return h('button', {
        type: 'button', class: ['step', `step-${step}`, next && 'next'], disabled: !allowed,
        dataset: { step }, onclick: () => tap(a, step),
      }, t(`resp.step.${step}`));
    })));
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
