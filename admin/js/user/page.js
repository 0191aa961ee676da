// The user details page: header with actions, hero, stats bar and the eight tabs.
import {h, replace} from '../dom.js';
import {api, path} from '../api.js';
import {can} from '../state.js';
import {getSite} from '../site.js';
import {displayNameOf, fullName, num} from '../format.js';
import {avatar, errorBox, announce, pill, confirmDialog} from '../ui.js';
import {TABS, usersHash, userHash} from '../routes.js';
import {createTab} from './tabs.js';
import {openEditDialog} from './edit.js';
import {LogPanel} from '../logpanel.js';

export {TABS};

const STATS = [
  ['activities', 'Activities', 'activity'],
  ['rewards', 'Rewards', 'rewards'],
  ['achievements', 'Achievements', 'rewards'],
  ['levels', 'Levels', 'rewards'],
  ['gifts', 'Gifts', 'activity'],
  ['missions', 'Missions', 'rewards'],
  ['kpis', 'KPIs', 'kpis'],
  ['coupons', 'Coupons', 'coupons'],
];

export class UserPage {
  constructor(route) {
    this.site = route.site;
    this.uuid = route.uuid;
    this.tab = route.tab;
    this.openedWith = {tab: route.tab, query: route.query || {}};  // the deep link's tab state
    this.user = null;
    this.missing = false;  // the summary answered UserNotFound
    this.timeZone = 'UTC';
    this.tabs = new Map();
    this.alive = true;
    this.build();
  }

  /* ---------- layout ---------- */
  build() {
    this.title = h('h1', {class: 'page-title', id: 'user-title'}, this.uuid);
    this.crumbName = h('span', {'aria-current': 'page'}, this.uuid);
    this.tzNote = h('p', {class: 'page-subtitle'}, '\u00a0');
    this.actions = h('div', {class: 'page-actions', role: 'group', 'aria-label': 'User actions'});
    this.actionError = h('div', {class: 'status-slot'});
    this.hero = h('section', {class: 'hero card', 'aria-label': 'Profile'});
    this.stats = h('section', {class: 'stats', 'aria-label': 'Stats'});
    this.tablist = h('div', {class: 'tabs', role: 'tablist', 'aria-label': 'User details'});
    this.panels = h('div', {class: 'tab-panels'});
    this.tabButtons = TABS.map((t, i) => {
      const btn = h('button', {type: 'button', role: 'tab', id: `tab-${t.id}`, class: 'tab', 'aria-controls': `panel-${t.id}`,
        'aria-selected': 'false', tabindex: '-1', 'aria-keyshortcuts': String(i + 1), dataset: {tab: t.id},
        onclick: () => this.go(t.id)}, t.label);
      btn.addEventListener('keydown', (e) => this.tabKey(e, i));
      this.tablist.append(btn);
      return btn;
    });
    this.el = h('div', {class: 'page user-page'},
      h('nav', {class: 'breadcrumbs', 'aria-label': 'Breadcrumbs'}, h('ol', {},
        h('li', {}, h('a', {href: sessionStorage.getItem(`gami.usersHash.${this.site}`) || usersHash(this.site)}, 'Users')),
        h('li', {}, this.crumbName))),
      h('header', {class: 'page-header'},
        h('div', {class: 'page-heading'}, this.title, this.tzNote),
        this.actions),
      this.actionError,
      this.hero,
      this.stats,
      h('div', {class: 'tabs-wrap'}, this.tablist),
      this.panels);
    this.renderHero();
    this.renderStats(null);
    this.renderActions();
  }

  mount() {
    // The site (its time zone) and the first tab load in parallel; tabs wait for both before rendering.
    this.siteReady = getSite(this.site).then((info) => {
      this.timeZone = (info && info.timezone) || 'UTC';
      this.tzNote.textContent = `Site ${(info && info.name) || this.site} · times in ${this.timeZone}`;
      for (const tab of this.tabs.values()) tab.setTimeZone?.(this.timeZone);
    }).catch((e) => {
      this.tzNote.textContent = `Site ${this.site}`;
      replace(this.actionError, errorBox(e));
    });
    this.showTab(this.tab, {focus: false});
    this.loadSummary();
  }

  update(route) {
    if (route.tab !== this.tab) this.showTab(route.tab, {focus: false});
  }

  unmount() {
    this.alive = false;
    if (this.panel) this.panel.destroy();
  }

