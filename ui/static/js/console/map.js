// The live map (Leaflet, served from this server): region boundaries from the API so it works without
// internet, incidents and units as they move, and the point a call-taker is choosing. Tiles are optional.

import { optional } from '../lib/api.js';
import { h } from '../lib/dom.js';
import { t } from '../lib/i18n.js';

const PRIORITY = { 1: '#c62828', 2: '#ef6c00', 3: '#f9a825', 4: '#607d8b' };
const UNIT = {
  available: '#2e7d32', dispatched: '#8e24aa', acknowledged: '#8e24aa', en_route: '#1565c0',
  on_scene: '#d84315', transporting: '#00838f', at_hospital: '#00838f', out_of_service: '#9e9e9e',
};
const KELURAHAN_ZOOM = 13;
const KECAMATAN_NAMES_ZOOM = 11; // names of kecamatan from here, of kelurahan from KELURAHAN_ZOOM
const LABELS_ZOOM = 15; // every incident's label from here; below, only the selected one's (no pile of labels)
const UNCERTAIN_M = 50; // a location less sure than this gets its circle: a kecamatan pick is kilometres wide

export class ConsoleMap {
  constructor(el, note, region, store) {
    this.note = note;
    this.store = store;
    this.ok = typeof window.L !== 'undefined';
    this.incidentMarkers = new Map();
    this.incidentCircles = new Map();
    this.unitMarkers = new Map(); // one marker per place: units at one post are one dot with their count
    this.selected = null;
    this.placed = false; // someone put the map somewhere (an incident, a pick, a drag): late outlines leave it
    this.lastIncidents = { list: [], lang: 'id' };
    this.onClick = null;
    this.onIncident = null;
    if (!this.ok) {
      note.textContent = t('map.missing');
      note.hidden = false;
      return;
    }
    const L = window.L;
    this.map = L.map(el, { center: region.center, zoom: 12, preferCanvas: true, attributionControl: true });
    this.map.attributionControl.setPrefix(false);
    if (region.tile_url) {
      L.tileLayer(region.tile_url, { maxZoom: 19, attribution: t('map.tiles') }).addTo(this.map);
    } else {
      el.classList.add('no-tiles');
    }
    this.boundaries = L.layerGroup().addTo(this.map);
    this.incidents = L.layerGroup().addTo(this.map);
    this.units = L.layerGroup().addTo(this.map);
    this.pick = L.layerGroup().addTo(this.map);
    this.map.on('click', (e) => this.onClick && this.onClick(e.latlng.lat, e.latlng.lng));
    this.map.on('dragstart', () => { this.placed = true; });
    this.map.on('zoomend', () => {
      this.kelurahanByZoom();
      this.drawIncidents(this.lastIncidents.list, this.lastIncidents.lang);
    });
    this.legend();
    this.loadBoundaries();
  }

  /** What the colours and shapes mean, in a corner of the map. */
  legend() {
    const L = window.L;
    // Colours by class (console.css): the page's CSP allows no inline style.
    const swatch = (name, hollow = false) => h('span', { class: ['swatch', `sw-${name}`, hollow && 'hollow'] });
    const control = L.control({ position: 'bottomleft' });
    control.onAdd = () => {
      const box = h('div', { class: 'map-legend', id: 'map-legend' },
        h('strong', {}, t('legend.incidents')), ' ',
        [1, 2, 3, 4].map((p) => [swatch(`p${p}`), `P${p} `]), h('br'),
        h('strong', {}, t('legend.units')), ' ',
        ['available', 'dispatched', 'en_route', 'on_scene'].map((s) => [swatch(s), `${t(`astatus.${s}`)} `]),
        h('br'), swatch('available', true), ` ${t('legend.at_post')} · `, swatch('ring'), ` ${t('legend.uncertain')} · `,
        h('span', { class: 'swatch-count' }, '3'), ` ${t('legend.stacked')}`);
      L.DomEvent.disableClickPropagation(box);
      return box;
    };
    control.addTo(this.map);
  }

  async loadBoundaries() {
    const L = window.L;
    let kecamatan = null;
    try {
      kecamatan = await optional('/api/v1/geo/boundaries/kecamatan');
    } catch {
      kecamatan = null;
    }
    if (!kecamatan) {
      this.say(t('map.no_boundaries'));
      return;
    }
    const layer = L.geoJSON(kecamatan, {
      style: { color: '#455a64', weight: 2, fill: true, fillColor: '#cfd8dc', fillOpacity: 0.08 },
      onEachFeature: (feature, part) => part.bindTooltip(h('span', {}, featureName(feature)), { sticky: true }),
    });
    this.kecamatanNames = placeNames(kecamatan, 'tip-place tip-kecamatan');
    layer.addTo(this.boundaries);
    this.element().dataset.boundaries = String(kecamatan.features ? kecamatan.features.length : 0);
    // The outlines can arrive after the dispatcher has opened an incident (a slow link, a busy server): the
    // whole city then would take the map from under them, to a zoom without place names.
    const bounds = layer.getBounds();
    if (bounds.isValid() && !this.placed) this.map.fitBounds(bounds, { padding: [10, 10] });
    const kelurahan = await optional('/api/v1/geo/boundaries/kelurahan').catch(() => null);
    if (kelurahan) {
      this.kelurahan = L.geoJSON(kelurahan, {
        style: { color: '#78909c', weight: 0.8, dashArray: '3 4', fill: false }, interactive: false,
      });
      this.kelurahanNames = placeNames(kelurahan, 'tip-place tip-kelurahan');
    }
    this.kelurahanByZoom();
  }

