// The call-taker's screen: live calls, caller history, and a keyboard-first intake (classify in one key,
// type picklist, location by gazetteer / map / AML, notes, duplicates, referral to an agency).

import { $, batched, fill, h, show } from '../lib/dom.js';
import { callerText, getLang, label, number, t } from '../lib/i18n.js';
import { get, newKey, optional, post } from '../lib/api.js';
import { clock, dateTime, since } from '../lib/time.js';
import { timer, toast } from '../lib/shell.js';
import { Picklist, fold } from './picklist.js';
import { recall, remember } from './draft.js';
import { LINK_KEY, LocationLinks } from './locationlink.js';

const CLASSES = ['emergency', 'information', 'prank', 'ghost'];
// NENA: 90% of calls answered within 15 s, 95% within 20 s.
const ANSWER_WARN_S = 15;
const ANSWER_OVER_S = 20;
// The intake's text fields, cleared when an intake is saved and kept in the draft until then.
const FIELDS = ['#type-q', '#loc-q', '#address', '#notes', '#agency-q', '#ref-summary', '#ref-address'];

export const INTAKE_KEYS = [
  ['F2 / A', 'keys.answer'], ['1', 'keys.emergency'], ['2', 'keys.information'], ['3', 'keys.prank'],
  ['4', 'keys.ghost'], ['T', 'keys.type'], ['L', 'keys.location'], ['Enter', 'keys.enter_aml'],
  ['F4 / K', 'keys.aml'], ['C', 'keys.notes'], ['O', 'keys.agency'], ['F8', 'keys.link'],
  ['Ctrl+Enter', 'keys.save'], ['E', 'keys.end'], ['Esc', 'keys.escape'], ['↑ ↓', 'keys.pick'],
  LINK_KEY, ['D · P · R', 'keys.views'],
];

/** Where a search result lies: its kecamatan; for a typed point its kelurahan too, or how far outside it is. */
function placeWhere(place) {
  if (place.kind !== 'koordinat') return place.kecamatan;
  if (place.inside_region === false) {
    return t('intake.loc_outside', { km: number(place.distance_m / 1000), name: place.nearest_kecamatan });
  }
  return [place.kelurahan, place.kecamatan].filter(Boolean).join(', ');
}

export class Intake {
  constructor({ store, me, region, map }) {
    this.store = store;
    this.me = me;
    this.canReply = region.sms_replies; // this server can send SMS (Twilio configured)
    this.map = map;
    this.current = null; // id of the call on screen
    this.details = null; // GET /calls/{id} of the current call
    this.mode = null; // 'emergency' | 'referral' | null
    this.geoMissing = false;
    // Events redraw the queue at most once a frame: a burst of 200 calls is one redraw, not 200.
    this.drawQueueSoon = batched(() => this.drawQueue());
    this.resetForm();
    this.bind();
    this.links = new LocationLinks({ store, call: () => this.call() }); // G: a location link for the caller
  }

  resetForm() {
    this.form = { key: newKey(), refKey: newKey(), type: null, loc: null, agency: null, topic: null };
    this.dups = [];
  }

