// The Log activity panel's request log: REQ/RES/POLL/ERR entries kept for the browser session.
import {h, replace, uid} from './dom.js';
import {clockTime} from './format.js';

const KEY = 'gami.requestLog';
const UI_KEY = 'gami.requestLog.expanded';
const MAX = 300;

function loadEntries() {
  try {
    const data = JSON.parse(sessionStorage.getItem(KEY) || '[]');
    return Array.isArray(data) ? data : [];
  } catch {
    return [];
  }
}

/** The session's log entries, shared by every panel (sessionStorage-backed). */
class LogStore {
  constructor() {
    this.entries = loadEntries();
    this.views = new Set();
  }
  save() {
    if (this.entries.length > MAX) this.entries.splice(0, this.entries.length - MAX);
    try {
      sessionStorage.setItem(KEY, JSON.stringify(this.entries));
    } catch {
      // Storage full: drop the oldest half and keep going.
      this.entries.splice(0, Math.floor(this.entries.length / 2));
      try { sessionStorage.setItem(KEY, JSON.stringify(this.entries)); } catch { /* give up persisting */ }
    }
  }
  /** Add {label, type, status, message?, activityId?, uuid?, payload}; returns the entry id. */
  add(entry) {
    const now = new Date();
    const full = {id: uid('log') + '-' + now.getTime(), time: clockTime(now), at: now.toISOString(), ...entry};
    this.entries.push(full);
    this.save();
    this.views.forEach((v) => v.added(full));
    return full.id;
  }
  update(id, changes) {
    const entry = this.entries.find((e) => e.id === id);
    if (!entry) return;
    Object.assign(entry, changes);
    this.save();
    this.views.forEach((v) => v.changed(entry));
  }
  clear() {
    this.entries = [];
    this.save();
    this.views.forEach((v) => v.cleared());
  }
}

export const requestLog = new LogStore();

const LABEL_TONE = {REQ: 'info', RES: 'ok', POLL: 'muted', ERR: 'bad'};
const STATUS_TONE = {pending: 'warn', success: 'ok', failed: 'bad'};

/** The footer region: collapsed to its header (count and last status) so the form keeps its
 *  height; Expand fills the panel with the entries, Collapse returns; Clear empties it. */
export class RequestLogView {
  constructor({onExpandChange} = {}) {
    this.onExpandChange = onExpandChange;
    this.listId = uid('reqlog');
    this.count = h('span', {class: 'reqlog-count'});
    this.last = h('span', {class: 'reqlog-last', 'aria-live': 'polite'});
    this.expandBtn = h('button', {type: 'button', class: 'btn btn-small btn-ghost', 'aria-controls': this.listId,
      onclick: () => this.setExpanded(!this.expanded)});
    this.clearBtn = h('button', {type: 'button', class: 'btn btn-small btn-ghost', onclick: () => {
      requestLog.clear();
    }}, 'Clear');
    this.list = h('ol', {class: 'reqlog-list', id: this.listId, 'aria-live': 'polite', 'aria-relevant': 'additions'});
    this.emptyEl = h('p', {class: 'reqlog-empty muted small'}, 'No requests yet. Submissions, responses, polling and errors appear here.');
    const titleId = uid('reqlog-title');
    this.el = h('section', {class: 'reqlog', 'aria-labelledby': titleId},
      h('header', {class: 'reqlog-head'},
        h('h3', {class: 'reqlog-title', id: titleId}, 'Request log'), this.count, this.last,
        h('div', {class: 'reqlog-buttons'}, this.expandBtn, this.clearBtn)),
      h('div', {class: 'reqlog-scroll'}, this.emptyEl, this.list));
    this.items = new Map();
    requestLog.entries.slice().reverse().forEach((e) => this.list.append(this.renderEntry(e)));
    this.setExpanded(sessionStorage.getItem(UI_KEY) === '1', {silent: true});
    this.refreshCount();
    requestLog.views.add(this);
  }

  destroy() {
    requestLog.views.delete(this);
  }

  setExpanded(expanded, {silent = false} = {}) {
    this.expanded = expanded;
    sessionStorage.setItem(UI_KEY, expanded ? '1' : '0');
    this.el.classList.toggle('is-expanded', expanded);
    this.expandBtn.textContent = expanded ? 'Collapse' : 'Expand';
    this.expandBtn.setAttribute('aria-expanded', String(expanded));
    if (this.onExpandChange && !silent) this.onExpandChange(expanded);
    else if (this.onExpandChange) this.onExpandChange(expanded, true);
  }

  refreshCount() {
    const n = requestLog.entries.length;
    this.count.textContent = n ? `${n} ${n === 1 ? 'entry' : 'entries'}` : '';
    this.emptyEl.hidden = n > 0;
    this.clearBtn.disabled = n === 0;
    const last = requestLog.entries[n - 1];
    replace(this.last, last ? ['last: ', h('span', {class: 'reqlog-last-label'}, last.label), ` ${last.type || ''} · ${last.status}`] : '');
    this.last.dataset.status = last ? last.status : '';
  }

  renderEntry(e) {
    const details = h('details', {class: 'reqlog-details'}, h('summary', {}, 'Details'),
      h('pre', {class: 'json', tabindex: '0'}, JSON.stringify(e.payload ?? null, null, 2)));
    const li = h('li', {class: `reqlog-entry is-${e.status}`, dataset: {label: e.label, status: e.status, entryId: e.id}},
      h('div', {class: 'reqlog-line'},
        h('span', {class: `badge badge-${LABEL_TONE[e.label] || 'muted'} reqlog-label`}, e.label),
        h('span', {class: 'reqlog-type'}, e.type || ''),
        h('time', {class: 'reqlog-time', datetime: e.at}, e.time),
        h('span', {class: `badge badge-${STATUS_TONE[e.status] || 'muted'} reqlog-status`}, e.status),
        e.uuid ? h('span', {class: 'muted small reqlog-user', title: 'User'}, e.uuid) : null),
      e.message ? h('p', {class: `reqlog-message ${e.label === 'ERR' ? 'text-bad' : ''}`}, e.message) : null,
      e.activityId ? h('p', {class: 'reqlog-activity muted small'}, 'Activity ', h('code', {}, e.activityId)) : null,
      details);
    this.items.set(e.id, li);
    return li;
  }

  added(e) {
    this.list.prepend(this.renderEntry(e));
    this.refreshCount();
  }

  changed(e) {
    const old = this.items.get(e.id);
    if (!old) return;
    const wasOpen = old.querySelector('details')?.open;
    const li = this.renderEntry(e);
    if (wasOpen) li.querySelector('details').open = true;
    old.replaceWith(li);
    this.refreshCount();
  }

  cleared() {
    replace(this.list);
    this.items.clear();
    this.refreshCount();
  }
}