  /** Kelurahan outlines and names from KELURAHAN_ZOOM; kecamatan names from KECAMATAN_NAMES_ZOOM until then. */
  kelurahanByZoom() {
    const zoom = this.map.getZoom();
    const show = (layer, wanted) => {
      if (!layer) return;
      const shown = this.boundaries.hasLayer(layer);
      if (wanted && !shown) this.boundaries.addLayer(layer);
      if (!wanted && shown) this.boundaries.removeLayer(layer);
    };
    show(this.kelurahan, zoom >= KELURAHAN_ZOOM);
    show(this.kelurahanNames, zoom >= KELURAHAN_ZOOM);
    show(this.kecamatanNames, zoom >= KECAMATAN_NAMES_ZOOM && zoom < KELURAHAN_ZOOM);
  }

  /** The incident whose label is always shown (the one on the dispatcher's screen). */
  select(id) {
    this.selected = id;
    this.drawIncidents(this.lastIncidents.list, this.lastIncidents.lang);
  }

  element() {
    return this.map.getContainer();
  }

  say(text) {
    this.note.textContent = text;
    this.note.hidden = !text;
  }

  refresh() {
    if (this.ok) this.map.invalidateSize();
  }

  /** Draw every open incident with a location; remove the closed ones. */
  drawIncidents(list, lang) {
    if (!this.ok) return;
    this.lastIncidents = { list, lang };
    const L = window.L;
    const every = this.map.getZoom() >= LABELS_ZOOM;
    const seen = new Set();
    for (const incident of list) {
      if (incident.lat == null) continue;
      seen.add(incident.id);
      const style = {
        radius: 11, color: '#ffffff', weight: 2, fillColor: PRIORITY[incident.priority] || '#607d8b',
        fillOpacity: 0.95,
      };
      const label = h('span', {}, `#${incident.id} ${this.store.typeName(incident.type_code, lang)}`);
      let marker = this.incidentMarkers.get(incident.id);
      if (!marker) {
        marker = L.circleMarker([incident.lat, incident.lon], style).addTo(this.incidents);
        marker.on('click', () => this.onIncident && this.onIncident(incident.id));
        this.incidentMarkers.set(incident.id, marker);
      } else {
        marker.setLatLng([incident.lat, incident.lon]);
        marker.setStyle(style);
      }
      marker.unbindTooltip();
      // Labels of nearby incidents would cover each other: below LABELS_ZOOM only the selected one keeps its
      // label on; the others show theirs on hover.
      const always = every || incident.id === this.selected;
      marker.bindTooltip(label, { permanent: always, direction: 'right', className: 'tip-incident' });
      this.drawUncertainty(incident);
    }
    for (const [id, marker] of this.incidentMarkers) {
      if (!seen.has(id)) {
        marker.remove();
        this.incidentMarkers.delete(id);
        this.incidentCircles.get(id)?.remove();
        this.incidentCircles.delete(id);
      }
    }
  }

  /** A circle as wide as the location is unsure (its accuracy), when that is more than a street's width. */
  drawUncertainty(incident) {
    const L = window.L;
    const radius = incident.location_accuracy_m;
    let circle = this.incidentCircles.get(incident.id);
    if (radius == null || radius <= UNCERTAIN_M) {
      circle?.remove();
      this.incidentCircles.delete(incident.id);
      return;
    }
    const colour = PRIORITY[incident.priority] || '#607d8b';
    if (!circle) {
      circle = L.circle([incident.lat, incident.lon], {
        radius, color: colour, weight: 1, dashArray: '4 4', fillOpacity: 0.06, interactive: false,
      }).addTo(this.incidents);
      this.incidentCircles.set(incident.id, circle);
    } else {
      circle.setLatLng([incident.lat, incident.lon]);
      circle.setRadius(radius);
    }
  }

