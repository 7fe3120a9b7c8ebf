// The caller's location page (/l/{token}): asks the phone for its position and posts it while the page is
// open, again when the caller moves. Plain ES5 and XMLHttpRequest, no framework: it must run on an old phone
// over a slow network, and everything it loads stays under 15 KB (tests/ui/test_location_link_api.py).
(function () {
  'use strict';
  var T = {
    id: {
      title: 'Kirim lokasi Anda ke 112',
      intro: 'Petugas 112 meminta lokasi ponsel Anda. Jika ponsel bertanya, pilih Izinkan.',
      wait: 'Mencari lokasi…',
      sending: 'Mengirim lokasi…',
      sent: 'Lokasi terkirim (±{m} m, {t}). Petugas melihatnya sekarang.',
      vague: 'Lokasi ponsel belum cukup tepat; nyalakan GPS / Lokasi.',
      denied: 'Akses lokasi ditolak. Izinkan lokasi untuk situs ini di pengaturan browser, lalu tekan Coba lagi.',
      unavailable: 'Lokasi tidak ditemukan. Nyalakan GPS / Lokasi, lalu tekan Coba lagi.',
      unsupported: 'Browser ini tidak dapat memberi lokasi. Sebutkan lokasi Anda kepada petugas.',
      net: 'Gagal mengirim (jaringan). Mencoba lagi…',
      expired: 'Tautan ini sudah tidak berlaku. Jika masih butuh bantuan, telepon 112 lagi.',
      again: 'Coba lagi',
      note_label: 'Pesan singkat untuk petugas (tidak wajib)',
      note_ph: 'mis. lantai 2, rumah cat hijau',
      send: 'Kirim pesan',
      note_sent: 'Pesan terkirim.',
      note_failed: 'Pesan gagal terkirim; coba lagi.',
      keep: 'Biarkan halaman ini terbuka: lokasi terus dikirim jika Anda berpindah.'
    },
    en: {
      title: 'Send your location to 112',
      intro: "The 112 operator asks for your phone's location. If the phone asks, choose Allow.",
      wait: 'Finding your location…',
      sending: 'Sending your location…',
      sent: 'Location sent (±{m} m, {t}). The operator sees it now.',
      vague: "The phone's location is not precise enough yet; turn on GPS / Location.",
      denied: 'Location access was refused. Allow location for this site in the browser settings, then press Try again.',
      unavailable: 'No location found. Turn on GPS / Location, then press Try again.',
      unsupported: 'This browser cannot give a location. Tell the operator where you are.',
      net: 'Sending failed (network). Trying again…',
      expired: 'This link is no longer valid. If you still need help, call 112 again.',
      again: 'Try again',
      note_label: 'Short message for the operator (optional)',
      note_ph: 'e.g. 2nd floor, green house',
      send: 'Send message',
      note_sent: 'Message sent.',
      note_failed: 'Message not sent; try again.',
      keep: 'Keep this page open: your location is sent again if you move.'
    }
  };
  var MIN_MS = 6000; // the server takes one position every 5 s
  var QUIET_MS = 60000; // a caller who stays put: the same place now and then, as a sign the page is open
  var MOVED_M = 15;
  var MAX_ACCURACY_M = 50000;
  var lang = 'id';
  var shown = { key: 'wait', cls: '', params: null };
  var noteShown = null;
  var last = null; // the last position the server took, and when
  var next = null; // the newest position not sent yet
  var timer = null;
  var retry = null; // asking the phone again after a lost fix
  var busy = false;
  var over = false;
  var watch = null;
  var path = '/l/' + encodeURIComponent(location.pathname.split('/').pop());

  function $(id) { return document.getElementById(id); }

  function tr(key, params) {
    return T[lang][key].replace(/\{(\w+)\}/g, function (m, name) { return params && name in params ? params[name] : m; });
  }

  function say(key, cls, params) {
    shown = { key: key, cls: cls || '', params: params || null };
    var box = $('status');
    box.textContent = tr(key, params);
    box.className = 'status ' + shown.cls;
  }

  function sayNote(key) {
    noteShown = key;
    $('note-status').textContent = key ? tr(key) : '';
  }

  function applyLang() {
    document.documentElement.lang = lang;
    var els = document.querySelectorAll('[data-t]');
    for (var i = 0; i < els.length; i++) els[i].textContent = tr(els[i].getAttribute('data-t'));
    $('note').placeholder = tr('note_ph');
    $('lang').textContent = lang === 'id' ? 'English' : 'Bahasa Indonesia';
    $('lang').lang = lang === 'id' ? 'en' : 'id';
    say(shown.key, shown.cls, shown.params);
    sayNote(noteShown);
  }

  function post(body, done) {
    var xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    xhr.setRequestHeader('Content-Type', 'application/json');
    xhr.timeout = 20000;
    xhr.onload = function () { done(xhr.status); };
    xhr.onerror = xhr.ontimeout = function () { done(0); };
    xhr.send(JSON.stringify(body));
  }

  function metres(a, b) {
    var k = Math.PI / 180;
    var x = (b.lon - a.lon) * k * Math.cos(((a.lat + b.lat) / 2) * k);
    var y = (b.lat - a.lat) * k;
    return Math.sqrt(x * x + y * y) * 6371000;
  }

  function end() {
    over = true;
    clearTimeout(timer);
    clearTimeout(retry);
    if (watch !== null) navigator.geolocation.clearWatch(watch);
    $('again').hidden = true;
    $('send-note').disabled = true;
    say('expired', 'bad');
  }

  function schedule() {
    if (over || busy || !next) return;
    clearTimeout(timer);
    var wait = 0;
    if (last) {
      var better = next.accuracy_m < last.accuracy_m * 0.7;
      wait = last.at + (better || metres(last, next) > MOVED_M ? MIN_MS : QUIET_MS) - Date.now();
    }
    timer = setTimeout(send, Math.max(0, wait));
  }

  function send() {
    if (over || busy || !next) return;
    var fix = next;
    busy = true;
    if (!last || shown.cls === 'bad') say('sending');
    post(fix, function (status) {
      busy = false;
      if (status === 404 || status === 410) return end();
      if (status === 200 || status === 429) {
        last = { lat: fix.lat, lon: fix.lon, accuracy_m: fix.accuracy_m, at: Date.now() };
        if (next === fix && status === 200) next = null;
        if (status === 200) say('sent', 'ok', { m: Math.round(fix.accuracy_m), t: new Date().toTimeString().slice(0, 5) });
      } else {
        say('net', 'bad');
        last = last ? { lat: last.lat, lon: last.lon, accuracy_m: last.accuracy_m, at: Date.now() } : null;
        timer = setTimeout(send, 10000);
        return;
      }
      schedule();
    });
  }

  function onFix(pos) {
    var c = pos.coords;
    var accuracy = Math.max(1, Math.round(c.accuracy * 10) / 10); // some phones claim 0 m
    if (!(accuracy <= MAX_ACCURACY_M)) return say('vague', 'bad');
    $('again').hidden = true;
    next = { lat: c.latitude, lon: c.longitude, accuracy_m: accuracy };
    schedule();
  }

  // Refused: only the caller can change that. Lost or late (indoors, the GPS warming up, a fix changing
  // source): ask again by itself, and keep saying what was sent meanwhile.
  function onError(err) {
    if (watch !== null) navigator.geolocation.clearWatch(watch);
    watch = null;
    if (err.code === 1 || !last) say(err.code === 1 ? 'denied' : 'unavailable', 'bad');
    $('again').hidden = err.code !== 1 && Boolean(last);
    if (err.code !== 1) retry = setTimeout(start, 3000);
  }

  function start() {
    clearTimeout(retry);
    if (over || watch !== null) return;
    if (!navigator.geolocation) return say('unsupported', 'bad');
    if (!last) say('wait');
    $('again').hidden = true;
    watch = navigator.geolocation.watchPosition(onFix, onError,
      { enableHighAccuracy: true, maximumAge: 10000, timeout: 60000 });
  }

  $('lang').onclick = function () {
    lang = lang === 'id' ? 'en' : 'id';
    applyLang();
  };
  $('again').onclick = start;
  $('note-form').onsubmit = function (e) {
    e.preventDefault();
    var text = $('note').value.replace(/^\s+|\s+$/g, '');
    if (!text || over) return;
    $('send-note').disabled = true;
    post({ note: text }, function (status) {
      $('send-note').disabled = over;
      if (status === 404 || status === 410) return end();
      if (status === 200) $('note').value = '';
      sayNote(status === 200 ? 'note_sent' : 'note_failed');
    });
  };
  start();
}());
