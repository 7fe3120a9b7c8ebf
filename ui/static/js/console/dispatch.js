// The dispatcher's screen: open incidents by priority with live timers, the recommended units, assign and
// cancel in one action, acknowledgement escalation, the assignment history and the unit board.
//
// Escalation is decided by the server (dispatch/incidents/escalation.py), not here: with no console open a late
// unit must still be escalated. An assignment is shown escalated while it is still dispatched and the server
// has stamped it (`escalated_at`, in the snapshot and in the `assignment.escalated` event).

import { $, batched, debounce, fill, h } from '../lib/dom.js';
import { getLang, label, localNumber, number, t } from '../lib/i18n.js';
import { get, newKey, optional, post } from '../lib/api.js';
import { clock, dateTime, duration } from '../lib/time.js';
import { timer, toast } from '../lib/shell.js';
import { ACTIVE } from './store.js';
import { recall, remember } from './draft.js';

import { askReason } from './ask.js';

// The usual answers to "why?" (i18n keys); anything else goes in the free text.
const CANCEL_REASONS = ['false_report', 'handled', 'closer_unit', 'needed_elsewhere', 'duplicate']
  .map((r) => `cancel.r.${r}`);
const OVERRIDE_REASONS = ['not_there', 'crew_knows', 'special', 'road', 'asked'].map((r) => `override.r.${r}`);

// NFPA 1225: processing 90% within 60 s. NFPA 1710: turnout 60 s EMS / 80 s fire, travel 240 s.
const PROCESSING = { warn: 45, over: 60 };
const TRAVEL = { warn: 180, over: 240 };
const FIRE_KINDS = new Set(['damkar']);
const AGENCY_ORDER = ['damkar', 'psc119', 'polisi', 'bpbd', 'basarnas', 'satpolpp', 'dishub', 'dlh', 'pupr'];

export const DISPATCH_KEYS = [
  ['↑ ↓', 'keys.incident'], ['1 … 9', 'keys.assign_nth'], ['X', 'keys.escalate'], ['I', 'keys.focus_map'],
  ['D · P · R', 'keys.views'],
];

export class Dispatch {
  constructor({ store, me, region, map }) {
    this.store = store;
    this.me = me;
    this.region = region;
    this.map = map;
    this.selected = null;
    this.recs = null; // recommendations of the selected incident
    this.recsMissing = false;
    this.history = [];
    this.proposals = new Map(); // assignment id -> the next unit the server proposed when it escalated
    this.canAssign = ['dispatcher', 'supervisor', 'admin'].includes(me.role);
    this.refreshRecs = debounce(() => this.loadRecs(), 300);
    this.refreshHistory = debounce(() => this.loadHistory(), 300);
    // Events redraw the lists at most once a frame: a burst of events is one redraw each.
    this.drawListSoon = batched(() => this.drawList());
    this.drawUnitsSoon = batched(() => this.drawUnits());
    $('#unit-filter').addEventListener('input', () => this.drawUnits());
    store.on((topic, detail) => this.changed(topic, detail));
  }

  isEscalated(assignment) {
    return assignment.status === 'dispatched' && Boolean(assignment.escalated_at);
  }

