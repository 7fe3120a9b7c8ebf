// Disaster mode in the console (a major incident is active): a banner, the call-taker's one key "terkait"
// (M, or F9 from inside a field) that files the call on screen as a report under the major incident with the
// place and needs typed in the intake form, the reports by kecamatan, and the dispatcher's panel: reports by
// priority with casualties by triage colour (editable), units staged or committed per agency, shelters on the map.

import { $, debounce, fill, h } from '../lib/dom.js';
import { getLang, t } from '../lib/i18n.js';
import { get, newKey, post } from '../lib/api.js';
import { toast } from '../lib/shell.js';

export const MAJOR_KEY = ['M / F9', 'keys.major'];
const COLOURS = ['merah', 'kuning', 'hijau', 'hitam'];
const EDITORS = new Set(['dispatcher', 'supervisor', 'admin']); // triage counts and staging: ui/access.py
const REFRESH = /^(incident\.|assignment\.|major\.triage|major\.staged|unit\.status|call\.linked)/;

export class Major {
  constructor({ store, me, intake, map }) {
    Object.assign(this, { store, me, intake, map });
    this.active = null;
    this.board = null;
    this.shelters = null;
    this.filing = null; // { call, key }: a retry of a lost answer is the same report
    this.banner = h('div', { id: 'major-banner', class: 'banner major-banner', role: 'status', hidden: true });
    $('#bus-banner').after(this.banner);
    this.intakeBox = h('section', { id: 'major-intake', class: 'major-box', hidden: true });
    $('.pane-intake').prepend(this.intakeBox);
    this.dispatchBox = h('section', { id: 'major-dispatch', class: 'major-box', hidden: true });
    $('.pane-detail').prepend(this.dispatchBox);
    this.refreshSoon = debounce(() => this.loadBoard(), 700);
    store.on((topic, detail) => {
      if (topic === 'all') this.load();
      else if (topic === 'event') this.event(detail);
    });
  }

  async load() {
    try {
      const { major } = await get('/api/v1/major/active');
      await this.set(major);
    } catch (err) {
      toast(`${t('err.load')}: ${err.message}`, 'error');
    }
  }

  async set(major) {
    this.active = major;
    document.body.classList.toggle('major-active', Boolean(major));
    if (major && this.shelters === null) this.shelters = await get('/api/v1/major/shelters').catch(() => []);
    if (major) await this.loadBoard();
    else this.board = null;
    this.draw();
  }

  event(event) {
    if (event.type === 'major.declared' || event.type === 'major.stood_down') this.load();
    else if (this.active && REFRESH.test(event.type)) this.refreshSoon();
  }

  async loadBoard() {
    if (!this.active) return;
    try {
      this.board = await get(`/api/v1/major/${this.active.id}/board`);
    } catch (err) {
      toast(`${t('err.load')}: ${err.message}`, 'error');
      return;
    }
    this.draw();
  }

  /** M (outside a field) or F9 (anywhere) in the intake view: file the call on screen under the major incident. */
  key(e, inField, view) {
    if (!this.active || view !== 'intake' || e.ctrlKey || e.metaKey || e.altKey) return false;
    if (e.key === 'F9' || (!inField && e.key.toLowerCase() === 'm')) {
      this.file();
      return true;
    }
    return false;
  }

  async file() {
    const intake = this.intake;
    const call = intake.call();
    const loc = intake.form.loc;
    const address = $('#address').value.trim();
    const body = { call_id: call ? call.id : null, notes: $('#notes').value.trim() || null,
      address: address || (loc && loc.label) || null };
    if (intake.form.type) body.type_code = intake.form.type.code;
    if (loc && loc.lat != null) {
      Object.assign(body, { lat: loc.lat, lon: loc.lon, location_source: loc.source,
        location_accuracy_m: loc.accuracy_m ?? null });
    } else if (address) {
      body.location_source = 'caller';
    }
    if (!call && !body.notes && !body.address) {
      toast(t('major.need_call'), 'error');
      return;
    }
    if (!this.filing || this.filing.call !== body.call_id) this.filing = { call: body.call_id, key: newKey() };
    let report;
    try {
      report = await post(`/api/v1/major/${this.active.id}/reports`, body, { key: this.filing.key });
    } catch (err) {
      toast(`${t('major.file_failed')}: ${err.message}`, 'error');
      return;
    }
    this.filing = null;
    intake.finish(h('p', { class: 'ok', id: 'major-filed', dataset: { id: report.id } },
      t('major.filed', { id: report.id, name: this.active.name })));
    this.loadBoard();
  }

  draw() {
    const major = this.active;
    for (const box of [this.banner, this.intakeBox, this.dispatchBox]) box.hidden = !major;
    this.drawMap();
    if (!major) return;
    fill(this.banner, h('strong', {}, t('major.banner', { name: major.name })), ' ',
      t('major.banner_hint'));
    const board = this.board;
    if (!board) return;
    fill(this.intakeBox, h('h2', {}, t('major.title', { name: major.name })),
      h('p', { class: 'small' }, h('kbd', {}, 'M'), ' / ', h('kbd', {}, 'F9'), ' ', t('major.intake_hint')),
      this.kecamatanTable(board.kecamatan));
    const editor = EDITORS.has(this.me.role);
    fill(this.dispatchBox, h('h2', {}, t('major.title', { name: major.name })),
      h('p', {}, t('major.casualties'), ' ', COLOURS.map((c) => triageChip(c, board.triage[c]))),
      h('h3', {}, t('major.sites')),
      board.sites.length ? h('ol', { class: 'major-sites', id: 'major-sites' },
        board.sites.map((site) => this.siteRow(site, editor))) : h('p', { class: 'muted' }, t('major.no_sites')),
      h('h3', {}, t('major.agencies')), this.agencyTable(board.agencies, editor));
  }

