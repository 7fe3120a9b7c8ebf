// The console's picture of the world: a snapshot from the API, then kept current by applying each event.

import { get } from '../lib/api.js';

const CALL_EVENTS = new Set(['call.offered', 'call.answered', 'call.classified', 'call.ended', 'call.linked',
  'call.callback_done']);

export class Store {
  constructor() {
    this.calls = new Map();
    this.locations = new Map(); // call id -> [location reports]
    this.messages = new Map(); // call id -> [texts of a text call, oldest first]
    this.transcripts = new Map(); // call id -> [what the caller said (`call.transcript`), by seq]
    this.incidents = new Map(); // open incidents
    this.assignments = new Map();
    this.units = new Map();
    this.agencies = new Map();
    this.topics = new Map();
    this.stations = new Map();
    this.types = new Map();
    this.referrals = new Map();
    this.me = null; // the logged-in user (GET /auth/me): `available` is kept current by `taker.available`
    this.listeners = [];
    this.ready = false;
    this.pending = [];
  }

  on(fn) {
    this.listeners.push(fn);
  }

  emit(topic, detail) {
    for (const fn of this.listeners) fn(topic, detail);
  }

  /**
   * Load everything. Events received before the load started are in the snapshot already and are dropped;
   * those that arrive while it loads are applied afterwards, in order, so the picture ends up current.
   */
  async load({ referrals = true } = {}) {
    this.ready = false;
    this.pending = [];
    const [calls, incidents, units, agencies, stations, types, open, me] = await Promise.all([
      get('/api/v1/calls?active=true'), get('/api/v1/incidents?open=true'), get('/api/v1/units'),
      get('/api/v1/agencies'), get('/api/v1/stations'), get('/api/v1/incident-types'),
      referrals ? get('/api/v1/referrals?open=true') : Promise.resolve([]), get('/api/v1/auth/me'),
    ]);
    // The region's complaint topics (which agency, how many hours): the agency picker finds them by keyword.
    replace(this.topics, await get('/api/v1/referral-topics'), 'code');
    const full = await Promise.all(incidents.map((i) => get(`/api/v1/incidents/${i.id}`)));
    replace(this.types, types, 'code');
    replace(this.agencies, agencies);
    replace(this.stations, stations);
    replace(this.units, units);
    replace(this.calls, calls);
    replace(this.referrals, open);
    this.me = me;
    this.incidents.clear();
    this.assignments.clear();
    for (const incident of full) {
      for (const a of incident.assignments) this.assignments.set(a.id, a);
      for (const c of incident.calls) if (!this.calls.has(c.id)) this.calls.set(c.id, c);
      const { assignments, calls: linked, type, ...plain } = incident;
      this.incidents.set(incident.id, plain);
    }
    this.ready = true;
    const queued = this.pending;
    this.pending = [];
    for (const event of queued) this.apply(event);
    this.emit('all');
  }

  /** Texts of a text call, from an event or from GET /calls/{id}: a reply's later status replaces it. */
  addMessages(callId, list) {
    const known = this.messages.get(callId) || [];
    for (const m of list) {
      const at = known.findIndex((k) => k.id === m.id);
      if (at >= 0) known[at] = m;
      else known.push(m);
    }
    known.sort((a, b) => Date.parse(a.at) - Date.parse(b.at) || a.id - b.id);
    this.messages.set(callId, known);
    this.emit('messages', callId);
  }

  /** What a caller said, from an event or from GET /calls/{id}; a line is known by its event's seq. */
  addTranscript(callId, lines) {
    const known = this.transcripts.get(callId) || [];
    for (const line of lines) if (!known.some((k) => k.seq === line.seq)) known.push(line);
    known.sort((a, b) => a.seq - b.seq);
    this.transcripts.set(callId, known);
    this.emit('transcript', callId);
  }

