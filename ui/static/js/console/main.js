// The console (call-taker and dispatcher): one page, three views (intake, dispatch, referrals) and a map.

import { $, fill, h, typing } from '../lib/dom.js';
import { applyI18n, onLang, t } from '../lib/i18n.js';
import { Stream } from '../lib/stream.js';
import { boot, connection, tickTimers, toast } from '../lib/shell.js';
import { LogFollower, Store } from './store.js';
import { ConsoleMap } from './map.js';
import { INTAKE_KEYS, Intake } from './intake.js';
import { DISPATCH_KEYS, Dispatch } from './dispatch.js';
import { Referrals } from './referrals.js';
import { READINESS_KEY, Readiness } from './readiness.js';
import { ringButton } from '../lib/simulator.js';
import { Alerts } from './alerts.js';
import { CALLBACK_KEY, Callbacks } from './callbacks.js';
import { MAJOR_KEY, Major } from './major.js';

const VIEW_KEYS = { p: 'intake', d: 'dispatch', r: 'referrals' };

async function main() {
  const { me, region } = await boot();
  ringButton(me, region);
  const store = new Store();
  const map = new ConsoleMap($('#map'), $('#map-note'), region, store);
  const alerts = new Alerts({ map }); // public alerts (CAP): banner and areas
  const views = {
    intake: new Intake({ store, me, region, map }),
    dispatch: new Dispatch({ store, me, region, map }),
    referrals: new Referrals({ store }),
  };
  const readiness = new Readiness({ store, me });
  const callbacks = new Callbacks({ store }); // the callback list beside the queue; `B` calls the newest back
  const major = new Major({ store, me, intake: views.intake, map }); // disaster mode: `M` files a call 'terkait'
  let view = me.role === 'dispatcher' ? 'dispatch' : 'intake';

  const select = (name) => {
    view = name;
    for (const [key, el] of Object.entries({ intake: '#view-intake', dispatch: '#view-dispatch',
      referrals: '#view-referrals' })) {
      $(el).hidden = key !== name;
      const tab = $(`#tab-${key}`);
      tab.setAttribute('aria-selected', String(key === name));
      tab.classList.toggle('active', key === name);
    }
    document.body.dataset.view = name;
    map.refresh();
  };
  for (const tab of document.querySelectorAll('[data-view]')) {
    tab.addEventListener('click', () => select(tab.dataset.view));
  }
  select(view);

  map.onClick = (lat, lon) => {
    if (view === 'intake') views.intake.mapClick(lat, lon);
  };
  map.onIncident = (id) => {
    select('dispatch');
    views.dispatch.select(id);
  };

  document.addEventListener('keydown', (e) => {
    if (e.defaultPrevented || e.repeat) return;
    const inField = typing(e.target);
    if (e.key === 'Escape') {
      if (inField) e.target.blur();
      return;
    }
    if (!inField && !e.ctrlKey && !e.metaKey && !e.altKey && VIEW_KEYS[e.key.toLowerCase()]) {
      e.preventDefault();
      select(VIEW_KEYS[e.key.toLowerCase()]);
      return;
    }
    if (!inField && !e.ctrlKey && !e.metaKey && !e.altKey && readiness.enabled && e.key.toLowerCase() === 's') {
      e.preventDefault();
      readiness.toggle();
      return;
    }
    if (view === 'intake' && !inField && !e.ctrlKey && !e.metaKey && !e.altKey && callbacks.key(e)) {
      e.preventDefault();
      return;
    }
    if (major.key(e, inField, view)) {
      e.preventDefault();
      return;
    }
    if (views[view].key(e, inField)) e.preventDefault();
  });

  // `S` (ready / not ready) works in every view, for those who take calls.
  const ownKeys = readiness.enabled ? [READINESS_KEY] : [];
  const intakeKeys = [...INTAKE_KEYS, CALLBACK_KEY, MAJOR_KEY, ...ownKeys];
  const dispatchKeys = [...DISPATCH_KEYS, ...ownKeys];
  drawKeys('#keys-intake', intakeKeys);
  drawKeys('#keys-dispatch', dispatchKeys);
  onLang(() => {
    drawKeys('#keys-intake', intakeKeys);
    drawKeys('#keys-dispatch', dispatchKeys);
    applyI18n(document);
    store.emit('all');
    alerts.draw();
  });

  let loading = false;
  const load = async () => {
    if (loading || store.ready) return;
    loading = true;
    try {
      await store.load();
    } catch (err) {
      toast(`${t('err.load')}: ${err.message}`, 'error', 8000);
      // The connection may have dropped mid-load: try again (or when it is back: onLive loads then).
      setTimeout(() => stream.state === 'live' && load(), 3000);
    } finally {
      loading = false;
    }
  };
  const follower = new LogFollower({
    receive: (event) => stream.receive(event),
    since: () => (store.ready ? stream.seq : null),
    onChange: (delayed) => {
      $('#bus-banner').hidden = !delayed;
      document.body.classList.toggle('bus-delayed', delayed);
    },
  });
  const stream = new Stream({
    onEvent: (event) => {
      if (event.type === 'bus.status') follower.set(Boolean(event.data && event.data.live));
      else if (event.type.startsWith('alert.')) alerts.apply(event);
      else store.apply(event);
    },
    // Once loaded, a reconnect replays what was missed from `since`: no reload needed. A server whose bus is
    // deaf says so right after `live`; one that says nothing is live.
    onLive: () => {
      follower.set(true);
      load();
      alerts.load().catch((err) => toast(`${t('err.load')}: ${err.message}`, 'error', 8000));
    },
    onState: connection,
  });
  window.tanggapStream = stream; // for the browser tests and for a supervisor's console debugging
  window.tanggapFollower = follower;
  window.tanggapMap = map; // the browser tests read its layers (its canvas has no DOM to look at)
  stream.start();
  tickTimers();
  setInterval(() => store.prune(views.intake.current), 10 * 60 * 1000);
  setInterval(() => {
    if (stream.state !== 'live') connection(stream.state, { retryAt: stream.retryAt });
  }, 1000);
}

function drawKeys(selector, keys) {
  const box = $(selector);
  if (!box) return;
  fill(box, keys.map(([key, label]) => [h('dt', {}, h('kbd', {}, key)), h('dd', {}, t(label))]));
}

main().catch((err) => {
  document.body.prepend(h('div', { class: 'banner offline' }, `${t('err.load')}: ${err.message}`));
});
