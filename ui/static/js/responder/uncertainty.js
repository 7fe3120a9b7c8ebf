// How sure the incident's location is, on the crew's phone: a circle as wide as its accuracy (an AML radius, a
// location link's accuracy, a landmark, a street, a kelurahan's area) around the point, and the unit's own
// position when the phone has one. The console shows the same circle on its map; the phone page carries no map
// library, so this is a small sketch in SVG, to scale.

import { h } from '../lib/dom.js';
import { t } from '../lib/i18n.js';

const UNCERTAIN_M = 50; // as on the console's map: surer than a street's width needs no circle
const SIZE = 160;
const RADIUS_PX = 48; // the circle; the sketch shows three times its radius around the point
const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  return el;
}

/** Metres east and north of `from` to `to` (flat earth: fine within a few kilometres). */
function offset(from, to) {
  const rad = Math.PI / 180;
  return [(to.lon - from.lon) * rad * Math.cos(from.lat * rad) * 6371000, (to.lat - from.lat) * rad * 6371000];
}

/** The sketch for an incident (`lat`, `lon`, `location_accuracy_m`), or null when its point is sure enough. */
export function uncertainty(incident, fix) {
  const radius = incident.location_accuracy_m;
  if (incident.lat == null || radius == null || radius <= UNCERTAIN_M) return null;
  const c = SIZE / 2;
  const scale = RADIUS_PX / radius;
  const drawing = svg('svg', { viewBox: `0 0 ${SIZE} ${SIZE}`, width: SIZE, height: SIZE, role: 'img',
    'aria-label': t('resp.uncertain', { m: Math.round(radius) }) });
  drawing.append(
    svg('circle', { cx: c, cy: c, r: RADIUS_PX, class: 'circle' }),
    svg('line', { x1: c, y1: c, x2: c + RADIUS_PX, y2: c, class: 'radius' }),
    svg('circle', { cx: c, cy: c, r: 4, class: 'point' }));
  const label = svg('text', { x: c + RADIUS_PX / 2, y: c - 4, 'text-anchor': 'middle', class: 'label' });
  label.textContent = `${Math.round(radius)} m`;
  drawing.append(label);
  let you = null;
  if (fix) {
    const [east, north] = offset(incident, { lat: fix.latitude, lon: fix.longitude });
    const x = c + east * scale;
    const y = c - north * scale;
    if (x >= 0 && x <= SIZE && y >= 0 && y <= SIZE) {
      drawing.append(svg('circle', { cx: x, cy: y, r: 5, class: 'you' }));
      you = t('resp.uncertain_you');
    }
  }
  return h('figure', { class: 'uncertain', dataset: { radius: Math.round(radius) } }, drawing,
    h('figcaption', {}, t('resp.uncertain', { m: Math.round(radius) }), you ? ` ${you}` : ''));
}