  /* ---------- data ---------- */
  async loadSummary() {
    try {
      const data = await api.get(path('sites', this.site, 'users', this.uuid, 'summary'));
      if (!this.alive) return;
      this.user = data.user || {uuid: this.uuid};
      this.renderHero();
      this.renderStats(data.stats || {});
      this.renderActions();
      performance.mark('gami:summary');
    } catch (e) {
      if (!this.alive) return;
      replace(this.actionError, errorBox(e, {retry: () => {
        replace(this.actionError);
        this.loadSummary();
      }}));
      if (e.type === 'UserNotFound') {
        this.missing = true;  // nothing to act on: no Edit, Log activity or Block (issue 18, defect 9)
        this.renderActions();
        this.title.textContent = 'User not found';
        replace(this.hero, h('p', {class: 'empty'}, `There is no user “${this.uuid}” on site ${this.site}.`));
        replace(this.stats);
      }
    }
  }

  /** Whether a tab holds edits not saved yet (the router asks before they are dropped). */
  unsaved() {
    return [...this.tabs.values()].some((t) => t.unsaved && t.unsaved());
  }

  /** Refresh the summary and the current tab (after an activity, a block, a reject...). */
  refresh() {
    if (!this.alive) return;
    this.loadSummary();
    const tab = this.tabs.get(this.tab);
    if (tab) tab.load({keepPage: true});
    // The other tabs reload when next shown.
    for (const [id, t] of this.tabs) if (id !== this.tab) t.stale = true;
  }

  /* ---------- rendering ---------- */
  renderHero() {
    const u = this.user;
    if (!u) {
      replace(this.hero, h('div', {class: 'hero-avatar'}, h('span', {class: 'avatar avatar-lg skeleton-box'})),
        h('div', {class: 'hero-body'}, h('div', {class: 'skeleton'}, h('div', {class: 'skeleton-line'}), h('div', {class: 'skeleton-line'}), h('div', {class: 'skeleton-line short'}))));
      return;
    }
    const name = displayNameOf(u);
    this.title.textContent = name;
    this.crumbName.textContent = name;
    document.title = `${name} · Users · ${this.site}`;
    const tags = Array.isArray(u.tags) && u.tags.length
      ? h('ul', {class: 'tags', 'aria-label': 'Tags'}, u.tags.map((t) => h('li', {class: 'tag'}, t)))
      : h('span', {class: 'muted'}, 'No tags');
    replace(this.hero,
      h('div', {class: 'hero-avatar'}, avatar(u, 'lg')),
      h('dl', {class: 'hero-body'},
        h('div', {class: 'hero-item'}, h('dt', {}, 'UUID'), h('dd', {class: 'mono'}, u.uuid)),
        h('div', {class: 'hero-item'}, h('dt', {}, 'Full name'), h('dd', {}, fullName(u) || h('span', {class: 'muted'}, '—'))),
        h('div', {class: 'hero-item'}, h('dt', {}, 'Email'), h('dd', {}, u.email ? h('a', {href: `mailto:${u.email}`}, u.email) : h('span', {class: 'muted'}, '—'))),
        h('div', {class: 'hero-item'}, h('dt', {}, 'Status'), h('dd', {class: 'hero-status'},
          u.blocked ? pill('Blocked', 'bad') : pill('Active', 'ok'),
          u.member === false ? pill('Not a member', 'muted') : null)),
        h('div', {class: 'hero-item span-all'}, h('dt', {}, 'Tags'), h('dd', {}, tags))));
  }

  renderStats(stats) {
    replace(this.stats, h('ul', {class: 'stats-list'}, STATS.map(([key, label, tab]) => {
      const s = stats ? stats[key] || {count: 0, recent: false} : null;
      const count = s ? num(s.count) : '—';
      return h('li', {class: 'stat', dataset: {stat: key}},
        h('a', {class: 'stat-link', href: userHash(this.site, this.uuid, tab)},
          h('span', {class: 'stat-count'}, count,
            s && s.recent ? h('span', {class: 'recent-badge', title: 'Gained in the last 30 days'},
              h('span', {class: 'sr-only'}, ' (recent: gained in the last 30 days)')) : null),
          h('span', {class: 'stat-label'}, label)));
    })));
  }

  renderActions() {
    const btns = [];
    if (this.missing) {
      replace(this.actions);
      return;
    }
    if (can('write')) {
      btns.push(h('button', {type: 'button', class: 'btn', 'aria-keyshortcuts': 'E', disabled: !this.user,
        onclick: () => this.edit()}, 'Edit', h('kbd', {class: 'kbd-hint', 'aria-hidden': 'true'}, 'E')));
      btns.push(h('button', {type: 'button', class: 'btn', 'aria-keyshortcuts': 'L', onclick: () => this.openLog()},
        'Log activity', h('kbd', {class: 'kbd-hint', 'aria-hidden': 'true'}, 'L')));
    }
    if (can('admin')) {
      const blocked = Boolean(this.user && this.user.blocked);
      btns.push(h('button', {type: 'button', class: blocked ? 'btn btn-primary' : 'btn btn-danger', disabled: !this.user,
        'aria-keyshortcuts': blocked ? 'U' : 'B', onclick: () => (blocked ? this.setBlocked(false) : this.confirmBlock())},
      blocked ? 'Unblock' : 'Block', h('kbd', {class: 'kbd-hint', 'aria-hidden': 'true'}, blocked ? 'U' : 'B')));
    }
    const focused = this.actions.contains(document.activeElement) ? document.activeElement.textContent : null;
    replace(this.actions, btns);
    if (focused) {
      // Keep focus on the toggled button (its label changed).
      const again = btns.find((b) => b.textContent === focused) || btns.find((b) => /Block|Unblock/.test(b.textContent));
      if (again) again.focus();
    }
  }

