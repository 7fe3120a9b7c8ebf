// What a reload must not lose: the half-typed intake of a call and the incident on the dispatcher's screen.
// Kept in this tab's sessionStorage, which goes with the tab: the notes hold what a caller said (personal data)
// and must not outlive the shift on a shared desk.

const PREFIX = 'tanggap.';

/** Keep `value` under `name` (null forgets it). A full or refused storage loses only the convenience. */
export function remember(name, value) {
  try {
    if (value == null) sessionStorage.removeItem(PREFIX + name);
    else sessionStorage.setItem(PREFIX + name, JSON.stringify(value));
  } catch {
    // private mode or quota: the page works on, a reload just starts empty
  }
}

export function recall(name) {
  try {
    const raw = sessionStorage.getItem(PREFIX + name);
    return raw ? JSON.parse(raw) : null;
  } catch {
    return null;
  }
}
