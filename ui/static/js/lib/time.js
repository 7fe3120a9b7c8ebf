// Clocks: server time (timers must not depend on a wrong PC clock) and the region's time zone.

import { getLang } from './i18n.js';

let skew = 0; // server clock minus this browser's clock, ms
let zone = 'Asia/Jakarta';
let zoneLabel = 'WIB';

export function setZone(timezone, label) {
  zone = timezone;
  zoneLabel = label;
}

export const zoneName = () => zoneLabel;

/** Learn the server's time from a timestamp it just sent (the websocket 'live' message). */
export function noteServerTime(iso) {
  const at = Date.parse(iso);
  if (!Number.isNaN(at)) skew = at - Date.now();
}

export const now = () => Date.now() + skew;

/** Seconds since an ISO timestamp, by the server's clock. */
export function since(iso) {
  return iso ? (now() - Date.parse(iso)) / 1000 : null;
}

export function seconds(fromIso, toIso) {
  return fromIso && toIso ? (Date.parse(toIso) - Date.parse(fromIso)) / 1000 : null;
}

/** 75 -> "1:15", 3725 -> "1:02:05". */
export function duration(sec) {
  if (sec == null || Number.isNaN(sec)) return '–';
  const s = Math.max(0, Math.floor(sec));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return hh ? `${hh}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

function format(iso, options) {
  if (!iso) return '–';
  const locale = getLang() === 'en' ? 'en-GB' : 'id-ID';
  return new Intl.DateTimeFormat(locale, { timeZone: zone, hour12: false, ...options }).format(new Date(iso));
}

export const clock = (iso) => format(iso, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
export const dateTime = (iso) =>
  format(iso, { day: '2-digit', month: 'short', hour: '2-digit', minute: '2-digit' });

/** The region's calendar date, `days` from today, as YYYY-MM-DD. */
export function localDate(days = 0) {
  const at = new Date(now() + days * 86400000);
  return new Intl.DateTimeFormat('en-CA', { timeZone: zone }).format(at);
}
