// The demo's "ring a simulated call" (POST /api/v1/demo/ring): in the header of the console and the supervisor's
// page, for supervisors and admins, when the server simulates calls (`simulator` of /api/v1/region).

import { $, fill, h } from './dom.js';
import { newKey, post } from './api.js';
import { t } from './i18n.js';
import { toast } from './shell.js';

const MAY_RING = ['supervisor', 'admin'];
const KINDS = ['emergency', 'prank', 'silent', 'information', 'complaint'];

/** Fills the page's empty `#sim-ring` with the kind picker and the button, when this user may ring. */
export function ringButton(me, region) {
  const box = $('#sim-ring');
  if (!box) return;
  box.hidden = !(region.simulator && MAY_RING.includes(me.role));
  if (box.hidden) return;
  const kind = h('select', { id: 'sim-kind', 'aria-label': t('sim.kind') }, h('option', { value: '' }, t('sim.kind.any')),
    KINDS.map((k) => h('option', { value: k }, t(`sim.kind.${k}`))));
  const button = h('button', { type: 'button', id: 'sim-ring-button' }, t('sim.ring'));
  fill(box, kind, button);
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      const call = await post('/api/v1/demo/ring', kind.value ? { kind: kind.value } : {}, { key: newKey() });
      toast(t('sim.rang', { id: call.id }), 'ok', 3000);
    } catch (err) {
      toast(`${t('sim.failed')}: ${err.message}`, 'error');
    } finally {
      button.disabled = false;
    }
  });
}
