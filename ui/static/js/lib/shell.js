// What every page shares: translations, the logged-in user, the region, the header, toasts, and the
// connection indicator that makes "offline" impossible to miss.

import { $, fill, h } from './dom.js';
import { applyI18n, getLang, loadI18n, onLang, setLang, t } from './i18n.js';
import { get, post } from './api.js';
import { clock, duration, now, setZone, zoneName } from './time.js';

export async function boot() {
  await loadI18n();
  const [me, region] = await Promise.all([get('/api/v1/auth/me'), get('/api/v1/region')]);
  setZone(region.timezone, region.tz_label);
  applyI18n(document);
  header(me, region);
  return { me, region };
}

function header(me, region) {
  const name = $('#region-name');
  if (name) name.textContent = region.name;
  const who = $('#me');
  if (who) {
    const role = () => fill(who, me.name, ' · ', t(`role.${me.role}`));
    role();
    onLang(role);
  }
  const lang = $('#lang');
  if (lang) {
    const label = () => {
      lang.textContent = getLang() === 'id' ? 'EN' : 'ID';
      lang.title = t('lang.switch');
    };
    label();
    lang.addEventListener('click', () => setLang(getLang() === 'id' ? 'en' : 'id'));
    onLang(label);
  }
  const out = $('#logout');
  if (out) {
    out.addEventListener('click', async () => {
      try {
        await post('/api/v1/auth/logout');
      } finally {
        location.assign('/login');
      }
    });
  }
  const wall = $('#clock');
  if (wall) {
    const tick = () => {
      wall.textContent = `${clock(new Date(now()).toISOString())} ${zoneName()}`;
    };
    tick();
    setInterval(tick, 1000);
  }
}

/** Show the stream's state in the header (#conn) and, when not live, in a banner across the page. */
export function connection(state, info) {
  const badge = $('#conn');
  const banner = $('#offline-banner');
  const live = state === 'live';
  if (badge) {
    badge.className = `conn conn-${state}`;
    badge.textContent = t(`conn.${state}`);
  }
  if (banner) {
    banner.hidden = live;
    if (!live) {
      const wait = info && info.retryAt ? Math.max(0, (info.retryAt - Date.now()) / 1000) : null;
      fill(banner, h('strong', {}, t(`conn.${state}`)), ' — ', t('conn.banner'),
        wait != null ? ` ${t('conn.retry_in', { s: Math.ceil(wait) })}` : '');
    }
  }
  document.body.classList.toggle('is-offline', !live);
}

export function toast(message, kind = 'info', ms = 6000) {
  let box = $('#toasts');
  if (!box) {
    box = h('div', { id: 'toasts', 'aria-live': 'polite' });
    document.body.append(box);
  }
  const item = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, message);
  box.append(item);
  setTimeout(() => item.remove(), ms);
}

function paint(el) {
  const from = Date.parse(el.dataset.since);
  const to = el.dataset.until ? Date.parse(el.dataset.until) : now();
  const sec = (to - from) / 1000;
  el.textContent = duration(sec);
  const warn = Number(el.dataset.warn);
  const over = Number(el.dataset.over);
  el.classList.toggle('warn', Boolean(warn) && sec > warn && !(over && sec > over));
  el.classList.toggle('over', Boolean(over) && sec > over);
}

/** Update every element carrying data-since (ISO time) with the time elapsed, once a second. */
export function tickTimers(root = document) {
  const tick = () => root.querySelectorAll('[data-since]').forEach(paint);
  tick();
  return setInterval(tick, 1000);
}

/** A timer element: counts up from `since` (to `until` if given); colours past `warn`/`over` seconds. */
export function timer(since, { until, warn, over, cls } = {}) {
  const data = { since };
  if (until) data.until = until;
  if (warn) data.warn = warn;
  if (over) data.over = over;
  const el = h('span', { class: ['timer', cls], dataset: data });
  paint(el);
  return el;
}
