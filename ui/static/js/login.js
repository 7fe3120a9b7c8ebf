// Log in, then go where the server sends this role (or back to the page that asked for the login).

import { $ } from './lib/dom.js';
import { applyI18n, getLang, loadI18n, setLang, t } from './lib/i18n.js';
import { post } from './lib/api.js';

// Control characters and backslashes: browsers drop tabs and newlines from a URL and read '\' as '/', so
// '/\t/evil.example' or '/\\evil.example' would leave this server.
const UNSAFE = /[\u0000-\u001f\u007f\\]/;

function pathOnly(value) {
  return value.startsWith('/') && !value.startsWith('//') && !UNSAFE.test(value);
}

/** `next` if it is a path on this server (the same rules as ui/pages.py's safe_next), else '/'. */
function safeNext(raw) {
  let value = raw || '/';
  for (let i = 0; i < 4; i += 1) {
    if (!pathOnly(value)) return '/';
    let decoded;
    try {
      decoded = decodeURIComponent(value);
    } catch {
      return '/';
    }
    if (decoded === value) {
      const url = new URL(raw || '/', location.origin);
      return url.origin === location.origin ? url.pathname + url.search + url.hash : '/';
    }
    value = decoded;
  }
  return '/';
}

function failure(err) {
  if (err.status === 401) return t('login.wrong');
  if (err.kind === 'LoginLocked') return t('login.locked', { s: (err.data && err.data.retry_after_s) || 30 });
  if (err.status === 429 || err.status === 503) return t('login.busy');
  if (err.status === 403) return t('login.forbidden');
  return `${t('err.network')} (${err.message})`;
}

async function main() {
  await loadI18n();
  applyI18n(document);
  const lang = $('#lang');
  const label = () => {
    lang.textContent = getLang() === 'id' ? 'EN' : 'ID';
  };
  label();
  lang.addEventListener('click', () => {
    setLang(getLang() === 'id' ? 'en' : 'id');
    label();
  });
  const error = $('#login-error');
  if (new URLSearchParams(location.search).get('role') === 'none') {
    error.textContent = t('login.no_page');
    error.hidden = false;
  }
  $('#login').addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hidden = true;
    const button = e.submitter || $('#login button[type=submit]');
    button.disabled = true;
    try {
      await post('/api/v1/auth/login', { username: $('#username').value.trim(), password: $('#password').value },
        { quiet401: true });
      location.assign(safeNext(new URLSearchParams(location.search).get('next')));
    } catch (err) {
      error.textContent = failure(err);
      error.hidden = false;
      button.disabled = false;
    }
  });
  // Disabled in the page until now: an Enter pressed before this script ran would have submitted the form
  // natively, a reload that loses what was typed (and never a password in the address bar: method=post).
  $('#login button[type=submit]').disabled = false;
}

main();
