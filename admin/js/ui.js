// Shared UI pieces: dialogs (focus trap and return), live announcements, errors, avatars.
import {h, replace, uid} from './dom.js';

/* ---------- live region and toast ---------- */
let toastTimer = null;
/**
 * Announce a status: to assistive technology through the live region (#live, always rendered),
 * and on screen as a toast (#toast). The toast is a popover, shown anew each time, so it sits in
 * the top layer above any open dialog and its backdrop (console.md: notices appear above dialogs).
 */
export function announce(message, {tone = 'info'} = {}) {
  const live = document.getElementById('live');
  const toast = document.getElementById('toast');
  if (live) {
    live.textContent = '';
    // A fresh text node after clearing makes screen readers repeat identical messages.
    requestAnimationFrame(() => { live.textContent = message; });
  }
  if (!toast) return;
  toast.textContent = message;
  toast.dataset.tone = tone;
  if (toast.showPopover) {
    if (toast.matches(':popover-open')) toast.hidePopover();
    toast.showPopover();
  }
  toast.classList.add('show');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    toast.classList.remove('show');
    if (toast.hidePopover && toast.matches(':popover-open')) toast.hidePopover();
  }, 4000);
}

/* ---------- errors, loading, empty ---------- */
/** An inline error box (role=alert) showing the API's message where the action was taken. */
export function errorBox(error, {retry} = {}) {
  const details = (error && error.details) || [];
  // A refused body lists its fields below: the API's one-line summary would say it all twice.
  const message = details.length && error.type === 'ValidationError' ? 'Some values need fixing:'
    : error && error.display ? error.display : String(error && error.message ? error.message : error);
  const box = h('div', {class: 'alert alert-error', role: 'alert'},
    h('span', {class: 'alert-text'}, message));
  if (details.length) {
    const label = (f) => String(f || '').replace(/^attrs\./, '').replace(/\.(\d+)\./g, (_, n) => ` #${Number(n) + 1} `);
    box.append(h('ul', {class: 'alert-details'}, details.map((d) => h('li', {}, d.field ? `${label(d.field)}: ${d.message}` : d.message))));
  }
  if (retry) box.append(h('button', {type: 'button', class: 'btn btn-small', onclick: retry}, 'Retry'));
  return box;
}

/** A status slot that shows nothing, an error, or a message; keeps its place (no layout shift). */
export function statusSlot() {
  const el = h('div', {class: 'status-slot'});
  return {
    el,
    error(err) { replace(el, errorBox(err)); },
    clear() { replace(el); },
    set(node) { replace(el, node); },
  };
}

export function loading(label = 'Loading…', {rows = 3} = {}) {
  return h('div', {class: 'loading', role: 'status', 'aria-live': 'polite', 'aria-busy': 'true'},
    h('span', {class: 'spinner', 'aria-hidden': 'true'}),
    h('span', {class: 'loading-label'}, label),
    h('div', {class: 'skeleton', 'aria-hidden': 'true'}, Array.from({length: rows}, () => h('div', {class: 'skeleton-line'}))));
}

export function empty(message) {
  return h('p', {class: 'empty'}, message);
}

/* ---------- badges ---------- */
export function statusBadge(status) {
  const s = String(status || '').toUpperCase();
  const tone = {SUCCEEDED: 'ok', FAILED: 'bad', REJECTED: 'warn', QUEUED: 'muted', PROCESSING: 'info'}[s] || 'muted';
  return h('span', {class: `badge badge-${tone}`}, s || '—');
}

export function pill(text, tone = 'muted') {
  return h('span', {class: `badge badge-${tone}`}, text);
}

/* ---------- avatar ---------- */
function hashString(s) {
  let x = 2166136261;
  for (let i = 0; i < s.length; i += 1) {
    x ^= s.charCodeAt(i);
    x = Math.imul(x, 16777619);
  }
  return x >>> 0;
}

export function initials(user) {
  const source = [user.firstName, user.lastName].filter(Boolean).join(' ') || user.displayName || user.uuid || '?';
  const words = source.trim().split(/[\s._@-]+/).filter(Boolean);
  const letters = words.length > 1 ? words[0][0] + words[words.length - 1][0] : (words[0] || '?').slice(0, 2);
  return letters.toUpperCase();
}

/** A placeholder avatar: initials on a colour derived from the uuid. */
export function placeholderAvatar(user, size) {
  const hue = hashString(String(user.uuid || '')) % 360;
  return h('span', {
    class: `avatar avatar-${size} avatar-placeholder`,
    // One perceptual lightness (OKLCH) for every hue: white initials keep a 6:1 contrast on all of them.
    style: `background: oklch(0.48 0.13 ${hue})`,
    role: 'img',
    'aria-label': `Picture of ${user.displayName || user.uuid} (placeholder)`,
    dataset: {placeholder: 'true'},
  }, initials(user));
}

