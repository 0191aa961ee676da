// Boot, hash router, top bar (site switcher, sign out) and keyboard shortcuts.
import {h, replace, isTypingTarget} from './dom.js';
import {api, itemsOf, onUnauthorized, ApiError} from './api.js';
import {can, session, signOut} from './state.js';
import {announce, confirmDialog, createDialog, topDialog, errorBox} from './ui.js';
import {renderSignIn} from './signin.js';
import {UsersView} from './users.js';
import {UserPage} from './user/page.js';
import {MechanicsView} from './mechanics.js';
import {MechanicView} from './mechanic.js';
import {StandingsView} from './standings.js';
import {ApiKeysView} from './apikeys.js';
import {SiteSettingsView, openCreateSite} from './sitesettings.js';
import {SECTIONS, parseHash, routeHash, sectionHash, usersHash} from './routes.js';

const main = document.getElementById('main');
const topbar = document.getElementById('topbar');
let current = null; // {key, view}

/* ---------- routing ---------- */
const VIEWS = {users: UsersView, user: UserPage, mechanics: MechanicsView, mechanic: MechanicView, standings: StandingsView,
  'api-keys': ApiKeysView, settings: SiteSettingsView};

/** Routes with the same key are one view, updated in place (a tab switch, a table's sort). */
function routeKey(r) {
  return [r.name, r.site, r.kind || '', r.uuid || r.id || ''].join('|');
}

async function route() {
  if (!session.token) {
    unmount();
    renderTopbar(null);
    replace(main, renderSignIn({onSignedIn: afterSignIn, loadIdentity}));
    return;
  }
  const r = parseHash();
  if (current && routeKey(r) !== current.key && current.view.unsaved && current.view.unsaved()) {
    // Leaving a page with unsaved edits asks first; staying puts its address back.
    const left = current;
    if (!(await askToDiscard())) {
      if (current === left) history.replaceState(null, '', left.hash);
      return;
    }
    if (current !== left) return; // another navigation went ahead meanwhile
  }
  if (r.canonical) history.replaceState(null, '', routeHash(r));
  if (r.name === 'home') {
    const site = defaultSite();
    if (site) {
      location.replace(usersHash(site));
      return;
    }
    unmount();
    renderTopbar(null);
    replace(main, h('section', {class: 'page narrow'}, h('h1', {class: 'page-title'}, 'Choose a site'),
      h('p', {class: 'muted'}, session.role === 'operator' ? 'Type a site id in the Site field above, or create a site.'
        : 'Type a site id in the Site field above to open its users.')));
    focusHeading();
    return;
  }
  renderTopbar(r.site, r.section);
  const key = routeKey(r);
  if (current && current.key === key && current.view.update) {
    current.hash = location.hash;
    current.view.update(r);
    focusHeading(); // only when what had focus went with the old top bar
    return;
  }
  unmount();
  const view = new VIEWS[r.name](r);
  current = {key, view, hash: location.hash};
  replace(main, view.el);
  view.mount();
  focusHeading();
}

function askToDiscard() {
  return new Promise((resolve) => {
    confirmDialog({title: 'Discard unsaved changes?', action: 'Discard',
      text: 'This page has changes that are not saved. Leave it and lose them?',
      onConfirm: () => resolve(true), onCancel: () => resolve(false)});
  });
}

// A reload or a closed tab with unsaved edits gets the browser's own question.
window.addEventListener('beforeunload', (e) => {
  if (current && current.view.unsaved && current.view.unsaved()) e.preventDefault();
});

/** After navigation, focus goes to the new page's heading (console.md), unless something on
 *  the page still holds it: what had it (the View link, the sign-in field) is gone. */
function focusHeading() {
  const active = document.activeElement;
  if (active && active !== document.body && active.isConnected) return;
  const heading = main.querySelector('h1');
  if (!heading) return;
  heading.tabIndex = -1;
  heading.focus({preventScroll: true});
}

function unmount() {
  if (current && current.view.unmount) current.view.unmount();
  current = null;
  // A dialog belongs to the page that opened it (a link inside one may have navigated away).
  document.querySelectorAll('dialog[open]').forEach((d) => d.close('navigated'));
}

function defaultSite() {
  if (session.keySite) return session.keySite;
  if (session.sites && session.sites.length) return session.sites[0].id;
  return sessionStorage.getItem('gami.lastSite') || '';
}

/* ---------- session ---------- */
/** Learn the token's role and sites. Throws ApiError on 401. */
export async function loadIdentity(token) {
  // Both at once: the role (GET /whoami) and the sites the key may list.
  const [who, sites] = await Promise.allSettled([api.get('/whoami', {token}), api.get('/sites', {token, query: {limit: 100}})]);
  for (const r of [who, sites]) if (r.status === 'rejected' && r.reason && r.reason.status === 401) throw r.reason;
  if (who.status === 'fulfilled' && who.value) {
    session.role = who.value.role || null;
    session.keySite = who.value.site || null;
  } else {
    // An API without /whoami: the role stays unknown and every action is offered; the API decides.
    session.role = null;
    session.keySite = null;
  }
  // A site-scoped key may not list sites (403): the user types the site id instead.
  session.sites = sites.status === 'fulfilled' ? itemsOf(sites.value) : null;
}

async function afterSignIn() {
  await route();
}

onUnauthorized((error) => {
  signOut();
  route().then(() => {
    const slot = document.getElementById('signin-error');
    if (slot) replace(slot, errorBox(error));
  });
});

