// Asking the dispatcher why, before an act that someone else must understand later: a unit stood down (its
// crew reads the reason) or a unit chosen over the recommendation (the review reads it). A modal dialog, not a
// form in the detail pane: the pane is redrawn with every event and would lose the typing.

import { h } from '../lib/dom.js';
import { t } from '../lib/i18n.js';

/**
 * Resolves with the reason ("<picked> — <details>", at most 300 characters), or null when the dispatcher
 * goes back. `reasons` are i18n keys of the usual answers; one of them or some text is required.
 */
export function askReason({ id, title, reasons, confirm, danger = false }) {
  const choice = h('select', { id: `${id}-reason` }, h('option', { value: '' }, t('ask.pick')),
    reasons.map((key) => h('option', { value: t(key) }, t(key))));
  const more = h('input', { type: 'text', id: `${id}-more`, maxlength: '200', autocomplete: 'off' });
  const error = h('p', { class: 'error', role: 'alert', hidden: true }, t('ask.need_reason'));
  const form = h('form', { method: 'dialog' },
    h('h3', {}, title),
    h('label', { for: `${id}-reason` }, t('ask.reason')), choice,
    h('label', { for: `${id}-more` }, t('ask.more')), more, error,
    h('div', { class: 'actions' },
      h('button', { type: 'submit', value: 'back' }, t('ask.back')),
      h('button', { type: 'submit', value: 'ok', class: danger ? 'danger' : 'primary' }, confirm)));
  const dialog = h('dialog', { class: 'ask-dialog', id }, form);
  const reason = () => [choice.value, more.value.trim()].filter(Boolean).join(' — ').slice(0, 300);
  for (const field of [choice, more]) field.addEventListener('input', () => { error.hidden = true; });
  form.addEventListener('submit', (e) => {
    if (e.submitter && e.submitter.value === 'ok' && !reason()) {
      e.preventDefault();
      error.hidden = false;
      choice.focus();
    }
  });
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(dialog.returnValue === 'ok' ? reason() : null);
    });
    document.body.append(dialog);
    dialog.showModal();
    choice.focus();
  });
}