/** The user's picture, or the placeholder when pictureUrl is empty or fails to load. */
export function avatar(user, size = 'md') {
  if (!user.pictureUrl) return placeholderAvatar(user, size);
  const img = h('img', {class: `avatar avatar-${size}`, src: user.pictureUrl, alt: `Picture of ${user.displayName || user.uuid}`,
    loading: 'lazy', referrerpolicy: 'no-referrer'});
  img.addEventListener('error', () => img.replaceWith(placeholderAvatar(user, size)), {once: true});
  return img;
}

/* ---------- dialogs ---------- */
const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea:not([disabled]), summary, [tabindex]:not([tabindex="-1"])';

function focusables(root) {
  return [...root.querySelectorAll(FOCUSABLE)].filter((el) => !el.closest('[hidden]') && el.offsetParent !== null);
}

/**
 * A modal dialog built on <dialog>: aria-modal, labelled by its title, focus trapped inside,
 * Escape closes it (the top one only), focus returns to the opener on close.
 * Returns {dialog, body, footer, close, show}. Set keep=true to reuse it after closing.
 */
export function createDialog({title, className = '', keep = false, onClose, describedBy, returnFocus} = {}) {
  const titleId = uid('dlg-title');
  const body = h('div', {class: 'dialog-body'});
  const closeBtn = h('button', {type: 'button', class: 'btn-icon dialog-close', 'aria-label': 'Close'}, '×');
  const header = h('header', {class: 'dialog-header'}, h('h2', {id: titleId, class: 'dialog-title'}, title), closeBtn);
  const dialog = h('dialog', {class: `dialog ${className}`, 'aria-labelledby': titleId, 'aria-modal': 'true',
    'aria-describedby': describedBy}, header, body);
  let opener = null;

  let finished = true;
  // Cleanup runs synchronously on close (not on the queued `close` event), so a key pressed
  // right after Escape already sees the dialog gone and focus back on the page.
  const finish = () => {
    if (finished) return;
    finished = true;
    if (onClose) onClose(dialog.returnValue);
    let back = opener;
    opener = null;
    // Focus returns to the opener; when that was the page itself (a shortcut), to returnFocus().
    if (!back || back === document.body || !back.isConnected || back.closest('dialog:not([open])')) back = returnFocus ? returnFocus() : null;
    if (dialog.contains(document.activeElement)) document.activeElement.blur();
    if (!keep) dialog.remove();
    if (back && back.isConnected && typeof back.focus === 'function') back.focus();
  };
  const close = (reason) => {
    if (dialog.open) dialog.close(reason || '');
    finish();
  };
  dialog.addEventListener('close', finish);
  // Escape: the browser fires `cancel` on the top modal dialog only.
  dialog.addEventListener('cancel', (e) => {
    e.preventDefault();
    close('cancel');
  });
  closeBtn.addEventListener('click', () => close('cancel'));
  // Keep Tab inside the dialog.
  dialog.addEventListener('keydown', (e) => {
    if (e.key !== 'Tab') return;
    const items = focusables(dialog);
    if (!items.length) return;
    const first = items[0];
    const last = items[items.length - 1];
    if (e.shiftKey && document.activeElement === first) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault();
      first.focus();
    }
  });
  // Clicking the backdrop closes plain dialogs (not the slide-over's content).
  dialog.addEventListener('mousedown', (e) => {
    if (e.target === dialog && !className.includes('slideover')) close('cancel');
  });

  const show = (focusTarget) => {
    if (dialog.open) return;
    finished = false;
    opener = document.activeElement;
    if (!dialog.isConnected) document.body.append(dialog);
    if (!dialog.open) dialog.showModal();
    const target = focusTarget || dialog.querySelector('[autofocus]') || focusables(body)[0] || closeBtn;
    target.focus();
  };
  return {dialog, body, header, close, show, titleId};
}

/** Whether any modal dialog is open. */
export function topDialog() {
  const open = [...document.querySelectorAll('dialog[open]')];
  return open.length ? open[open.length - 1] : null;
}

/* ---------- sortable header ---------- */
/**
 * A <th> with a button toggling the sort, aria-sort on the header.
 * state: {sort, order}; onSort(key, order).
 */
export function sortableTh(label, key, state, onSort, {className = ''} = {}) {
  const active = state.sort === key;
  const ariaSort = active ? (state.order === 'desc' ? 'descending' : 'ascending') : 'none';
  const arrow = active ? (state.order === 'desc' ? '▼' : '▲') : '↕';
  const btn = h('button', {type: 'button', class: 'sort-btn', onclick: () => {
    const order = active && state.order === 'asc' ? 'desc' : (active ? 'asc' : 'asc');
    onSort(key, order);
  }}, label, h('span', {class: 'sort-arrow', 'aria-hidden': 'true'}, arrow));
  return h('th', {scope: 'col', 'aria-sort': ariaSort, class: className}, btn);
}