/* ---------- top bar ---------- */
function renderTopbar(site, section) {
  if (!session.token) {
    replace(topbar, h('div', {class: 'topbar-inner'}, brand()));
    return;
  }
  if (site) sessionStorage.setItem('gami.lastSite', site);
  let switcher;
  if (session.sites && session.sites.length) {
    const select = h('select', {id: 'site-switcher', class: 'input input-compact', onchange: () => {
      location.hash = usersHash(select.value);
    }});
    const ids = session.sites.map((s) => s.id);
    if (site && !ids.includes(site)) select.append(h('option', {value: site}, site));
    session.sites.forEach((s) => select.append(h('option', {value: s.id}, s.name && s.name !== s.id ? `${s.name} (${s.id})` : s.id)));
    select.value = site || '';
    switcher = h('div', {class: 'site-switcher'}, h('label', {for: 'site-switcher'}, 'Site'), select);
  } else {
    const input = h('input', {id: 'site-switcher', class: 'input input-compact', type: 'text', value: site || session.keySite || '',
      placeholder: 'site id', autocomplete: 'off', spellcheck: 'false'});
    const form = h('form', {class: 'site-switcher', onsubmit: (e) => {
      e.preventDefault();
      const v = input.value.trim();
      if (v) location.hash = usersHash(v);
    }}, h('label', {for: 'site-switcher'}, 'Site'), input, h('button', {type: 'submit', class: 'btn btn-small'}, 'Open'));
    switcher = form;
  }
  // Only the operator may create sites (api.md); the new site opens at once.
  const createSite = session.role === 'operator' ? h('button', {type: 'button', class: 'btn btn-ghost btn-small', onclick: () => {
    openCreateSite((created) => {
      if (session.sites) session.sites.push(created);
      location.hash = usersHash(created.id);
    });
  }}, 'Create site') : null;
  const roleLabel = session.role ? session.role : 'role unknown';
  replace(topbar, h('div', {class: 'topbar-inner'},
    brand(),
    switcher,
    createSite,
    h('div', {class: 'topbar-right'},
      h('span', {class: 'role-pill', title: 'Your key\u2019s role'}, roleLabel),
      h('button', {type: 'button', class: 'btn btn-ghost btn-small', 'aria-keyshortcuts': 'Shift+?', onclick: openShortcuts},
        h('span', {'aria-hidden': 'true'}, '?'), h('span', {class: 'sr-only'}, 'Show keyboard shortcuts')),
      h('button', {type: 'button', class: 'btn btn-ghost btn-small', onclick: () => {
        signOut();
        sessionStorage.removeItem('gami.lastSite');
        location.hash = '#/';
        route();
        announce('Signed out');
      }}, 'Sign out'))),
  site ? mainNav(site, section) : null);
}

/** The `Main` navigation (console.md): a section the role may not use is not offered. */
function mainNav(site, section) {
  return h('nav', {class: 'mainnav', 'aria-label': 'Main'}, h('ul', {class: 'mainnav-inner'},
    SECTIONS.filter((s) => !s.role || can(s.role)).map((s) => h('li', {},
      h('a', {href: sectionHash(site, s.id), 'aria-current': s.id === section ? 'page' : null}, s.label)))));
}

function brand() {
  return h('a', {class: 'brand', href: '#/'}, h('span', {class: 'brand-mark', 'aria-hidden': 'true'}), 'Gamification console');
}

/* ---------- shortcuts ---------- */
export const SHORTCUTS = [
  ['E', 'Edit the user'],
  ['L', 'Log activity'],
  ['B', 'Block the user'],
  ['U', 'Unblock the user'],
  ['1–8', 'Open tab: Overview, Activity, Points, Rewards, KPIs, Coupons, Leaderboards, Settings'],
  ['← → Home End', 'Move between tabs when a tab has focus'],
  ['?', 'Show keyboard shortcuts'],
  ['Esc', 'Close the top dialog'],
];

function openShortcuts() {
  if (document.querySelector('dialog.shortcuts-dialog[open]')) return;
  const dlg = createDialog({title: 'Keyboard shortcuts', className: 'shortcuts-dialog'});
  dlg.body.append(
    h('p', {class: 'muted'}, 'Shortcuts work on the user details page when focus is not in a field or another dialog.'),
    h('dl', {class: 'shortcut-list'}, SHORTCUTS.map(([k, d]) => [h('dt', {}, h('kbd', {}, k)), h('dd', {}, d)])));
  dlg.show();
}

document.addEventListener('keydown', (e) => {
  if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
  if (isTypingTarget(e.target)) return;
  // A shortcut never fires from inside a dialog it does not belong to (none belong to dialogs).
  if (topDialog() || (e.target instanceof Element && e.target.closest('dialog[open], [role=menu]'))) return;
  if (e.key === '?') {
    e.preventDefault();
    openShortcuts();
    return;
  }
  if (!session.token || !current || !current.view.shortcut) return;
  if (current.view.shortcut(e.key)) e.preventDefault();
});

/* ---------- boot ---------- */
async function boot() {
  if (session.token) {
    replace(main, h('div', {class: 'page'}, h('p', {class: 'muted'}, 'Signing in…')));
    try {
      await loadIdentity(session.token);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) signOut();
    }
  }
  window.addEventListener('hashchange', route);
  await route();
}

boot();