  key(e, typing) {
    if (typing || e.ctrlKey || e.metaKey || e.altKey) return false;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      const list = this.sorted();
      if (!list.length) return true;
      const at = list.findIndex((i) => i.id === this.selected);
      const next = e.key === 'ArrowDown' ? Math.min(at + 1, list.length - 1) : Math.max(at - 1, 0);
      this.select(list[at < 0 ? 0 : next].id);
      return true;
    }
    if (/^[1-9]$/.test(e.key)) {
      const suggestion = this.flatSuggestions()[Number(e.key) - 1];
      if (suggestion) this.assign(suggestion.unit_id, suggestion);
      return true;
    }
    if (e.key.toLowerCase() === 'x') {
      const late = this.store.assignmentsOf(this.selected).find((a) => this.isEscalated(a));
      const next = late ? this.nextFor(late) : this.nextSuggestion();
      if (next) this.assign(next.unit_id, next);
      return true;
    }
    if (e.key.toLowerCase() === 'i') {
      const incident = this.store.incidents.get(this.selected);
      if (incident) this.map.focus(incident.lat, incident.lon);
      return true;
    }
    return false;
  }

  sorted() {
    return [...this.store.incidents.values()].filter((i) => i.status !== 'closed')
      .sort((a, b) => a.priority - b.priority || Date.parse(a.created_at) - Date.parse(b.created_at));
  }

  select(id) {
    if (this.selected !== id) {
      this.selected = id;
      remember('incident', id); // a reload comes back to it
      this.map.select(id);
      $('.pane-detail').scrollTop = 0;
      this.recs = null;
      this.history = [];
      this.loadRecs();
      this.loadHistory();
      const incident = this.store.incidents.get(id);
      if (incident) this.map.focus(incident.lat, incident.lon);
    }
    this.drawList();
    this.drawDetail();
    this.drawUnits();
  }

  changed(topic, detail) {
    if (topic === 'all') {
      const kept = this.selected == null ? recall('incident') : null;
      if (kept != null && this.store.incidents.has(kept)) {
        this.select(kept);
        return;
      }
      this.drawList();
      this.drawDetail();
      this.drawUnits();
      return;
    }
    if (topic === 'incidents' || topic === 'assignments') {
      if (this.selected != null && !this.store.incidents.has(this.selected)) this.selected = null;
      this.drawListSoon();
      if (detail === this.selected) {
        this.drawDetail();
        this.refreshRecs();
      }
    }
    if (topic === 'units') {
      this.drawUnitsSoon();
      if (this.selected != null) this.drawDetail();
    }
    if (topic === 'calls') this.drawListSoon();
    if (topic === 'event' && detail.type === 'assignment.escalated') this.escalated(detail);
    if (topic === 'event' && this.selected != null && relatedIncident(detail) === this.selected) {
      this.refreshHistory();
    }
  }

  /** The server escalated an assignment: mark it as the server has it and keep the unit it proposed. */
  escalated(event) {
    const d = event.data || {};
    const a = d.assignment;
    if (!a) return;
    this.store.assignments.set(a.id, { ...this.store.assignments.get(a.id), ...a });
    if (d.next) this.proposals.set(a.id, d.next);
    this.drawListSoon();
    if (a.incident_id === this.selected) this.drawDetail();
  }

  // ---- data ------------------------------------------------------------------------------------------

  async loadRecs() {
    const id = this.selected;
    if (id == null || this.recsMissing) {
      this.drawDetail();
      return;
    }
    try {
      const recs = await optional(`/api/v1/incidents/${id}/recommendations`);
      if (recs === null) this.recsMissing = true;
      if (id === this.selected) this.recs = recs;
    } catch (err) {
      if (id === this.selected) this.recs = { error: err.message };
    }
    if (id === this.selected) this.drawDetail();
  }

  async loadHistory() {
    const id = this.selected;
    if (id == null) return;
    try {
      const rows = await get(`/api/v1/incidents/${id}/events`);
      if (id === this.selected) {
        this.history = rows;
        let proposed = false;
        for (const e of rows) {
          if (e.type === 'assignment.escalated' && e.data && e.data.next && !this.proposals.has(e.data.assignment.id)) {
            this.proposals.set(e.data.assignment.id, e.data.next);
            proposed = true;
          }
        }
        if (proposed) this.drawDetail(); // redraws the history too
        else this.drawHistory();
      }
    } catch {
      // the incident may just have closed; the list already says so
    }
  }

  flatSuggestions() {
    if (!this.recs || !this.recs.slots) return [];
    const assigned = new Set(this.store.assignmentsOf(this.selected).filter((a) => ACTIVE.has(a.status))
      .map((a) => a.unit_id));
    const out = [];
    for (const slot of this.recs.slots) {
      for (const s of slot.suggestions || []) {
        if (!assigned.has(s.unit_id) && !out.some((o) => o.unit_id === s.unit_id)) out.push({ ...s, kind: slot.kind });
      }
    }
    return out;
  }

  /** What to offer instead of a late unit: the server's proposal while that unit is still free and not on the
   * incident, else the best recommendation now. */
  nextFor(assignment) {
    const proposed = this.proposals.get(assignment.id);
    if (proposed) {
      const unit = this.store.units.get(proposed.unit_id);
      const onIt = this.store.assignmentsOf(assignment.incident_id)
        .some((a) => a.unit_id === proposed.unit_id && ACTIVE.has(a.status));
      if (!onIt && (!unit || unit.status === 'available')) return proposed;
    }
    return this.nextSuggestion();
  }

  /** The best unit not yet on this incident and available now: offered when a unit does not acknowledge. */
  nextSuggestion() {
    return this.flatSuggestions().find((s) => {
      const unit = this.store.units.get(s.unit_id);
      return s.reachable !== false && (!unit || unit.status === 'available');
    });
  }

  async assign(unitId, suggestion) {
    const id = this.selected;
    if (id == null || !this.canAssign) return;
    const body = { unit_id: unitId };
    if (suggestion) {
      if (suggestion.reason) body.reason = String(suggestion.reason).slice(0, 300);
      if (suggestion.eta_s != null) body.eta_s = suggestion.eta_s;
    } else {
      // From the unit board, over the recommendation: say why; keep the ETA the recommendation had for it.
      const unit = this.store.units.get(unitId);
      const why = await askReason({
        id: 'override-dialog', title: t('override.title', { unit: unit ? unit.callsign : `#${unitId}`, id }),
        reasons: OVERRIDE_REASONS, confirm: t('override.confirm'),
      });
      if (why == null || id !== this.selected) return;
      body.reason = `${t('override.prefix')}: ${why}`.slice(0, 300);
      const known = (this.recs && this.recs.slots || []).flatMap((slot) => slot.suggestions || [])
        .find((s) => s.unit_id === unitId);
      if (known && known.eta_s != null) body.eta_s = known.eta_s;
    }
    try {
      const a = await post(`/api/v1/incidents/${id}/assignments`, body, { key: newKey() });
      this.store.assignments.set(a.id, a);
      const unit = this.store.units.get(unitId);
      toast(t('assign.done', { unit: unit ? unit.callsign : unitId, id }), 'ok', 3000);
    } catch (err) {
      toast(`${t('assign.failed')}: ${err.message}`, 'error');
    }
  }

  /** Standing a unit down asks why: the crew's phone shows the reason, and the timeline keeps it. */
  async cancel(assignment) {
    const unit = this.store.units.get(assignment.unit_id);
    const name = unit ? unit.callsign : `#${assignment.unit_id}`;
    const reason = await askReason({
      id: 'cancel-dialog', title: t('cancel.title', { unit: name }), reasons: CANCEL_REASONS,
      confirm: t('cancel.confirm'), danger: true,
    });
    if (reason == null) return;
    try {
      await post(`/api/v1/assignments/${assignment.id}/status`, { status: 'cancelled', reason }, { key: newKey() });
      toast(t('cancel.done', { unit: name }), 'ok', 3000);
    } catch (err) {
      toast(err.message, 'error');
    }
  }

  async close(id, closure) {
    try {
      await post(`/api/v1/incidents/${id}/close`, { closure: closure || 'selesai' });
    } catch (err) {
      toast(err.message, 'error');
    }
  }

  // ---- drawing ---------------------------------------------------------------------------------------

  drawList() {
    const list = this.sorted();
    $('#incident-count').textContent = String(list.length);
    $('#incidents-empty').hidden = list.length > 0;
    const lang = getLang();
    fill($('#incident-list'), list.map((i) => {
      const mine = this.store.assignmentsOf(i.id);
      const active = mine.filter((a) => ACTIVE.has(a.status));
      const escalated = active.some((a) => this.isEscalated(a));
      return h('li', {
        class: ['incident', `p${i.priority}`, i.id === this.selected && 'selected', escalated && 'escalated'],
        dataset: { id: i.id }, onclick: () => this.select(i.id),
      },
      h('div', { class: 'row1' },
        h('span', { class: `prio p${i.priority}` }, `P${i.priority}`),
        h('span', { class: 'id' }, `#${i.id}`),
        h('span', { class: 'type' }, this.store.typeName(i.type_code, lang)),
        h('span', { class: `chip ist-${i.status}` }, t(`istatus.${i.status}`))),
      h('div', { class: 'row2' }, place(i)),
      h('div', { class: 'row3' }, this.timers(i, active)),
      active.length ? h('div', { class: 'row4' }, active.map((a) => this.unitChip(a)))
        : i.status !== 'new' ? h('div', { class: 'row4' }, h('span', { class: 'chip warn' }, t('incidents.no_unit'))) : null,
      escalated ? h('div', { class: 'escalation' }, t('escalate.short')) : null);
    }));
    this.map.drawIncidents(list, lang);
  }

  timers(incident, active) {
    const calls = this.store.callsOf(incident.id);
    const first = calls.map((c) => c.offered_at).sort()[0] || incident.created_at;
    const answered = calls.map((c) => c.answered_at).filter(Boolean).sort()[0] || incident.created_at;
    const out = [h('span', { class: 'lbl' }, t('timer.since_call')), timer(first)];
    if (incident.status !== 'new' && !active.length) return out; // every unit stood down: needs a new one
    if (incident.status === 'new') {
      out.push(h('span', { class: 'lbl' }, t('timer.waiting_dispatch')), timer(answered, PROCESSING));
    } else if (incident.dispatched_at && !incident.en_route_at) {
      const fire = active.length > 0 && active.every((a) => FIRE_KINDS.has(this.kindOf(a.unit_id)));
      const limit = fire ? 80 : 60;
      out.push(h('span', { class: 'lbl' }, t('timer.since_dispatch')),
        timer(incident.dispatched_at, { warn: limit - 15, over: limit }));
    } else if (incident.en_route_at && !incident.on_scene_at) {
      out.push(h('span', { class: 'lbl' }, t('timer.travel')), timer(incident.en_route_at, TRAVEL));
    } else if (incident.on_scene_at) {
      out.push(h('span', { class: 'lbl' }, t('timer.on_scene')), timer(incident.on_scene_at));
    }
    return out;
  }

  agencyName(code) {
    const agency = [...this.store.agencies.values()].find((a) => a.code === code);
    return agency ? agency.name : code || '';
  }

  kindOf(unitId) {
    const unit = this.store.units.get(unitId);
    const agency = unit ? this.store.agencies.get(unit.agency_id) : null;
    return agency ? agency.kind : null;
  }

  unitChip(assignment) {
    const unit = this.store.units.get(assignment.unit_id);
    return h('span', { class: ['chip', `ust-${assignment.status}`, this.isEscalated(assignment) && 'escalated'] },
      unit ? unit.callsign : `#${assignment.unit_id}`, ' · ', t(`astatus.${assignment.status}`));
  }

  drawDetail() {
    const box = $('#incident-detail');
    const i = this.store.incidents.get(this.selected);
    if (!i) {
      fill(box, h('p', { class: 'muted' }, t('incidents.select')));
      return;
    }
    const lang = getLang();
    const mine = this.store.assignmentsOf(i.id);
    const activeCount = mine.filter((a) => ACTIVE.has(a.status)).length;
    const accuracy = i.location_accuracy_m != null ? ` ±${Math.round(i.location_accuracy_m)} m` : '';
    fill(box,
      h('h3', {}, h('span', { class: `prio p${i.priority}` }, `P${i.priority}`), ` #${i.id} `,
        this.store.typeName(i.type_code, lang), ' ', h('span', { class: `chip ist-${i.status}` }, t(`istatus.${i.status}`))),
      h('dl', { class: 'facts' },
        h('dt', {}, t('detail.place')), h('dd', {}, place(i) || t('detail.no_place'),
          i.near_border ? h('span', { class: 'chip warn' }, t('detail.near_border')) : null),
        h('dt', {}, t('detail.source')), h('dd', {}, i.location_source ? label('source', i.location_source) + accuracy : '–'),
        h('dt', {}, t('detail.notes')), h('dd', { class: 'notes' }, i.notes || '–'),
        h('dt', {}, t('detail.caller')), h('dd', { title: i.caller || '' }, localNumber(i.caller) || '–'),
        h('dt', {}, t('detail.created')), h('dd', {}, dateTime(i.created_at))),
      h('h4', {}, t('recs.title')), this.recsBlock(),
      h('h4', {}, t('assigned.title')), this.assignedBlock(mine),
      h('h4', {}, t('history.title')), h('ol', { id: 'history', class: 'history-list' }),
      this.canAssign && activeCount === 0 ? this.closeBlock(i.id) : null);
    this.drawHistory();
  }

  recsBlock() {
    if (!this.canAssign) return h('p', { class: 'muted' }, t('recs.read_only'));
    if (this.recsMissing) return h('p', { class: 'muted', id: 'recs-missing' }, t('recs.missing'));
    if (!this.recs) return h('p', { class: 'muted' }, t('recs.loading'));
    if (this.recs.error) return h('p', { class: 'error' }, this.recs.error);
    const flat = this.flatSuggestions();
    let n = 0;
    return h('div', { class: 'recs', id: 'recs' }, this.recs.slots.map((slot) => h('div', { class: 'slot' },
      h('div', { class: 'slot-head' }, `${slot.count}× ${label('kind', slot.kind)}`,
        slot.assigned ? h('span', { class: 'muted' }, ` · ${t('recs.assigned', { n: slot.assigned })}`) : null),
      (slot.suggestions || []).length === 0 ? h('p', { class: 'muted' }, t('recs.none_for_kind')) : null,
      h('ol', {}, (slot.suggestions || []).map((s) => {
        const index = flat.findIndex((f) => f.unit_id === s.unit_id);
        const unit = this.store.units.get(s.unit_id);
        const busy = index < 0 || (unit && unit.status !== 'available');
        if (!busy) n += 1;
        return h('li', { class: ['rec', busy && 'busy', s.reachable === false && 'unreachable'] },
          !busy && index < 9 ? h('kbd', {}, String(index + 1)) : null,
          h('strong', {}, s.callsign), ' ', h('span', { class: 'muted' }, this.agencyName(s.agency)), ' · ',
          t('recs.eta', { eta: duration(s.eta_s) }),
          s.distance_m != null ? ` · ${number(s.distance_m / 1000)} km` : '',
          s.position_source ? h('span', { class: 'muted' }, ` · ${label('possrc', s.position_source)}`) : null,
          h('div', { class: 'reason' }, s.reason || ''),
          busy ? null : h('button', { type: 'button', class: 'assign', onclick: () => this.assign(s.unit_id, s) },
            t('recs.assign')));
      })))), n === 0 ? h('p', { class: 'muted' }, t('recs.use_board')) : null);
  }

  assignedBlock(mine) {
    if (!mine.length) return h('p', { class: 'muted' }, t('assigned.none'));
    const limit = this.region.ack_timeout_s;
    return h('table', { class: 'assigned' },
      h('thead', {}, h('tr', {}, ['assigned.unit', 'assigned.status', 'assigned.dispatched', 'assigned.ack',
        'assigned.en_route', 'assigned.on_scene'].map((k) => h('th', {}, t(k))))),
      h('tbody', {}, mine.map((a) => {
        const unit = this.store.units.get(a.unit_id);
        const late = this.isEscalated(a);
        const next = late ? this.nextFor(a) : null;
        const active = ACTIVE.has(a.status);
        return [h('tr', { class: [`ust-${a.status}`, late && 'escalated'], dataset: { assignment: a.id } },
          h('td', {}, unit ? unit.callsign : a.unit_id),
          h('td', {}, t(`astatus.${a.status}`),
            a.eta_s != null ? h('div', { class: 'muted' }, t('recs.eta', { eta: duration(a.eta_s) })) : null,
            active && this.canAssign && !['on_scene', 'transporting', 'at_hospital'].includes(a.status)
              ? h('div', {}, h('button', { type: 'button', class: 'cancel', onclick: () => this.cancel(a) },
                t('assigned.cancel'))) : null),
          h('td', {}, clock(a.dispatched_at)),
          h('td', {}, a.acknowledged_at ? clock(a.acknowledged_at) : a.status === 'dispatched'
            ? timer(a.dispatched_at, { warn: limit * 0.7, over: limit }) : '–'),
          h('td', {}, a.en_route_at ? clock(a.en_route_at) : '–'),
          h('td', {}, a.on_scene_at ? clock(a.on_scene_at) : '–')),
        late ? h('tr', { class: 'escalation-row' }, h('td', { colspan: 6 },
          h('strong', {}, t('escalate.title', { unit: unit ? unit.callsign : a.unit_id, s: limit })), ' ',
          next && this.canAssign ? h('button', { type: 'button', class: 'primary escalate-next',
            onclick: () => this.assign(next.unit_id, next) }, h('kbd', {}, 'X'), ' ',
          t('escalate.next', { unit: next.callsign, eta: duration(next.eta_s) }))
            : h('span', { class: 'muted' }, t('escalate.no_next')))) : null];
      })));
  }

  closeBlock(id) {
    const input = h('input', { id: 'closure', maxlength: 200, placeholder: t('close.placeholder') });
    return h('div', { class: 'close-box' }, input,
      h('button', { type: 'button', onclick: () => this.close(id, input.value.trim()) }, t('close.button')));
  }

  drawHistory() {
    const list = $('#history');
    if (!list) return;
    fill(list, this.history.map((e) => h('li', {},
      h('span', { class: 'at' }, clock(e.at)), ' ', h('span', { class: 'actor' }, e.actor), ' · ',
      this.describe(e))));
  }

  describe(e) {
    const d = e.data || {};
    const unitName = (id) => {
      const unit = this.store.units.get(id);
      return unit ? unit.callsign : `#${id}`;
    };
    switch (e.type) {
      case 'incident.created': return t('hist.created');
      case 'incident.updated': return t('hist.updated', { fields: Object.keys(d.incident || {}).join(', ') });
      case 'incident.closed': return t('hist.closed', { closure: (d.incident && d.incident.closure) || '' });
      case 'incident.duplicate': return t('hist.duplicate', { id: d.incident && d.incident.duplicate_of });
      case 'call.linked':
        // A caller report: what this caller said stays in the timeline beside the first caller's.
        return d.notes ? [h('strong', {}, t('hist.caller_report', { id: d.id })), ` “${d.notes}”`]
          : t('hist.call_linked', { id: d.id });
      case 'call.location': return t('hist.location');
      case 'assignment.created':
        return [t('hist.assigned', { unit: unitName(d.assignment.unit_id) }),
          d.assignment.reason ? h('span', { class: 'muted' }, ` — ${d.assignment.reason}`) : null];
      case 'assignment.status': {
        // The line's time is when the server received the step; the step's own time is the crew's tap when the
        // server believed the phone's clock (dispatch/incidents/assignments.py step_time).
        const late = d.device_at && Date.parse(e.at) - Date.parse(d.device_at) >= 1000;
        return [t('hist.status', { unit: unitName(d.assignment.unit_id), status: t(`astatus.${d.assignment.status}`) }),
          d.assignment.cancel_reason ? ` — ${d.assignment.cancel_reason}` : null,
          d.time_source === 'device' && late
            ? h('span', { class: 'muted' }, ` · ${t('hist.tapped', { at: clock(d.device_at) })}`) : null,
          d.time_source === 'server' && d.device_at
            ? h('span', { class: 'muted' }, ` · ${t('hist.tap_time_refused', { at: dateTime(d.device_at) })}`) : null];
      }
      case 'assignment.escalated':
        return [h('strong', {}, t('escalate.title', { unit: unitName(d.assignment.unit_id), s: d.timeout_s })),
          d.next ? h('span', { class: 'muted' }, ` ${t('escalate.next', { unit: d.next.callsign, eta: duration(d.next.eta_s) })}`,
            d.next.reason ? ` — ${d.next.reason}` : '') : h('span', { class: 'muted' }, ` ${t('escalate.no_next')}`)];
      default: return e.type;
    }
  }

  drawUnits() {
    const board = $('#unit-board');
    const filter = $('#unit-filter').value.trim().toLowerCase();
    const incident = this.store.incidents.get(this.selected);
    const busyOn = new Map();
    for (const a of this.store.assignments.values()) if (ACTIVE.has(a.status)) busyOn.set(a.unit_id, a.incident_id);
    const groups = new Map();
    for (const unit of this.store.units.values()) {
      const agency = this.store.agencies.get(unit.agency_id);
      const text = `${unit.callsign} ${agency ? agency.name : ''} ${unit.unit_type}`.toLowerCase();
      if (filter && !text.includes(filter)) continue;
      if (!groups.has(unit.agency_id)) groups.set(unit.agency_id, []);
      groups.get(unit.agency_id).push(unit);
    }
    const order = (id) => {
      const agency = this.store.agencies.get(id);
      const at = AGENCY_ORDER.indexOf(agency ? agency.kind : '');
      return at < 0 ? 99 : at;
    };
    fill(board, [...groups.entries()].sort((a, b) => order(a[0]) - order(b[0])).map(([agencyId, units]) => {
      const agency = this.store.agencies.get(agencyId);
      const free = units.filter((u) => u.status === 'available').length;
      return h('details', { class: 'agency', open: true },
        h('summary', {}, agency ? agency.name : agencyId, h('span', { class: 'muted' },
          ` · ${t('units.available_of', { n: free, total: units.length })}`)),
        h('table', { class: 'units' }, h('tbody', {}, units.map((u) => h('tr', { class: `ust-${u.status}`,
          dataset: { unit: u.callsign } },
        h('td', { class: 'callsign' }, u.callsign),
        h('td', {}, h('span', { class: `chip ust-${u.status}` }, t(`ustatus.${u.status}`))),
        h('td', {}, u.status_at ? timer(u.status_at) : ''),
        h('td', {}, busyOn.has(u.id) ? `#${busyOn.get(u.id)}` : ''),
        h('td', {}, incident && this.canAssign && u.status === 'available'
          ? h('button', { type: 'button', class: 'assign', onclick: () => this.assign(u.id, null) },
            t('units.assign_to', { id: incident.id })) : null))))));
    }));
    this.map.drawUnits([...this.store.units.values()]);
  }
}

function place(i) {
  const where = [i.kelurahan, i.kecamatan].filter(Boolean).join(', ');
  return [i.address, where].filter(Boolean).join(' · ');
}

function relatedIncident(event) {
  const d = event.data || {};
  if (d.assignment) return d.assignment.incident_id;
  if (event.type.startsWith('incident.')) return d.id ?? (d.incident && d.incident.id);
  if (event.type === 'call.linked') return d.incident_id;
  return null;
}