/* ---------- menus ---------- */
/** A button opening a small menu of items [{label, onSelect}]. Arrow keys move, Escape closes. */
export function menuButton(label, items, {buttonLabel} = {}) {
  const menuId = uid('menu');
  const btn = h('button', {type: 'button', class: 'btn-icon menu-btn', 'aria-haspopup': 'menu', 'aria-expanded': 'false',
    'aria-controls': menuId, 'aria-label': buttonLabel || label}, '⋯');
  const menu = h('div', {class: 'menu', role: 'menu', id: menuId, hidden: true});
  const wrap = h('div', {class: 'menu-wrap'}, btn, menu);
  const close = (focusBtn = false) => {
    menu.hidden = true;
    btn.setAttribute('aria-expanded', 'false');
    document.removeEventListener('mousedown', outside, true);
    if (focusBtn) btn.focus();
  };
  const outside = (e) => {
    if (!wrap.contains(e.target)) close();
  };
  items.forEach((item) => {
    menu.append(h('button', {type: 'button', role: 'menuitem', class: 'menu-item', tabindex: '-1', onclick: () => {
      close(true); // focus back on the menu button, so a dialog opened next returns focus there
      item.onSelect(btn);
    }}, item.label));
  });
  btn.addEventListener('click', () => {
    if (!menu.hidden) return close();
    menu.hidden = false;
    btn.setAttribute('aria-expanded', 'true');
    document.addEventListener('mousedown', outside, true);
    const first = menu.querySelector('[role=menuitem]');
    if (first) first.focus();
  });
  menu.addEventListener('keydown', (e) => {
    const entries = [...menu.querySelectorAll('[role=menuitem]')];
    const i = entries.indexOf(document.activeElement);
    if (e.key === 'ArrowDown') { e.preventDefault(); entries[(i + 1) % entries.length].focus(); }
    else if (e.key === 'ArrowUp') { e.preventDefault(); entries[(i - 1 + entries.length) % entries.length].focus(); }
    else if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); close(true); }
    else if (e.key === 'Tab') close();
  });
  return wrap;
}

/* ---------- confirmation ---------- */
/**
 * A dialog asking before an action that cannot be taken back (Block, Revoke, Delete): `text`,
 * Cancel and a danger button named `action`. `onConfirm()` may be async; while it runs the
 * button waits, an error it throws is shown in the dialog, and the dialog closes once it is done.
 * `onCancel()` runs when it closes any other way (Cancel, Escape, the close button);
 * `describeError(err)` may show a refusal its own way (null: the error box).
 */
export function confirmDialog({title, text, action, onConfirm, onCancel, describeError}) {
  let confirmed = false;
  const dlg = createDialog({title, className: 'confirm-dialog', onClose: () => { if (!confirmed && onCancel) onCancel(); }});
  const errorSlot = h('div', {class: 'status-slot'});
  const confirm = h('button', {type: 'button', class: 'btn btn-danger', onclick: async () => {
    confirm.disabled = true;
    replace(errorSlot);
    try {
      await onConfirm();
      confirmed = true;
      dlg.close();
    } catch (err) {
      replace(errorSlot, (describeError && describeError(err)) || errorBox(err));
      confirm.disabled = false;
    }
  }}, action);
  dlg.body.append(h('p', {}, text), errorSlot,
    h('div', {class: 'dialog-actions'}, h('button', {type: 'button', class: 'btn', onclick: () => dlg.close()}, 'Cancel'), confirm));
  dlg.show(confirm);
  return dlg;
}

/* ---------- page frame ---------- */
/**
 * The head every page shares: breadcrumbs (`crumbs`: [{label, href}], the last one current),
 * the h1 and a subtitle (both returned, for text that arrives later) and the page's actions.
 */
export function pageHead({crumbs, title, titleId, subtitle = '', actions = []}) {
  const subtitleEl = h('p', {class: 'page-subtitle'}, subtitle);
  const titleEl = h('h1', {id: titleId, class: 'page-title'}, title);
  const items = crumbs.map((c, i) => h('li', {}, i === crumbs.length - 1
    ? h('span', {'aria-current': 'page'}, c.label) : (c.href ? h('a', {href: c.href}, c.label) : h('span', {}, c.label))));
  const el = [
    h('nav', {class: 'breadcrumbs', 'aria-label': 'Breadcrumbs'}, h('ol', {}, items)),
    h('div', {class: 'page-header'},
      h('div', {class: 'page-heading'}, titleEl, subtitleEl),
      h('div', {class: 'page-actions'}, actions)),
  ];
  return {el, title: titleEl, subtitle: subtitleEl};
}

/* ---------- tables ---------- */
/**
 * The box a table scrolls sideways in on a narrow screen. It takes focus, so a keyboard can scroll
 * it too (axe: scrollable-region-focusable); it has no name of its own, since the table inside it
 * is named by its caption (a named region would shadow the names of the fields around it).
 */
export function tableScroller(...children) {
  return h('div', {class: 'table-wrap', tabindex: '0'}, ...children);
}

/**
 * A plain table: `columns` are [header, ...] entries, `cell(column, item)` gives a cell's content
 * (text or nodes), `caption` names the table for assistive technology.
 */
export function dataTable({caption, columns, items, cell, className = ''}) {
  return h('table', {class: `table ${className}`}, h('caption', {class: 'sr-only'}, caption),
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', {scope: 'col'}, c[0])))),
    h('tbody', {}, items.map((item) => h('tr', {}, columns.map((c) => h('td', {}, cell(c, item)))))));
}
