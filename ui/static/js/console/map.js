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

export class ConsoleMap {
  constructor(el, note, region, store) {
    this.note = note;
    this.store = store;
    this.ok = typeof window.L !== 'undefined';
    this.incidentMarkers = new Map();
    this.unitMarkers = new Map();
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
    this.map.on('zoomend', () => this.kelurahanByZoom());
    this.loadBoundaries();
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
    layer.addTo(this.boundaries);
    this.element().dataset.boundaries = String(kecamatan.features ? kecamatan.features.length : 0);
    const bounds = layer.getBounds();
    if (bounds.isValid()) this.map.fitBounds(bounds, { padding: [10, 10] });
    const kelurahan = await optional('/api/v1/geo/boundaries/kelurahan').catch(() => null);
    if (kelurahan) {
      this.kelurahan = L.geoJSON(kelurahan, {
        style: { color: '#78909c', weight: 0.8, dashArray: '3 4', fill: false }, interactive: false,
      });
      this.kelurahanByZoom();
    }
  }

  kelurahanByZoom() {
    if (!this.kelurahan) return;
    const wanted = this.map.getZoom() >= KELURAHAN_ZOOM;
    const shown = this.boundaries.hasLayer(this.kelurahan);
    if (wanted && !shown) this.boundaries.addLayer(this.kelurahan);
    if (!wanted && shown) this.boundaries.removeLayer(this.kelurahan);
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
    const L = window.L;
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
      marker.bindTooltip(label, { permanent: true, direction: 'right', className: 'tip-incident' });
    }
    for (const [id, marker] of this.incidentMarkers) {
      if (!seen.has(id)) {
        marker.remove();
        this.incidentMarkers.delete(id);
      }
    }
  }

  /** Units at their last GPS fix, or at their station (hollow) when no fix is known. */
  drawUnits(units) {
    if (!this.ok) return;
    const L = window.L;
    for (const unit of units) {
      const station = unit.station_id != null ? this.store.stations.get(unit.station_id) : null;
      const fix = unit.lat != null;
      const where = fix ? [unit.lat, unit.lon] : station ? [station.lat, station.lon] : null;
      if (!where) continue;
      const colour = UNIT[unit.status] || '#616161';
      const style = { radius: 6, color: colour, weight: 2, fillColor: colour, fillOpacity: fix ? 0.9 : 0.15 };
      let marker = this.unitMarkers.get(unit.id);
      if (!marker) {
        marker = L.circleMarker(where, style).addTo(this.units);
        marker.bindTooltip(h('span', {}, unit.callsign), { direction: 'top' });
        this.unitMarkers.set(unit.id, marker);
      } else {
        marker.setLatLng(where);
        marker.setStyle(style);
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
    if (focus && focus.lat != null) this.map.setView([focus.lat, focus.lon], Math.max(this.map.getZoom(), 14));
  }

  focus(lat, lon) {
    if (this.ok && lat != null) this.map.setView([lat, lon], Math.max(this.map.getZoom(), 14));
  }
}

function featureName(feature) {
  const p = feature.properties || {};
  return p.nama || p.name || p.kecamatan || p.kode || '';
}