  /* ---------- tabs ---------- */
  go(tabId) {
    if (tabId === this.tab) {
      this.showTab(tabId, {focus: true});
      return;
    }
    location.hash = userHash(this.site, this.uuid, tabId);
  }

  /** The list state (filters, sort, period) the page's address gave this tab, if it opened on it. */
  initialQuery(tabId) {
    return this.openedWith.tab === tabId ? this.openedWith.query : {};
  }

  showTab(tabId, {focus = false} = {}) {
    this.tab = tabId;
    this.tabButtons.forEach((btn) => {
      const on = btn.dataset.tab === tabId;
      btn.setAttribute('aria-selected', String(on));
      btn.tabIndex = on ? 0 : -1;
      btn.classList.toggle('is-active', on);
      if (on && focus) btn.focus();
    });
    let tab = this.tabs.get(tabId);
    if (!tab) {
      tab = createTab(tabId, this);
      this.tabs.set(tabId, tab);
      this.panels.append(h('div', {role: 'tabpanel', id: `panel-${tabId}`, 'aria-labelledby': `tab-${tabId}`, class: 'tab-panel',
        tabindex: '0', hidden: true}, tab.el));
      tab.load();
    } else {
      tab.load({keepPage: !tab.stale});
      tab.stale = false;
    }
    for (const panel of this.panels.children) panel.hidden = panel.id !== `panel-${tabId}`;
  }

  tabKey(e, i) {
    let next = null;
    if (e.key === 'ArrowRight') next = (i + 1) % TABS.length;
    else if (e.key === 'ArrowLeft') next = (i - 1 + TABS.length) % TABS.length;
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = TABS.length - 1;
    if (next === null) return;
    e.preventDefault();
    this.tabButtons[next].focus();
    this.go(TABS[next].id);
  }

  /* ---------- actions ---------- */
  shortcut(key) {
    const k = key.toLowerCase();
    if (/^[1-8]$/.test(k)) {
      this.go(TABS[Number(k) - 1].id);
      const btn = this.tabButtons[Number(k) - 1];
      btn.focus();
      return true;
    }
    if (k === 'e' && can('write') && this.user) { this.edit(); return true; }
    if (k === 'l' && can('write') && !this.missing) { this.openLog(); return true; }
    if (k === 'b' && can('admin') && this.user && !this.user.blocked) { this.confirmBlock(); return true; }
    if (k === 'u' && can('admin') && this.user && this.user.blocked) { this.setBlocked(false); return true; }
    return false;
  }

  /** The header action button with this label (where focus returns after its dialog). */
  actionButton(label) {
    return [...this.actions.querySelectorAll('button')].find((b) => b.firstChild && b.firstChild.textContent === label) || null;
  }

  edit() {
    openEditDialog(this, (user) => {
      this.user = {...this.user, ...user};
      this.renderHero();
      announce('User saved');
    });
  }

  openLog() {
    if (!this.panel) this.panel = new LogPanel(this);
    this.panel.open();
  }

  /** Block asks first (console.md): the user stops earning at once, until unblocked. */
  confirmBlock() {
    if (this.busy || !this.user || this.user.blocked) return;
    const name = displayNameOf(this.user);
    confirmDialog({title: `Block ${name}?`, action: 'Block', onConfirm: () => { this.setBlocked(true); },
      text: `${name} keeps everything earned so far, but earns nothing and leaves the leaderboards until unblocked.`});
  }

  async setBlocked(blocked) {
    if (this.busy) return;
    this.busy = true;
    replace(this.actionError);
    try {
      const user = await api.post(path('sites', this.site, 'users', this.uuid, blocked ? 'block' : 'unblock'));
      this.user = {...this.user, ...(user || {}), blocked: user && 'blocked' in user ? user.blocked : blocked};
      this.renderHero();
      this.renderActions();
      announce(blocked ? `${displayNameOf(this.user)} is blocked` : `${displayNameOf(this.user)} is unblocked`);
    } catch (e) {
      replace(this.actionError, errorBox(e));
    } finally {
      this.busy = false;
    }
  }
}
