// The access audit, for admins (UU PDP No. 27/2022): who saw callers' full numbers, played a recording or
// exported a CSV, when and from where; newest first, filtered, a page at a time.

import { $, fill, h } from '../lib/dom.js';
import { label, onLang, t } from '../lib/i18n.js';
import { get } from '../lib/api.js';
import { dateTime } from '../lib/time.js';
import { toast } from '../lib/shell.js';

const PAGE = 50;
let rows = [];
let next = null;

/** Show the section and load its first page (the server answers admins only). */
export function startAudit() {
  $('#audit-panel').hidden = false;
  $('#audit-filter').addEventListener('submit', (e) => {
    e.preventDefault();
    load();
  });
  $('#audit-older').addEventListener('click', () => load(next));
  onLang(draw);
  load();
}

async function load(before = null) {
  const params = new URLSearchParams({ limit: String(PAGE) });
  const filters = { user: $('#audit-user').value.trim(), action: $('#audit-action').value,
    from: $('#audit-from').value, to: $('#audit-to').value };
  for (const [name, value] of Object.entries(filters)) if (value) params.set(name, value);
  if (before != null) params.set('before', String(before));
  let page;
  try {
    page = await get(`/api/v1/admin/access-audit?${params}`);
  } catch (err) {
    toast(err.message, 'error');
    return;
  }
  rows = before == null ? page.rows : rows.concat(page.rows);
  next = page.next_before;
  draw();
}

function draw() {
  const columns = ['audit.at', 'audit.user', 'audit.role', 'audit.action', 'audit.subject', 'audit.calls',
    'audit.address'];
  fill($('#table-audit'),
    h('thead', {}, h('tr', {}, columns.map((key) => h('th', {}, t(key))))),
    h('tbody', {}, rows.length ? rows.map((r) => h('tr', { dataset: { id: r.id, action: r.action } },
      h('td', {}, dateTime(r.at)), h('td', {}, r.username), h('td', {}, label('role', r.role)),
      h('td', {}, label('audit.act', r.action)), h('td', {}, r.subject),
      h('td', {}, r.call_ids.map((id) => `#${id}`).join(' ')), h('td', {}, r.address || '–')))
      : h('tr', {}, h('td', { colspan: columns.length, class: 'muted' }, t('sup.no_data')))));
  $('#audit-older').hidden = next == null;
}
