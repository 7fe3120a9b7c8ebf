// Places the center learned from closed incidents (the words call-takers typed for a confirmed point): the
// supervisor sees how often each was used, renames it, moves its point, removes it from the search or
// brings it back.

import { $, fill, h } from '../lib/dom.js';
import { onLang, t } from '../lib/i18n.js';
import { api, get, patch } from '../lib/api.js';
import { toast } from '../lib/shell.js';

let rows = [];
let minUses = 2;

/** Load the section and wire its controls. */
export function startPlaces() {
  $('#places-hidden').addEventListener('change', load);
  onLang(draw);
  load();
}

async function load() {
  const hidden = $('#places-hidden').checked;
  try {
    const page = await get(`/api/v1/places/learned?limit=200&hidden=${hidden}`);
    rows = page.places;
    minUses = page.min_uses;
  } catch (err) {
    toast(err.message, 'error');
    return;
  }
  draw();
}

async function change(row, body) {
  try {
    await patch(`/api/v1/places/learned/${row.id}`, body);
  } catch (err) {
    toast(err.message, 'error');
  }
  load();
}

function rename(row) {
  const name = window.prompt(t('places.prompt_name'), row.name);
  if (name && name.trim() && name.trim() !== row.name) change(row, { name: name.trim() });
}

function move(row) {
  const text = window.prompt(t('places.prompt_point'), `${row.lat.toFixed(5)}, ${row.lon.toFixed(5)}`);
  if (!text) return;
  const parts = text.split(/[\s;]+|,\s+/).map((p) => Number(p.replace(',', '.'))).filter((n) => !Number.isNaN(n));
  if (parts.length !== 2) {
    toast(t('places.prompt_point'), 'error');
    return;
  }
  change(row, { lat: parts[0], lon: parts[1] });
}

async function remove(row) {
  if (!window.confirm(t('places.confirm_remove', { name: row.name }))) return;
  try {
    await api('DELETE', `/api/v1/places/learned/${row.id}`);
  } catch (err) {
    toast(err.message, 'error');
  }
  load();
}

function draw() {
  $('#places-hint').textContent = t('places.hint', { n: minUses });
  const columns = ['places.name', 'places.area', 'places.uses', 'places.status', ''];
  const hidden = $('#places-hidden').checked;
  fill($('#table-places'),
    h('thead', {}, h('tr', {}, columns.map((key) => h('th', {}, key ? t(key) : '')))),
    h('tbody', {}, rows.length ? rows.map((r) => h('tr', { dataset: { id: r.id } },
      h('td', {}, r.name),
      h('td', {}, [r.kecamatan, r.kelurahan].filter(Boolean).join(' / ') || '–'),
      h('td', { class: 'num' }, String(r.uses)),
      h('td', {}, t(r.searchable ? 'places.searchable' : 'places.pending')),
      h('td', {}, hidden
        ? h('button', { type: 'button', onclick: () => change(r, { hidden: false }) }, t('places.restore'))
        : [h('button', { type: 'button', onclick: () => rename(r) }, t('places.rename')), ' ',
          h('button', { type: 'button', onclick: () => move(r) }, t('places.move')), ' ',
          h('button', { type: 'button', onclick: () => remove(r) }, t('places.remove'))])))
      : h('tr', {}, h('td', { colspan: columns.length, class: 'muted' }, t('sup.no_data')))));
}
