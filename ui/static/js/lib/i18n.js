// The one translation table (ui/i18n/messages.json): Bahasa Indonesia by default, English as a switch.

const STORE = 'tanggap.lang';
let table = {};
let lang = localStorage.getItem(STORE) === 'en' ? 'en' : 'id';
const listeners = [];

export async function loadI18n() {
  const response = await fetch('/i18n.json', { credentials: 'same-origin' });
  table = await response.json();
  document.documentElement.lang = lang;
}

/** The text for `key` in the current language; `{name}` placeholders are filled from `params`. */
export function t(key, params) {
  const entry = table[key];
  let text = entry ? (entry[lang] ?? entry.id) : key;
  if (params) text = text.replace(/\{(\w+)\}/g, (m, name) => (params[name] ?? m));
  return text;
}

/** An Indonesian number as staff read and dial it: +6281266331234 -> 0812-6633-1234 (masked digits too); a
 * landline without dashes, since its area code has 2 to 4 digits (0751123456); a foreign one as stored. */
export function localNumber(e164) {
  if (!e164 || !e164.startsWith('+62')) return e164;
  const national = `0${e164.slice(3)}`;
  if (!national.startsWith('08')) return national;
  return [national.slice(0, 4), national.slice(4, 8), national.slice(8)].filter(Boolean).join('-');
}

/** A caller's number as the consoles show it, its extension apart ("0812-3456-7890 ext. 5"); withheld if none.
 * The stored E.164 number is the element's title where it is shown. */
export function callerText(call) {
  if (!call.caller) return t('call.withheld');
  const number = localNumber(call.caller);
  return call.caller_ext ? `${number} ${t('call.ext', { ext: call.caller_ext })}` : number;
}

/** A number as the language writes it: 1,9 in Bahasa, 1.9 in English (the server's texts use the comma). */
export function number(value, digits = 1) {
  return new Intl.NumberFormat(lang === 'en' ? 'en-GB' : 'id-ID', { maximumFractionDigits: digits }).format(value);
}

export function has(key) {
  return key in table;
}

/** The translated name of a code (`prefix.value`), or the code itself when the table has none. */
export function label(prefix, value) {
  const key = `${prefix}.${value}`;
  return key in table ? t(key) : value;
}

export const getLang = () => lang;

export function setLang(next) {
  lang = next === 'en' ? 'en' : 'id';
  localStorage.setItem(STORE, lang);
  document.documentElement.lang = lang;
  applyI18n(document);
  for (const fn of listeners) fn(lang);
}

export function onLang(fn) {
  listeners.push(fn);
}

/** Fill elements marked data-i18n (text), data-i18n-placeholder, data-i18n-title, data-i18n-label. */
export function applyI18n(root) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
}