  /** Units at their last GPS fix, or at their station (hollow) when no fix is known. Units at one place (a post
   * with its fire engine and ambulance) are one dot with their count and every callsign on hover. */
  drawUnits(units) {
    if (!this.ok) return;
    const L = window.L;
    const places = new Map();
    for (const unit of units) {
      const station = unit.station_id != null ? this.store.stations.get(unit.station_id) : null;
      const fix = unit.lat != null;
      const where = fix ? [unit.lat, unit.lon] : station ? [station.lat, station.lon] : null;
      if (!where) continue;
      const key = `${where[0].toFixed(5)},${where[1].toFixed(5)}`;
      if (!places.has(key)) places.set(key, { where, fix, units: [] });
      places.get(key).units.push(unit);
    }
    for (const [key, place] of places) {
      // The dot takes the colour of the busiest unit there: a dispatched unit must not hide behind a free one.
      const lead = place.units.find((u) => u.status !== 'available' && u.status !== 'out_of_service')
        || place.units[0];
      const colour = UNIT[lead.status] || '#616161';
      const many = place.units.length > 1;
      const style = {
        radius: many ? 8 : 6, color: colour, weight: 2, fillColor: colour, fillOpacity: place.fix ? 0.9 : 0.15,
      };
      const names = place.units.map((u) => `${u.callsign} · ${t(`astatus.${u.status}`)}`).join('\n');
      let marker = this.unitMarkers.get(key);
      if (!marker) {
        marker = L.circleMarker(place.where, style).addTo(this.units);
        this.unitMarkers.set(key, marker);
      } else {
        marker.setStyle(style);
      }
      marker.unbindTooltip();
      marker.bindTooltip(h('span', { class: 'tip-units' }, names), { direction: 'top' });
      if (many) {
        marker.bindTooltip(h('span', { title: names }, String(place.units.length)), {
          permanent: true, direction: 'center', className: 'tip-count', interactive: true,
        });
      }
    }
    for (const [key, marker] of this.unitMarkers) {
      if (!places.has(key)) {
        marker.remove();
        this.unitMarkers.delete(key);
      }
    }
  }

  /** The call-taker's candidate point and, separately, the latest AML fix with its accuracy circle. */
  showPick(chosen, aml) {
    if (!this.ok) return;
    const L = window.L;
    this.pick.clearLayers();
    if (aml && aml.lat != null) {
      L.circle([aml.lat, aml.lon], {
        radius: Math.max(aml.accuracy_m || 0, 10), color: '#ef6c00', weight: 1, fillOpacity: 0.12,
        interactive: false,
      }).addTo(this.pick);
      L.circleMarker([aml.lat, aml.lon], { radius: 5, color: '#ef6c00', fillOpacity: 1, interactive: false })
        .addTo(this.pick);
    }
    if (chosen && chosen.lat != null) {
      L.circleMarker([chosen.lat, chosen.lon], {
        radius: 9, color: '#0d47a1', weight: 3, fillColor: '#42a5f5', fillOpacity: 0.9, interactive: false,
      }).addTo(this.pick);
    }
    const focus = chosen && chosen.lat != null ? chosen : aml;
    if (focus && focus.lat != null) this.focus(focus.lat, focus.lon);
  }

  focus(lat, lon) {
    if (!this.ok || lat == null) return;
    this.placed = true;
    this.map.setView([lat, lon], Math.max(this.map.getZoom(), 14));
  }

  /** Public alerts' areas (console/alerts.js): CAP polygons and circles (km), dashed for an exercise. Not
   * clickable, so that a call-taker can still pick a point inside one. */
  drawAlerts(list) {
    if (!this.ok) return;
    const L = window.L;
    if (!this.alertLayer) this.alertLayer = L.layerGroup().addTo(this.map);
    this.alertLayer.clearLayers();
    this.alertBounds = new Map();
    let count = 0;
    for (const alert of list) {
      if (!alert.area) continue;
      const style = {
        color: alert.exercise ? '#6a1b9a' : '#d32f2f', weight: 2, dashArray: alert.exercise ? '8 6' : null,
        fillOpacity: 0.07, interactive: false,
      };
      const shapes = [
        ...(alert.area.polygons || []).map((ring) => L.polygon(ring, style)),
        ...(alert.area.circles || []).map(([lat, lon, km]) => L.circle([lat, lon], { ...style, radius: km * 1000 })),
      ];
      const group = L.featureGroup(shapes).addTo(this.alertLayer);
      this.alertBounds.set(alert.id, group.getBounds());
      count += shapes.length;
    }
    this.element().dataset.alertAreas = String(count);
  }

  focusAlert(id) {
    const bounds = this.alertBounds && this.alertBounds.get(id);
    if (!this.ok || !bounds || !bounds.isValid()) return;
    this.placed = true;
    this.map.fitBounds(bounds, { padding: [20, 20], animate: false });
  }
}

/** The names of a layer's areas, each at the middle of its outline, shown as the zoom allows. */
function placeNames(collection, className) {
  const L = window.L;
  const names = L.layerGroup();
  for (const feature of collection.features || []) {
    const name = featureName(feature);
    if (!name) continue;
    const centre = L.geoJSON(feature).getBounds().getCenter();
    L.tooltip({ permanent: true, direction: 'center', className, interactive: false })
      .setLatLng(centre).setContent(name).addTo(names);
  }
  return names;
}

function featureName(feature) {
  const p = feature.properties || {};
  return p.nama || p.name || p.kecamatan || p.kode || '';
}
