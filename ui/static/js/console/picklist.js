// A type-ahead pick list for a text input (ARIA combobox): arrows move, Enter picks, Esc closes.

import { fill, h } from '../lib/dom.js';

let counter = 0;

export class Picklist {
  /**
   * search(query) -> items (may be async); render(item) -> node or text; onPick(item);
   * onEnterEmpty(query): Enter with nothing to pick (free text, or the AML shortcut).
   * showAll: open the full list on focus with an empty query (short catalogues).
   */
  constructor(input, list, { search, render, onPick, onEnterEmpty, delay = 0, showAll = false }) {
    this.input = input;
    this.list = list;
    this.search = search;
    this.render = render;
    this.onPick = onPick;
    this.onEnterEmpty = onEnterEmpty;
    this.showAll = showAll;
    this.items = [];
    this.active = -1;
    this.request = 0;
    this.id = `pick${counter++}`;
    this.timer = null;
    this.delay = delay;
    input.setAttribute('role', 'combobox');
    input.setAttribute('aria-autocomplete', 'list');
    input.setAttribute('aria-expanded', 'false');
    input.setAttribute('aria-controls', list.id);
    list.setAttribute('role', 'listbox');
    input.addEventListener('input', () => this.schedule());
    input.addEventListener('focus', () => {
      if (this.showAll || input.value.trim()) this.refresh();
    });
    input.addEventListener('blur', () => setTimeout(() => this.close(), 150));
    input.addEventListener('keydown', (e) => this.key(e));
  }

  schedule() {
    clearTimeout(this.timer);
    this.busy = true;
    if (this.delay) this.timer = setTimeout(() => this.refresh(), this.delay);
    else this.refresh();
  }

  async refresh() {
    const query = this.input.value;
    const ticket = ++this.request;
    this.busy = true;
    let items;
    try {
      items = await this.search(query);
    } catch {
      items = [];
    }
    if (ticket !== this.request) return; // a newer query has answered already
    this.busy = false;
    clearTimeout(this.timer);
    this.items = items || [];
    this.active = this.items.length ? 0 : -1;
    this.draw();
    if (this.enterWaiting) {
      // Enter was pressed before the answer came: act on it now, as the call-taker meant.
      this.enterWaiting = false;
      this.enter();
    }
  }

  draw() {
    const open = this.items.length > 0;
    this.list.hidden = !open;
    this.input.setAttribute('aria-expanded', String(open));
    fill(this.list, this.items.map((item, i) => h('li', {
      id: `${this.id}-${i}`, role: 'option', class: i === this.active ? 'active' : null,
      'aria-selected': String(i === this.active),
      onmousedown: (e) => {
        e.preventDefault(); // keep focus in the input
        this.pick(i);
      },
    }, this.render(item))));
    if (this.active >= 0) {
      this.input.setAttribute('aria-activedescendant', `${this.id}-${this.active}`);
      const el = this.list.children[this.active];
      if (el && el.scrollIntoView) el.scrollIntoView({ block: 'nearest' });
    } else {
      this.input.removeAttribute('aria-activedescendant');
    }
  }

  key(e) {
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      if (this.list.hidden) {
        this.refresh();
        return;
      }
      if (!this.items.length) return;
      const step = e.key === 'ArrowDown' ? 1 : -1;
      this.active = (this.active + step + this.items.length) % this.items.length;
      this.draw();
    } else if (e.key === 'Enter' && !e.ctrlKey && !e.metaKey) {
      e.preventDefault();
      if (this.busy && this.input.value.trim()) this.enterWaiting = true;
      else this.enter();
    } else if (e.key === 'Escape' && !this.list.hidden) {
      e.preventDefault();
      e.stopPropagation();
      this.close();
    }
  }

  enter() {
    if (!this.list.hidden && this.active >= 0) this.pick(this.active);
    else if (this.onEnterEmpty) this.onEnterEmpty(this.input.value.trim());
  }

  pick(index) {
    const item = this.items[index];
    this.close();
    if (item !== undefined) this.onPick(item);
  }

  close() {
    this.request++;
    this.busy = false;
    this.enterWaiting = false;
    this.items = [];
    this.active = -1;
    this.draw();
  }
}

/** Lower case without accents, for matching what a call-taker types against names and keywords. */
export function fold(text) {
  return (text || '').toLowerCase().normalize('NFD').replace(/[\u0300-\u036f]/g, '');
}