  kecamatanTable(rows) {
    if (!rows.length) return h('p', { class: 'muted' }, t('major.no_sites'));
    return h('table', { class: 'major-kec', id: 'major-kecamatan' },
      h('tr', {}, h('th', {}, t('major.kecamatan')), h('th', {}, t('major.reports')), h('th', {}, t('major.open')),
        COLOURS.map((c) => h('th', {}, t(`triage.${c}`)))),
      rows.map((r) => h('tr', {}, h('td', {}, r.kecamatan), h('td', {}, r.reports), h('td', {}, r.open),
        COLOURS.map((c) => h('td', {}, r.triage[c])))));
  }

  siteRow(site, editor) {
    const inputs = COLOURS.map((c) => h('input', { type: 'number', min: '0', max: '100000', value: site.triage[c],
      class: `triage-in tr-${c}`, 'aria-label': t(`triage.${c}`), dataset: { colour: c }, disabled: !editor }));
    const save = async () => {
      const body = Object.fromEntries(inputs.map((i) => [i.dataset.colour, Number(i.value || 0)]));
      try {
        await post(`/api/v1/incidents/${site.id}/triage`, body);
        toast(t('major.triage_saved', { id: site.id }), 'info', 2500);
      } catch (err) {
        toast(err.message, 'error');
      }
    };
    const where = [site.kecamatan || t('major.unknown_place'), site.address].filter(Boolean).join(' · ');
    return h('li', { class: ['major-site', site.status === 'closed' && 'closed'], dataset: { id: site.id } },
      h('button', { type: 'button', class: 'link', onclick: () => this.map.onIncident?.(site.id) },
        h('span', { class: `prio p${site.priority}` }, `P${site.priority}`), ` #${site.id} `,
        this.store.typeName(site.type_code, getLang())),
      h('span', { class: 'muted' }, ` ${where}`),
      site.units.length ? h('div', { class: 'small' }, t('major.units_on_site'), ' ', site.units.join(', ')) : null,
      site.notes ? h('div', { class: 'small' }, site.notes) : null,
      h('div', { class: 'triage-row' }, inputs.map((input, i) => h('label', { class: `tr-${COLOURS[i]}` },
        t(`triage.${COLOURS[i]}`), ' ', input)),
      editor ? h('button', { type: 'button', class: 'triage-save', onclick: save }, t('major.triage_save')) : null));
  }

  agencyTable(rows, editor) {
    const unitChip = (u, staged) => h('span', { class: ['chip', staged ? 'staged' : 'committed'] }, u.callsign,
      staged && editor ? h('button', { type: 'button', class: 'chip-x', title: t('major.release'),
        onclick: () => this.stage(u.id, false) }, '×') : null);
    return h('table', { class: 'major-agencies', id: 'major-agencies' },
      h('tr', {}, h('th', {}, t('major.agency')), h('th', {}, t('major.staged')), h('th', {}, t('major.committed')),
        h('th', {}, t('major.free')), editor ? h('th', {}) : null),
      rows.map((a) => h('tr', { dataset: { agency: a.code } }, h('td', {}, a.name),
        h('td', {}, a.staged.map((u) => unitChip(u, true))), h('td', {}, a.committed.map((u) => unitChip(u, false))),
        h('td', {}, a.available), editor ? h('td', {}, this.stagePicker(a)) : null)));
  }

  stagePicker(agency) {
    const free = [...this.store.units.values()].filter((u) => u.agency_id === agency.agency_id
      && u.status === 'available' && !agency.staged.some((s) => s.id === u.id));
    if (!free.length) return null;
    const select = h('select', { 'aria-label': t('major.stage') },
      free.map((u) => h('option', { value: u.id }, u.callsign)));
    return [select, h('button', { type: 'button', onclick: () => this.stage(Number(select.value), true) },
      t('major.stage'))];
  }

  async stage(unitId, staged) {
    try {
      await post(`/api/v1/major/${this.active.id}/staging`, { unit_id: unitId, staged });
    } catch (err) {
      toast(err.message, 'error');
    }
  }

  /** Shelters as green squares and a ring around each report, while a major incident is active. */
  drawMap() {
    const L = window.L;
    if (!this.map.ok || !L) return;
    if (!this.layer) this.layer = L.layerGroup().addTo(this.map.map);
    this.layer.clearLayers();
    if (!this.active) return;
    for (const s of this.shelters || []) {
      L.circleMarker([s.lat, s.lon], { radius: 7, color: '#1b5e20', weight: 3, fillColor: '#ffffff', fillOpacity: 1 })
        .bindTooltip(h('span', {}, `${s.name} · ${t(`shelter.${s.kind}`)}`), { direction: 'top' }).addTo(this.layer);
    }
    for (const site of (this.board && this.board.sites) || []) {
      if (site.lat == null || site.status === 'closed') continue;
      L.circleMarker([site.lat, site.lon], { radius: 16, color: '#212121', weight: 2, dashArray: '3 3', fill: false,
        interactive: false }).addTo(this.layer);
    }
    this.map.element().dataset.shelters = String((this.shelters || []).length);
  }
}

function triageChip(colour, count) {
  return h('span', { class: ['chip', 'triage', `tr-${colour}`], dataset: { colour } }, `${t(`triage.${colour}`)} ${count}`);
}