  apply(event) {
    if (!this.ready) {
      this.pending.push(event);
      return;
    }
    const d = event.data || {};
    const type = event.type;
    if (CALL_EVENTS.has(type)) {
      const { cause, ...call } = d;
      this.calls.set(call.id, { ...this.calls.get(call.id), ...call });
      this.emit('calls', call.id);
    } else if (type === 'call.location') {
      const list = this.locations.get(d.call_id) || [];
      if (!list.some((l) => l.id === d.id)) list.push(d);
      this.locations.set(d.call_id, list);
      this.emit('location', d.call_id);
    } else if (type === 'call.message') {
      this.addMessages(d.call_id, [d]);
    } else if (type === 'call.transcript') {
      this.addTranscript(d.call_id, [{ ...d, seq: event.seq, at: event.at }]);
    } else if (type === 'caller.flagged' || type === 'caller.unflagged') {
      this.emit('caller', d.caller);
    } else if (type === 'incident.created') {
      this.incidents.set(d.incident.id, d.incident);
      this.emit('incidents', d.incident.id);
    } else if (type.startsWith('incident.')) {
      this.mergeIncident(d.id, d.incident);
    } else if (type === 'assignment.created' || type === 'assignment.status') {
      const a = d.assignment;
      this.assignments.set(a.id, a);
      if (d.unit) this.units.set(d.unit.id, { ...this.units.get(d.unit.id), ...d.unit });
      if (d.incident) this.mergeIncident(a.incident_id, d.incident);
      this.emit('assignments', a.incident_id);
      this.emit('units', a.unit_id);
    } else if (type === 'unit.position') {
      const unit = this.units.get(d.unit_id);
      if (unit) {
        Object.assign(unit, { lat: d.lat, lon: d.lon, position_accuracy_m: d.accuracy_m, position_at: d.at });
        this.emit('position', d.unit_id);
      }
    } else if (type === 'unit.status') {
      this.units.set(d.unit.id, { ...this.units.get(d.unit.id), ...d.unit });
      this.emit('units', d.unit.id);
    } else if (type === 'taker.available') {
      if (this.me && d.user_id === this.me.id) {
        this.me.available = Boolean(d.available);
        this.emit('readiness', event);
      }
    } else if (type.startsWith('referral.')) {
      this.referrals.set(d.referral.id, d.referral);
      this.emit('referrals', d.referral.id);
    }
    this.emit('event', event);
  }

  mergeIncident(id, changes) {
    const current = this.incidents.get(id);
    if (!current) return; // closed before we loaded it, or not ours to see
    Object.assign(current, changes || {});
    if (current.status === 'closed') this.incidents.delete(id);
    this.emit('incidents', id);
  }

  /** Forget ended calls nobody needs on screen any more (a console runs through a whole shift). */
  prune(keepId, olderThanMs = 30 * 60 * 1000) {
    const cutoff = Date.now() - olderThanMs;
    for (const [id, call] of this.calls) {
      const ended = call.status === 'ended' && Date.parse(call.ended_at || call.offered_at) < cutoff;
      if (ended && id !== keepId && !this.incidents.has(call.incident_id)) {
        this.calls.delete(id);
        this.locations.delete(id);
        this.transcripts.delete(id);
      }
    }
  }

  assignmentsOf(incidentId) {
    return [...this.assignments.values()].filter((a) => a.incident_id === incidentId)
      .sort((a, b) => a.id - b.id);
  }

  callsOf(incidentId) {
    return [...this.calls.values()].filter((c) => c.incident_id === incidentId);
  }

  typeName(code, lang) {
    const type = this.types.get(code);
    if (!type) return code;
    return lang === 'en' ? type.name_en : type.name_id;
  }
}

function replace(map, rows, key = 'id') {
  map.clear();
  for (const row of rows) map.set(row[key], row);
}

/**
 * While the server says its bus is deaf (`bus.status` live: false), events may come late or not at all on the
 * websocket: read the event log every few seconds ourselves, through `receive` (the stream's own dedupe by
 * `seq`, so an event that also comes on the websocket is applied once), until the bus is back.
 */
export class LogFollower {
  constructor({ receive, since, onChange, everyMs = 3000 }) {
    Object.assign(this, { receive, since, onChange, everyMs });
    this.delayed = false;
    this.timer = null;
    this.reading = false;
  }

  /** `live`: the server's bus is live (also on every websocket (re)connection, until it says otherwise). */
  set(live) {
    if (this.delayed === !live) return;
    this.delayed = !live;
    clearInterval(this.timer);
    this.timer = null;
    if (this.delayed) {
      this.timer = setInterval(() => this.read(), this.everyMs);
      this.read();
    }
    this.onChange(this.delayed);
  }

  async read() {
    if (this.reading) return;
    this.reading = true;
    try {
      for (let since = this.since(); since != null; since = this.since()) {
        const rows = await get(`/api/v1/events?since=${since}&limit=500`);
        for (const event of rows) this.receive(event);
        if (rows.length < 500 || !this.delayed) break;
      }
    } catch {
      // The server itself is unreachable: the connection banner says so, and the next round tries again.
    } finally {
      this.reading = false;
    }
  }
}

export const ACTIVE = new Set(['dispatched', 'acknowledged', 'en_route', 'on_scene', 'transporting', 'at_hospital']);