  bind() {
    this.queue = $('#call-queue');
    this.typePick = new Picklist($('#type-q'), $('#type-list'), {
      search: (q) => this.searchTypes(q),
      render: (type) => [h('span', { class: `prio p${type.priority}` }, `P${type.priority}`), ' ',
        h('span', {}, getLang() === 'en' ? type.name_en : type.name_id),
        h('span', { class: 'muted' }, ` · ${getLang() === 'en' ? type.name_id : type.name_en}`)],
      onPick: (type) => this.setType(type),
      showAll: true,
    });
    this.locPick = new Picklist($('#loc-q'), $('#loc-list'), {
      search: (q) => this.searchPlaces(q),
      render: (place) => [h('strong', {}, place.name), h('span', { class: 'muted' },
        ` · ${[label('place', place.kind), placeWhere(place)].filter(Boolean).join(' · ')}`)],
      onPick: (place) => (place.kind === 'koordinat' ? this.setPoint(place) : this.setLocation({
        lat: place.lat, lon: place.lon, source: 'gazetteer', accuracy_m: place.accuracy_m,
        label: [place.name, place.kecamatan].filter(Boolean).join(', '),
      }, { focusNext: true, address: place.name })),
      onEnterEmpty: (query) => this.locationEnter(query),
      delay: 150,
    });
    this.agencyPick = new Picklist($('#agency-q'), $('#agency-list'), {
      search: (q) => this.searchAgencies(q),
      render: (a) => (a.due_hours ? [h('span', { class: 'chip topic' }, t('referral.topic')), ' ',
        h('strong', {}, topicName(a)), h('span', { class: 'muted' },
          ` → ${this.agencyName(a.agency_id)} · ${t('referral.due_hours', { h: a.due_hours })}`)]
        : [h('strong', {}, a.name), h('span', { class: 'muted' }, ` · ${a.code}`)]),
      onPick: (a) => this.setAgency(a),
      showAll: true,
    });
    for (const button of document.querySelectorAll('#classify [data-class]')) {
      button.addEventListener('click', () => this.classify(button.dataset.class));
    }
    $('#end-call').addEventListener('click', () => this.endCall());
    $('#answer-next').addEventListener('click', () => this.answerNext());
    $('#emergency-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this.createIncident();
    });
    $('#referral-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this.refer();
    });
    for (const form of [$('#emergency-form'), $('#referral-form')]) {
      form.addEventListener('keydown', (e) => nextOnEnter(e, form));
    }
    $('#aml-box').addEventListener('click', (e) => {
      if (e.target.closest('button')) this.confirmAml();
    });
    $('#reply-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this.reply();
    });
    $('#reply-text').addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey) { // Enter sends, Shift+Enter is a new line
        e.preventDefault();
        e.stopPropagation();
        this.reply();
      }
    });
    for (const form of [$('#emergency-form'), $('#referral-form')]) {
      form.addEventListener('input', () => this.keepDraft());
    }
    this.store.on((topic, detail) => this.changed(topic, detail));
  }

  // ---- draft -----------------------------------------------------------------------------------------

  /** Keep what is typed and chosen for the call on screen, so that a reload (or a crashed tab) restores it. */
  keepDraft() {
    if (!this.mode && !this.dirty()) {
      remember('intake', null);
      return;
    }
    const fields = Object.fromEntries(FIELDS.map((id) => [id, $(id).value]));
    remember('intake', { call: this.current, mode: this.mode, form: this.form, fields });
  }

  /** Put back the draft kept for `callId` (null: an intake without a call), if there is one. */
  restoreDraft(callId) {
    const draft = recall('intake');
    if (!draft || draft.call !== callId) return;
    this.form = { ...this.form, ...draft.form };
    this.open(draft.mode);
    for (const [id, value] of Object.entries(draft.fields || {})) if (FIELDS.includes(id)) $(id).value = value;
    if (this.form.type) this.drawType();
    if (this.form.agency) this.drawAgency();
    this.drawChosenLocation();
    if (this.form.loc) this.map.showPick(this.form.loc, this.latestAml());
  }

  // ---- keyboard --------------------------------------------------------------------------------------

  /** Keys for this view. `typing`: focus is in a text field, so only F-keys and Ctrl+Enter count. */
  key(e, typing) {
    const k = e.key;
    if (k === 'F2') return this.answerNext(), true;
    if (k === 'F4') return this.confirmAml(), true;
    if (k === 'F8') return this.linkDuplicate(0), true;
    if (k === 'Enter' && (e.ctrlKey || e.metaKey)) return this.save(), true;
    if (typing || e.ctrlKey || e.metaKey || e.altKey) return false;
    const lower = k.toLowerCase();
    if (lower === 'a') return this.answerNext(), true;
    if (['1', '2', '3', '4'].includes(k)) return this.classify(CLASSES[Number(k) - 1]), true;
    if (lower === 'k') return this.confirmAml(), true;
    if (lower === 'e') return this.endCall(), true;
    if (lower === 't') return this.focusField('emergency', '#type-q'), true;
    if (lower === 'l') return this.focusField('emergency', '#loc-q'), true;
    if (lower === 'c') return this.focusField('emergency', '#notes'), true;
    if (lower === 'o') return this.focusField('referral', '#agency-q'), true;
    if (lower === 'g') return this.links.request(), true;
    return false;
  }

  focusField(mode, selector) {
    if (this.mode !== mode) this.open(mode);
    $(selector).focus();
  }

  save() {
    if (this.mode === 'emergency') this.createIncident();
    else if (this.mode === 'referral') this.refer();
  }

  // ---- calls -----------------------------------------------------------------------------------------

  call() {
    return this.current != null ? this.store.calls.get(this.current) : null;
  }

  waiting() {
    return [...this.store.calls.values()].filter((c) => c.status === 'offered')
      .sort((a, b) => Date.parse(a.offered_at) - Date.parse(b.offered_at));
  }

  /**
   * Answer the selected ringing call, else the one waiting longest. The call is put on screen at once (the
   * keys typed next belong to it); the server's answer follows.
   */
  answerNext() {
    const selected = this.call();
    const call = selected && selected.status === 'offered' ? selected : this.waiting()[0];
    if (!call) {
      toast(t('calls.none_waiting'));
      return Promise.resolve();
    }
    if (call.id !== this.current && !this.mayLeave()) return Promise.resolve();
    this.select(call.id);
    this.answering = post(`/api/v1/calls/${call.id}/answer`)
      .then((answered) => {
        this.store.calls.set(answered.id, { ...this.store.calls.get(answered.id), ...answered });
        this.drawQueue();
        this.drawCall();
      })
      .catch((err) => toast(`${t('calls.answer_failed')}: ${err.message}`, 'error'))
      .finally(() => {
        this.answering = null;
      });
    return this.answering;
  }

  /** True when the intake on screen has something typed or chosen that is not saved yet. */
  dirty() {
    if (this.mode === 'emergency') {
      return Boolean(this.form.type || this.form.loc || $('#notes').value.trim() || $('#address').value.trim());
    }
    if (this.mode === 'referral') return Boolean(this.form.agency || $('#ref-summary').value.trim());
    return false;
  }

  /** Leaving an unsaved intake takes the same key (or click) twice within 5 s: nothing is lost by a slip. */
  mayLeave() {
    if (!this.dirty()) return true;
    if (this.leaveArmed && Date.now() - this.leaveArmed < 5000) {
      this.leaveArmed = 0;
      return true;
    }
    this.leaveArmed = Date.now();
    toast(t('intake.unsaved'), 'error', 5000);
    return false;
  }

  pick(callId) {
    if (callId !== this.current && !this.mayLeave()) return;
    this.select(callId);
  }

  async select(callId) {
    if (this.current !== callId) {
      this.current = callId;
      this.details = null;
      this.resetForm();
      this.open(null);
      this.result(null);
      this.restoreDraft(callId);
    }
    this.drawQueue();
    this.drawCall();
    try {
      this.details = await get(`/api/v1/calls/${callId}`);
    } catch (err) {
      toast(err.message, 'error');
      return;
    }
    if (this.current !== callId) return;
    const known = this.store.locations.get(callId) || [];
    for (const loc of this.details.locations || []) if (!known.some((l) => l.id === loc.id)) known.push(loc);
    this.store.locations.set(callId, known);
    this.store.addMessages(callId, this.details.messages || []);
    this.store.addTranscript(callId, this.details.transcript || []);
    this.drawCall();
    this.checkDuplicates();
  }

  /** One key classifies; the form for what comes next opens at once so typing ahead lands in it. */
  async classify(kind) {
    if (!this.call()) {
      if (kind === 'emergency') {
        this.open('emergency'); // an incident reported without a call (radio, walk-in)
        $('#type-q').focus();
      } else {
        toast(t('calls.none_selected'));
      }
      return;
    }
    if (kind === 'emergency') {
      this.open('emergency');
      $('#type-q').focus();
    } else if (kind === 'information') {
      this.open('referral');
      $('#agency-q').focus();
    } else {
      this.open(null);
      document.activeElement?.blur?.();
    }
    if (this.answering) await this.answering;
    let call = this.call();
    try {
      if (call.status === 'offered') {
        call = { ...call, ...(await post(`/api/v1/calls/${call.id}/answer`)) };
      }
      const done = await post(`/api/v1/calls/${call.id}/classify`, { classification: kind });
      this.store.calls.set(done.id, { ...call, ...done });
    } catch (err) {
      toast(`${t('classify.failed')}: ${err.message}`, 'error');
      return;
    }
    this.drawQueue();
    this.drawCall();
    if (kind === 'prank' || kind === 'ghost') {
      this.result(h('p', {}, t('classify.done', { kind: t(`class.${kind}`) }), ' ', t('classify.end_hint')));
    }
  }

  async endCall() {
    const call = this.call();
    if (!call || call.status === 'ended') return;
    try {
      const ended = await post(`/api/v1/calls/${call.id}/end`);
      this.store.calls.set(ended.id, { ...call, ...ended });
      this.drawQueue();
      this.drawCall();
    } catch (err) {
      toast(err.message, 'error');
    }
  }

  // ---- intake forms ----------------------------------------------------------------------------------

  open(mode) {
    this.mode = mode;
    show($('#emergency-form'), mode === 'emergency');
    show($('#referral-form'), mode === 'referral');
    if (mode === 'emergency') this.drawAml();
    if (mode === 'referral') this.drawRefPlace();
  }

  searchTypes(query) {
    const words = fold(query).split(/\s+/).filter(Boolean);
    const scored = [];
    for (const type of this.store.types.values()) {
      const name = fold(`${type.name_id} ${type.name_en}`);
      const hay = `${name} ${fold(type.keywords)} ${type.code}`;
      if (!words.every((w) => hay.includes(w))) continue;
      const score = words.reduce((s, w) => s + (name.split(/\W+/).some((x) => x.startsWith(w)) ? 2 : 1), 0);
      scored.push([score, type]);
    }
    scored.sort((a, b) => b[0] - a[0] || a[1].priority - b[1].priority || a[1].name_id.localeCompare(b[1].name_id));
    return scored.map(([, type]) => type).slice(0, 12);
  }

  async searchPlaces(query) {
    if (this.geoMissing) return [];
    if (query.trim().length < 2) return this.locNote(null), [];
    const ask = (this.placeAsk = (this.placeAsk || 0) + 1);
    let found;
    let refused = null;
    try {
      found = await optional(`/api/v1/geo/search?q=${encodeURIComponent(query.trim())}`);
    } catch (err) {
      if (err.status !== 422) throw err;
      [found, refused] = [[], err.detail]; // a coordinate that does not work, or no place at all: the server says why
    }
    if (found === null) {
      this.geoMissing = true;
      $('#loc-note').textContent = t('intake.geo_missing');
      return [];
    }
    if (ask === this.placeAsk) this.locNote(refused || (found.length ? null : t('intake.loc_unknown')));
    return found.slice(0, 10);
  }

  /** The hint under the location field, or why what was typed there is not a place (with forms that work). */
  locNote(problem) {
    const note = $('#loc-note');
    note.textContent = problem || t('intake.location_hint');
    note.classList.toggle('error', Boolean(problem));
    note.classList.toggle('muted', !problem);
  }

  /** A point typed or pasted as coordinates, a Plus Code or a map link (geo/pointtext.py): the caller's words. */
  setPoint(place) {
    this.setLocation({
      lat: place.lat, lon: place.lon, source: 'caller', accuracy_m: place.accuracy_m, label: place.name,
      where: placeWhere(place),
    }, { focusNext: true });
  }

  /** Topics first ("lampu jalan" finds the street-light topic and so Dishub), then agencies by name. */
  searchAgencies(query) {
    const words = fold(query).split(/\s+/).filter(Boolean);
    const matches = (text) => words.every((w) => fold(text).includes(w));
    const topics = words.length ? [...this.store.topics.values()]
      .filter((x) => this.store.agencies.has(x.agency_id) && matches(`${x.name} ${x.name_en} ${x.keywords} ${x.code}`))
      : [];
    return [...topics, ...[...this.store.agencies.values()]
      .filter((a) => matches(`${a.name} ${a.code} ${a.kind}`))
      .sort((a, b) => a.name.localeCompare(b.name))];
  }

  agencyName(id) {
    const agency = this.store.agencies.get(id);
    return agency ? agency.name : String(id);
  }

  setType(type) {
    this.form.type = type;
    this.drawType();
    $('#type-q').value = '';
    this.keepDraft();
    this.checkDuplicates();
    $('#loc-q').focus();
  }

  drawType() {
    const type = this.form.type;
    const box = $('#type-chosen');
    fill(box, h('span', { class: `prio p${type.priority}` }, `P${type.priority}`), ' ',
      getLang() === 'en' ? type.name_en : type.name_id,
      h('span', { class: 'muted' }, ` — ${planText(type.plan)}`));
    box.hidden = false;
  }

  /** Enter in the location field with nothing to pick: the AML fix if the field is empty, else free text. */
  locationEnter(query) {
    if (!query) {
      if (this.latestAml()) this.confirmAml();
      else $('#notes').focus();
      return;
    }
    $('#address').value = query;
    $('#loc-q').value = '';
    this.locNote(null);
    $('#notes').focus();
  }

  async setLocation(loc, { focusNext = false, address } = {}) {
    this.form.loc = loc;
    if (address && !$('#address').value.trim()) $('#address').value = address;
    $('#loc-q').value = '';
    this.locNote(null);
    this.keepDraft();
    this.drawChosenLocation();
    this.drawAml();
    this.map.showPick(loc, this.latestAml());
    if (focusNext) $('#notes').focus();
    this.checkDuplicates();
    if (loc.source !== 'gazetteer' && loc.lat != null && !loc.where) {
      const where = await optional(`/api/v1/geo/locate?lat=${loc.lat}&lon=${loc.lon}`).catch(() => null);
      if (where && this.form.loc === loc) {
        loc.where = [where.kelurahan || where.kelurahan_name, where.kecamatan || where.kecamatan_name]
          .filter(Boolean).join(', ');
        this.drawChosenLocation();
        this.keepDraft();
      }
    }
  }

  drawChosenLocation() {
    const loc = this.form.loc;
    const box = $('#loc-chosen');
    box.hidden = !loc;
    if (!loc) return;
    const accuracy = loc.accuracy_m != null ? ` ±${Math.round(loc.accuracy_m)} m` : '';
    fill(box, h('span', { class: 'chip' }, label('source', loc.source)), ' ',
      loc.label || `${loc.lat.toFixed(5)}, ${loc.lon.toFixed(5)}`, accuracy,
      loc.where ? h('span', { class: 'muted' }, ` · ${loc.where}`) : null);
  }

  latestAml() {
    const list = this.current != null ? this.store.locations.get(this.current) || [] : [];
    const valid = list.filter((l) => l.valid !== false && l.lat != null);
    return valid.length ? valid[valid.length - 1] : null;
  }

  confirmAml() {
    const aml = this.latestAml();
    if (!aml) {
      toast(t('aml.none'));
      return;
    }
    if (this.mode !== 'emergency') this.open('emergency');
    this.setLocation({
      lat: aml.lat, lon: aml.lon, source: ['aml', 'link'].includes(aml.source) ? aml.source : 'caller',
      accuracy_m: aml.accuracy_m, label: t(aml.source === 'link' ? 'source.link' : 'aml.label'), amlId: aml.id,
    });
    $('#notes').focus();
  }

  drawAml() {
    const aml = this.latestAml();
    const box = $('#aml-box');
    box.hidden = !aml;
    if (!aml) return;
    const used = this.form.loc && this.form.loc.amlId === aml.id;
    const age = since(aml.fix_at || aml.received_at);
    fill(box,
      h('strong', {}, t(aml.source === 'link' ? 'link.arrived' : 'aml.arrived')), ' ',
      t('aml.detail', { m: aml.accuracy_m != null ? Math.round(aml.accuracy_m) : '?', age: Math.round(age) }),
      ' ',
      used ? h('span', { class: 'ok' }, t('aml.used'))
        : h('button', { type: 'button', class: 'aml-use' }, h('kbd', {}, 'F4'), ' ', t('aml.use')),
      this.form.loc && !used ? h('div', { class: 'muted' }, t('aml.not_applied')) : null);
  }

  async checkDuplicates() {
    const call = this.call();
    const params = new URLSearchParams();
    if (this.form.type) params.set('type_code', this.form.type.code);
    if (this.form.loc && this.form.loc.lat != null) {
      params.set('lat', this.form.loc.lat);
      params.set('lon', this.form.loc.lon);
    }
    if (call && call.caller && !call.caller.includes('*')) params.set('caller', call.caller);
    if (![...params.keys()].some((k) => k !== 'type_code')) {
      this.drawDuplicates([]);
      return;
    }
    try {
      const found = await get(`/api/v1/incidents/duplicates?${params}`);
      this.drawDuplicates(found);
    } catch {
      this.drawDuplicates([]);
    }
  }

  drawDuplicates(found) {
    this.dups = found;
    const box = $('#dups');
    box.hidden = found.length === 0;
    if (!found.length) return;
    fill(box, h('strong', {}, t('dups.title')), h('ul', {}, found.slice(0, 5).map((d, i) => h('li', {},
      `#${d.incident_id} · ${this.store.typeName(d.type_code, getLang())} · `,
      d.distance_m != null ? `${Math.round(d.distance_m)} m · ` : '',
      t('dups.ago', { min: Math.max(0, Math.round(since(d.created_at) / 60)) }),
      d.distance_m == null ? ` · ${d.reason}` : '', ' ',
      h('button', { type: 'button', onclick: () => this.linkDuplicate(i) },
        i === 0 ? [h('kbd', {}, 'F8'), ' '] : null, t('dups.link', { id: d.incident_id }))))));
  }

  async linkDuplicate(index) {
    const dup = this.dups[index];
    const call = this.call();
    if (!dup) return;
    if (!call) {
      toast(t('dups.no_call'));
      return;
    }
    try {
      // What this caller said goes with the call into the incident's timeline, not into the bin.
      await post(`/api/v1/incidents/${dup.incident_id}/calls/${call.id}`, { notes: $('#notes').value.trim() || null });
    } catch (err) {
      toast(err.message, 'error');
      return;
    }
    this.finish(h('p', { class: 'ok' }, t('dups.linked', { id: dup.incident_id })));
  }

  async createIncident() {
    const type = this.form.type;
    if (!type) {
      toast(t('intake.need_type'), 'error');
      this.focusField('emergency', '#type-q');
      return;
    }
    const call = this.call();
    const loc = this.form.loc;
    const address = $('#address').value.trim();
    const body = {
      type_code: type.code, call_id: call ? call.id : null, notes: $('#notes').value.trim() || null,
      address: address || (loc && loc.label) || null,
    };
    if (loc && loc.lat != null) {
      Object.assign(body, { lat: loc.lat, lon: loc.lon, location_source: loc.source,
        location_accuracy_m: loc.accuracy_m ?? null });
    } else if (address) {
      body.location_source = 'caller';
    }
    const button = $('#create-incident');
    button.disabled = true;
    let incident;
    try {
      incident = await post('/api/v1/incidents', body, { key: this.form.key });
    } catch (err) {
      toast(`${t('intake.create_failed')}: ${err.message}`, 'error');
      return;
    } finally {
      button.disabled = false;
    }
    const dups = incident.probable_duplicates || [];
    this.finish(h('div', {},
      h('p', { class: 'ok', id: 'created-incident', dataset: { id: incident.id } },
        t('intake.created', { id: incident.id, type: this.store.typeName(incident.type_code, getLang()) })),
      dups.length ? h('div', { class: 'dups' }, h('strong', {}, t('dups.after')), h('ul', {}, dups.map((d) => h('li', {},
        `#${d.incident_id} · ${d.reason} `,
        h('button', { type: 'button', onclick: (e) => this.merge(incident.id, d.incident_id, e.target) },
          t('dups.merge', { id: incident.id, other: d.incident_id })))))) : null));
  }

  async merge(id, other, button) {
    try {
      await post(`/api/v1/incidents/${id}/duplicate-of/${other}`);
      button.replaceWith(h('span', { class: 'ok' }, t('dups.merged', { other })));
    } catch (err) {
      toast(err.message, 'error');
    }
  }

  /** An agency, or a topic: its agency, and the topic that gives the referral its deadline. */
  setAgency(picked) {
    const topic = picked.due_hours ? picked : null;
    this.form.topic = topic;
    this.form.agency = topic ? this.store.agencies.get(topic.agency_id) : picked;
    this.drawAgency();
    $('#agency-q').value = '';
    this.keepDraft();
    $('#ref-summary').focus();
  }

  drawAgency() {
    const box = $('#agency-chosen');
    const topic = this.form.topic;
    fill(box, h('strong', {}, this.form.agency.name), topic ? [' · ', h('span', { class: 'chip topic' },
      topicName(topic)), ' ', h('span', { class: 'muted' }, t('referral.due_hours', { h: topic.due_hours }))] : null);
    box.hidden = false;
    this.drawRefPlace();
  }

  /** The referral's point: the location chosen for this call, or a click on the map. */
  drawRefPlace() {
    const box = $('#ref-place');
    const loc = this.form.loc;
    box.hidden = !loc;
    if (loc) fill(box, t('referral.place'), ': ', `${loc.lat.toFixed(5)}, ${loc.lon.toFixed(5)}`);
  }

  async refer() {
    const agency = this.form.agency;
    const summary = $('#ref-summary').value.trim();
    if (!agency) {
      toast(t('referral.need_agency'), 'error');
      $('#agency-q').focus();
      return;
    }
    if (!summary) {
      toast(t('referral.need_summary'), 'error');
      $('#ref-summary').focus();
      return;
    }
    const call = this.call();
    try {
      const { loc, topic } = this.form;
      const ref = await post('/api/v1/referrals', {
        agency_id: agency.id, summary, call_id: call ? call.id : null,
        address: $('#ref-address').value.trim() || null, topic: topic ? topic.code : null,
        lat: loc ? loc.lat : null, lon: loc ? loc.lon : null,
      }, { key: this.form.refKey });
      this.finish(h('p', { class: 'ok' }, t('referral.sent', { id: ref.id, agency: agency.name })));
    } catch (err) {
      toast(`${t('referral.failed')}: ${err.message}`, 'error');
    }
  }

  /** The intake for this call is done: clear the forms, keep the call on screen (E ends it). */
  finish(message) {
    for (const id of FIELDS) $(id).value = '';
    for (const id of ['#type-chosen', '#loc-chosen', '#agency-chosen', '#ref-place', '#dups']) $(id).hidden = true;
    this.resetForm();
    this.open(null);
    this.keepDraft(); // saved: nothing to restore
    this.map.showPick(null, null);
    this.result(message);
    document.activeElement?.blur?.();
    if (this.current != null) this.select(this.current); // the caller's history now includes this intake
  }

  result(node) {
    fill($('#intake-result'), node);
  }

  /** A click on the map while taking a call sets the location. */
  mapClick(lat, lon) {
    if (this.mode === 'referral') { // the place of the complaint, sent to the agency
      this.form.loc = { lat, lon, source: 'map', label: t('source.map_point') };
      this.map.showPick(this.form.loc, null);
      this.drawRefPlace();
      this.keepDraft();
      return;
    }
    if (this.mode !== 'emergency') {
      if (!this.call()) return;
      this.open('emergency');
    }
    this.setLocation({ lat, lon, source: 'map', label: t('source.map_point') });
  }

  // ---- drawing ---------------------------------------------------------------------------------------

  changed(topic, detail) {
    if (topic === 'all' && !this.resumed) {
      // After a reload: back to the call whose intake was being written, with what was typed.
      this.resumed = true;
      const draft = recall('intake');
      if (draft && draft.call != null && this.store.calls.has(draft.call)) this.select(draft.call);
      else if (draft && draft.call == null && this.current == null) this.restoreDraft(null);
    }
    if (topic === 'all' || topic === 'calls') {
      const call = topic === 'calls' ? this.store.calls.get(detail) : null;
      // A call the PBX put through to me becomes my current call when I am free.
      if (call && call.status === 'answered' && call.taker_id === this.me.id && call.id !== this.current) {
        const mine = this.call();
        if (!mine || (mine.status === 'ended' && !this.dirty())) this.select(call.id);
      }
      this.drawQueueSoon();
      if (topic === 'all' || detail === this.current) this.drawCall();
    } else if (topic === 'location' && detail === this.current) {
      this.drawAml();
      this.map.showPick(this.form.loc, this.latestAml());
      const fix = this.latestAml();
      toast(t(fix && fix.source === 'link' ? 'link.arrived' : 'aml.arrived'), 'info', 3000);
    } else if (topic === 'messages' && detail === this.current) {
      this.drawMessages();
    } else if (topic === 'transcript' && detail === this.current) {
      this.drawWords();
    } else if (topic === 'caller') {
      const call = this.call();
      if (call && call.caller === detail) this.select(call.id);
    }
  }

  drawQueue() {
    const calls = [...this.store.calls.values()]
      .filter((c) => c.status !== 'ended' || c.id === this.current)
      .sort((a, b) => Date.parse(a.offered_at) - Date.parse(b.offered_at));
    $('#queue-empty').hidden = calls.length > 0;
    $('#waiting-count').textContent = String(calls.filter((c) => c.status === 'offered').length);
    fill(this.queue, calls.map((c) => {
      const other = c.status === 'answered' && c.taker_id != null && c.taker_id !== this.me.id;
      return h('li', {
        class: ['call', `call-${c.status}`, c.id === this.current && 'current', c.flagged && 'flagged', other && 'other'],
        dataset: { id: c.id }, tabindex: '-1', onclick: () => this.pick(c.id),
      },
      h('span', { class: 'caller', title: c.caller || '' }, callerText(c)),
      c.is_text ? h('span', { class: 'chip sms' }, 'SMS') : null,
      c.flagged ? h('span', { class: 'chip danger' }, t('caller.flagged_short')) : null,
      h('span', { class: `chip st-${c.status}` }, t(`call.status.${c.status}`)),
      c.status === 'offered' ? timer(c.offered_at, { warn: ANSWER_WARN_S, over: ANSWER_OVER_S, cls: 'wait' })
        : c.status === 'answered' ? timer(c.answered_at, { cls: 'talk' }) : null,
      c.classification ? h('span', { class: `chip cls-${c.classification}` }, t(`class.${c.classification}`)) : null,
      other ? h('span', { class: 'muted' }, t('call.other_taker')) : null);
    }));
  }

  drawCall() {
    const call = this.call();
    show($('#no-call'), !call);
    show($('#call-card'), Boolean(call));
    if (!call) return;
    fill($('#call-number'), callerText(call));
    $('#call-number').title = call.caller || '';
    const status = $('#call-status');
    status.className = `chip st-${call.status}`;
    status.textContent = t(`call.status.${call.status}`);
    const clockBox = $('#call-timer');
    if (call.status === 'offered') fill(clockBox, t('call.waiting'), ' ', timer(call.offered_at, { warn: 15, over: 20 }));
    else if (call.status === 'answered') fill(clockBox, t('call.talking'), ' ', timer(call.answered_at));
    else fill(clockBox, t('call.ended_at', { at: clock(call.ended_at) }));
    this.drawMessages();
    this.drawWords();
    const linked = $('#call-linked');
    linked.hidden = !call.incident_id;
    linked.textContent = call.incident_id ? t('call.linked', { id: call.incident_id }) : '';
    for (const button of document.querySelectorAll('#classify [data-class]')) {
      button.classList.toggle('chosen', button.dataset.class === call.classification);
    }
    this.drawHistory();
    this.links.draw();
    if (this.mode === 'emergency') this.drawAml();
  }

  /** What the caller said on the call (a simulated caller's words, or a speech-to-text engine's), as said. */
  drawWords() {
    const call = this.call();
    const lines = call ? this.store.transcripts.get(call.id) || [] : [];
    $('#call-words').hidden = lines.length === 0;
    fill($('#call-words-lines'), lines.map((line) => h('p', {}, line.words)));
  }

  /** A text call is a conversation: the caller's texts and the replies, and a box to answer in. */
  drawMessages() {
    const call = this.call();
    const list = call ? this.store.messages.get(call.id) || [] : [];
    const text = $('#call-text');
    text.hidden = !call || !call.text || list.length > 0; // the conversation starts with that text
    text.textContent = (call && call.text) || '';
    const box = $('#call-messages');
    box.hidden = list.length === 0;
    fill(box, list.map((m) => h('li', { class: ['msg', `msg-${m.direction}`, `msg-${m.status}`], dataset: { id: m.id } },
      h('div', { class: 'msg-body' }, m.body),
      h('div', { class: 'msg-meta' }, clock(m.at), ' · ',
        m.direction === 'in' ? t('sms.from_caller') : `${m.author || ''} · ${t(`sms.status.${m.status}`)}`,
        m.error ? ` · ${m.error}` : ''))));
    box.scrollTop = box.scrollHeight;
    const textCaller = Boolean(call && call.is_text && call.caller);
    $('#reply-form').hidden = !textCaller || !this.canReply;
    $('#reply-off').hidden = !textCaller || this.canReply;
  }

  async reply() {
    const call = this.call();
    const input = $('#reply-text');
    const body = input.value.trim();
    if (!call || !body) return;
    const button = $('#reply-send');
    button.disabled = true;
    try {
      this.replyKey ||= newKey(); // a retry of an answer that got lost is the same reply, not a second SMS
      const sent = await post(`/api/v1/calls/${call.id}/messages`, { text: body }, { key: this.replyKey });
      this.replyKey = null;
      this.store.addMessages(call.id, [sent]);
      input.value = '';
      if (sent.status === 'failed') toast(t('sms.failed'), 'error');
    } catch (err) {
      toast(err.message, 'error'); // the text stays in the box, to send again
    } finally {
      button.disabled = false;
      input.focus();
    }
  }

  drawHistory() {
    const status = this.details && this.details.id === this.current ? this.details.caller_status : null;
    const flag = $('#caller-flag');
    const box = $('#caller-history');
    if (!status) {
      flag.hidden = true;
      fill(box);
      return;
    }
    flag.hidden = !status.flagged && !status.prank_or_ghost_recent;
    if (status.flagged) {
      fill(flag, h('strong', {}, t('caller.flagged', { n: status.prank_or_ghost_recent,
        until: dateTime(status.flagged_until) })), h('div', {}, t('caller.flagged_hint')));
      flag.className = 'flag-banner danger';
    } else if (status.prank_or_ghost_recent) {
      fill(flag, t('caller.recent_abuse', { n: status.prank_or_ghost_recent }));
      flag.className = 'flag-banner warn';
    }
    const earlier = (status.recent_calls || []).filter((c) => c.id !== this.current);
    fill(box,
      h('div', {}, t('caller.history', { calls: Math.max(0, status.calls_total - 1), incidents: status.incidents.length }),
        status.incidents.slice(0, 6).map((id) => h('span', { class: 'chip' }, `#${id}`))),
      earlier.length ? h('ul', { class: 'earlier' }, earlier.slice(0, 5).map((c) => h('li', {},
        dateTime(c.offered_at), ' ',
        h('span', { class: `chip cls-${c.classification || 'none'}` },
          c.classification ? t(`class.${c.classification}`) : t('class.none')),
        c.incident_id ? ` #${c.incident_id}` : ''))) : null);
  }
}

function topicName(topic) {
  return getLang() === 'en' ? topic.name_en : topic.name;
}

function planText(plan) {
  return (plan || []).map((p) => `${p.count}× ${label('kind', p.kind)}`).join(', ');
}

/** Enter in a plain input moves to the next field instead of submitting the form by accident. */
function nextOnEnter(e, form) {
  if (e.key !== 'Enter' || e.ctrlKey || e.metaKey || e.defaultPrevented) return;
  const el = e.target;
  if (el.tagName !== 'INPUT') return;
  e.preventDefault();
  const fields = [...form.querySelectorAll('input, textarea, button[type=submit]')].filter((f) => !f.hidden && !f.disabled);
  const next = fields[fields.indexOf(el) + 1];
  if (next) next.focus();
}
