// Log in, then go where the server sends this role (or back to the page that asked for the login).

import { $ } from './lib/dom.js';
import { applyI18n, getLang, loadI18n, setLang, t } from './lib/i18n.js';
import { post } from './lib/api.js';

function safeNext() {
  const next = new URLSearchParams(location.search).get('next') || '/';
  // Only paths on this server: never '//elsewhere' or 'https://elsewhere'.
  return next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\') ? next : '/';
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
      location.assign(safeNext());
    } catch (err) {
      error.textContent = err.status === 401 ? t('login.wrong') : `${t('err.network')} (${err.message})`;
      error.hidden = false;
      button.disabled = false;
    }
  });
}

main();
