// The eight tabs of the user details page; each fetches GET .../users/{uuid}/tabs/{tab}.
import {h, replace, uid, field} from '../dom.js';
import {api, path, itemsOf, fillPage} from '../api.js';
import {can} from '../state.js';
import {getMechanics, mechanicNames} from '../site.js';
import {timeEl, formatDate, ledgerKindText, num, periodText, pointsList, scoreText} from '../format.js';
import {loading, empty, errorBox, statusBadge, pill, sortableTh, menuButton, announce, tableScroller} from '../ui.js';
import {userHash} from '../routes.js';
import {openRejectDialog, activitySummary, activityResult} from './activity-bits.js';

/** Base: header with title/controls/refresh state, a body that keeps its size while reloading. */
class Tab {
  constructor(page, id, title) {
    this.page = page;
    this.id = id;
    this.seq = 0;
    this.loaded = false;
    this.busy = h('span', {class: 'tab-busy', 'aria-hidden': 'true'});
    this.controls = h('div', {class: 'tab-controls'});
    this.body = h('div', {class: 'tab-body'}, loading(`Loading ${title.toLowerCase()}…`));
    this.error = h('div', {class: 'status-slot'});
    this.el = h('div', {class: `tab-content tab-${id}`},
      h('div', {class: 'tab-head'}, h('h2', {class: 'section-title'}, title), this.busy, this.controls),
      this.error, this.body);
    // Mechanics by name (site.js, cached per session): until they arrive ids stand in, then the
    // tab renders again with names.
    this.names = undefined;
    mechanicNames(this.site).then((names) => {
      this.names = names;
      if (this.data) this.render(this.data);
    });
  }

  get site() { return this.page.site; }
  get uuid() { return this.page.uuid; }
  get tz() { return this.page.timeZone; }
  setTimeZone() { if (this.data) this.render(this.data); }

  query() { return {}; }

  /** The tab's list state for its address (console.md: part of the deep link, kept on reload);
   *  null: nothing to keep. Defaults are left out. */
  urlState() { return null; }

  /** Put the list state in the address, without a history entry, while this tab is shown. */
  keepInUrl() {
    const state = this.urlState();
    if (state === null || this.page.tab !== this.id || !this.page.alive) return;
    const hash = userHash(this.site, this.uuid, this.id, state);
    if (hash !== location.hash) history.replaceState(null, '', hash);
  }

  fetch(query) {
    return api.get(path('sites', this.site, 'users', this.uuid, 'tabs', this.id), {query});
  }

  async load() {
    const seq = ++this.seq;
    this.keepInUrl();
    this.busy.textContent = this.loaded ? 'Refreshing…' : '';
    this.body.setAttribute('aria-busy', 'true');
    this.el.classList.toggle('is-refreshing', this.loaded);
    try {
      const [data] = await Promise.all([this.fetch(this.query()), this.page.siteReady]);
      if (seq !== this.seq) return;
      this.data = data;
      replace(this.error);
      this.render(data);
      this.loaded = true;
      // For bench/console.py: when each tab's content is on screen.
      performance.mark(`gami:tab:${this.id}`);
    } catch (e) {
      if (seq !== this.seq) return;
      replace(this.error, errorBox(e, {retry: () => this.load()}));
      if (!this.loaded) replace(this.body);
    } finally {
      if (seq === this.seq) {
        this.busy.textContent = '';
        this.body.removeAttribute('aria-busy');
        this.el.classList.remove('is-refreshing');
      }
    }
  }

  viewAll(tab) {
    return h('a', {class: 'view-all', href: userHash(this.site, this.uuid, tab)}, 'View all');
  }
}

function table(caption, headers, rows, {className = ''} = {}) {
  return tableScroller(h('table', {class: `table ${className}`},
    h('caption', {class: 'sr-only'}, caption),
    h('thead', {}, h('tr', {}, headers.map((x) => (x instanceof Node ? x : h('th', {scope: 'col'}, x))))),
    h('tbody', {}, rows)));
}

/** Cursor pager state: a stack of cursors (the current page is the last). */
class Pager {
  constructor(onChange, label = 'Pages') {
    this.cursors = [null];
    this.next = null;
    this.prevBtn = h('button', {type: 'button', class: 'btn btn-small', disabled: true, onclick: () => {
      this.cursors.pop();
      onChange();
    }}, '← Previous');
    this.nextBtn = h('button', {type: 'button', class: 'btn btn-small', disabled: true, onclick: () => {
      this.cursors.push(this.next);
      onChange();
    }}, 'Next →');
    this.label = h('span', {class: 'muted pager-label'});
    this.el = h('nav', {class: 'pager', 'aria-label': label}, this.prevBtn, this.label, this.nextBtn);
  }
  get cursor() { return this.cursors[this.cursors.length - 1]; }
  reset() { this.cursors = [null]; }
  update(nextCursor) {
    this.next = nextCursor || null;
    this.prevBtn.disabled = this.cursors.length <= 1;
    this.nextBtn.disabled = !this.next;
    this.label.textContent = `Page ${this.cursors.length}`;
  }
}

/* ---------------- 1. Overview ---------------- */
class OverviewTab extends Tab {
  constructor(page) { super(page, 'overview', 'Overview'); }

  card(title, tab, content) {
    const id = uid('card');
    return h('section', {class: 'card ov-card', 'aria-labelledby': id, dataset: {card: tab}},
      h('header', {class: 'card-head'}, h('h3', {id, class: 'card-title'}, title), this.viewAll(tab)),
      h('div', {class: 'card-body'}, content));
  }

  render(d) {
    const acts = d.recentActivities || [];
    const balances = d.balances || [];
    const coupons = d.coupons || [];
    const rewards = d.rewards || [];
    const boards = d.leaderboards || [];
    replace(this.body, h('div', {class: 'overview-grid'},
      this.card('Recent activity', 'activity', acts.length ? h('ul', {class: 'plain-list'}, acts.slice(0, 5).map((a) => h('li', {class: 'list-row'},
        h('div', {class: 'list-main'}, h('span', {class: 'strong'}, activitySummary(a, this.uuid, this.names)), h('span', {class: 'muted small'}, timeEl(a.createdAt, this.tz))),
        statusBadge(a.status)))) : empty('No activity yet.')),
      this.card('Point balances', 'points', balances.length ? h('ul', {class: 'plain-list'}, balances.map((b) => h('li', {class: 'list-row'},
        h('span', {}, b.name || b.pointId), h('span', {class: 'strong num'}, num(b.balance))))) : empty('No points yet.')),
      this.card('Coupons', 'coupons', coupons.length ? h('ul', {class: 'plain-list'}, coupons.slice(0, 5).map((c) => h('li', {class: 'list-row'},
        h('div', {class: 'list-main'}, h('span', {class: 'strong'}, c.name || c.couponId), h('span', {class: 'muted small mono'}, c.code || '')),
        couponStatus(c.status)))) : empty('No coupons held.')),
      this.card('Rewards', 'rewards', rewards.length ? h('ul', {class: 'plain-list'}, rewards.slice(0, 5).map((r) => h('li', {class: 'list-row'},
        h('div', {class: 'list-main'}, h('span', {class: 'strong'}, r.name || r.rewardId), h('span', {class: 'muted small'}, r.completedAt ? timeEl(r.completedAt, this.tz) : '')),
        pill(r.kind || 'reward', 'info')))) : empty('No rewards yet.')),
      this.card('Leaderboards', 'leaderboards', boards.length ? h('ul', {class: 'plain-list'}, boards.map((b) => h('li', {class: 'list-row'},
        h('div', {class: 'list-main'}, h('span', {class: 'strong'}, b.name || b.leaderboardId), h('span', {class: 'muted small'}, periodText(b.period))),
        h('span', {class: 'num'}, b.rank ? `#${b.rank}` : 'Not ranked', h('span', {class: 'muted small'},
          ` · ${scoreText(b.score, this.names && this.names.boards.get(b.leaderboardId), this.names)}`))))) : empty('Not on any leaderboard.'))));
  }
}

function couponStatus(status) {
  const tone = {available: 'ok', redeemed: 'info', expired: 'muted', refunded: 'warn'}[status] || 'muted';
  return pill(status || '—', tone);
}

/* ---------------- 2. Activity ---------------- */
const TYPES = ['behaviour', 'point', 'coupon', 'gift', 'bounty'];
const STATUSES = ['QUEUED', 'PROCESSING', 'SUCCEEDED', 'FAILED', 'REJECTED'];

class ActivityTab extends Tab {
  constructor(page) {
    super(page, 'activity', 'Activity');
    const start = page.initialQuery('activity');
    const list = (v) => String(v || '').split(',').filter(Boolean);
    this.sort = {sort: ['createdAt', 'type', 'status'].includes(start.sort) ? start.sort : 'createdAt',
      order: start.order === 'asc' ? 'asc' : 'desc'};
    this.filters = {type: list(start.type).filter((t) => TYPES.includes(t)),
      status: list(start.status).filter((s) => STATUSES.includes(s)), verb: list(start.verb),
      from: start.from || '', to: start.to || ''};
    this.pager = new Pager(() => this.load({keepPage: true}), 'Activity pages');
    this.expanded = new Set();
    this.buildFilters();
  }

  checkGroup(legend, name, values, {lower = true} = {}) {
    return h('fieldset', {class: 'filter-group', dataset: {filter: name}}, h('legend', {}, legend),
      h('div', {class: 'chips'}, values.map((v) => h('label', {class: 'chip'},
        h('input', {type: 'checkbox', name, value: v, checked: this.filters[name].includes(v), onchange: () => this.applyFilters()}),
        h('span', {}, lower ? v.toLowerCase() : v)))));
  }

  buildFilters() {
    this.verbGroup = h('div', {class: 'filter-slot'}, this.checkGroup('Verb', 'verb', []));
    this.fromInput = h('input', {type: 'date', class: 'input', name: 'from', value: this.filters.from, onchange: () => this.applyFilters()});
    this.toInput = h('input', {type: 'date', class: 'input', name: 'to', value: this.filters.to, onchange: () => this.applyFilters()});
    this.filterForm = h('form', {class: 'filters', 'aria-label': 'Activity filters', onsubmit: (e) => e.preventDefault()},
      this.checkGroup('Type', 'type', TYPES),
      this.checkGroup('Status', 'status', STATUSES),
      this.verbGroup,
      h('div', {class: 'filter-dates'},
        field(`From (${this.tz})`, this.fromInput).wrap,
        field('To', this.toInput).wrap,
        h('button', {type: 'button', class: 'btn btn-small btn-ghost', onclick: () => {
          this.filterForm.reset();
          this.applyFilters();
        }}, 'Clear filters')));
    this.fromLabel = this.fromInput.previousSibling;
    this.el.insertBefore(h('details', {class: 'filters-disclosure', open: true},
      h('summary', {}, 'Filters'), this.filterForm), this.error);
    getMechanics(this.site, 'behaviours').then((behaviours) => {
      const verbs = [...new Set(behaviours.map((b) => b.verb).filter(Boolean))].sort();
      replace(this.verbGroup, verbs.length ? this.checkGroup('Verb', 'verb', verbs, {lower: false}) : null);
    }).catch(() => replace(this.verbGroup));
  }

  setTimeZone() {
    if (this.fromLabel) this.fromLabel.textContent = `From (${this.tz})`;
    super.setTimeZone();
  }

  applyFilters() {
    const checked = (name) => [...this.filterForm.querySelectorAll(`input[name=${name}]:checked`)].map((i) => i.value);
    this.filters = {
      type: checked('type'),
      status: checked('status'),
      verb: checked('verb'),
      from: this.fromInput.value,
      to: this.toInput.value,
    };
    this.pager.reset();
    this.load({keepPage: true});
  }

  query() {
    return {...this.filters, sort: this.sort.sort, order: this.sort.order};
  }

  urlState() {
    const f = this.filters;
    return {type: f.type.join(','), status: f.status.join(','), verb: f.verb.join(','), from: f.from, to: f.to,
      sort: this.sort.sort === 'createdAt' ? '' : this.sort.sort, order: this.sort.order === 'desc' ? '' : this.sort.order};
  }

  fetch(query) {
    return fillPage((limit, cursor) => super.fetch({...query, limit, cursor}), 25, this.pager.cursor);
  }

  load(opts = {}) {
    if (!opts.keepPage) this.pager.reset();
    return super.load();
  }

  render(d) {
    const items = itemsOf(d);
    this.pager.update(d && d.nextCursor);
    const onSort = (key, order) => {
      this.sort = {sort: key, order};
      this.pager.reset();
      this.load({keepPage: true});
    };
    const headers = [
      sortableTh(`Created (${this.tz})`, 'createdAt', this.sort, onSort),
      sortableTh('Type', 'type', this.sort, onSort),
      h('th', {scope: 'col'}, 'Details'),
      sortableTh('Status', 'status', this.sort, onSort),
      h('th', {scope: 'col'}, 'Result'),
      h('th', {scope: 'col', class: 'col-actions'}, h('span', {class: 'sr-only'}, 'Row actions')),
    ];
    const filtered = Object.values(this.filters).some((v) => (Array.isArray(v) ? v.length : v));
    const rows = items.length ? items.flatMap((a) => this.row(a)) : [h('tr', {}, h('td', {colspan: '6'},
      empty(filtered ? 'No activities match these filters.' : 'No activities yet.')))];
    replace(this.body, table('Activities', headers, rows, {className: 'activity-table'}), this.pager.el);
  }

  row(a) {
    const items = [{label: this.expanded.has(a.id) ? 'Hide details' : 'Show details', onSelect: () => {
      if (this.expanded.has(a.id)) this.expanded.delete(a.id);
      else this.expanded.add(a.id);
      this.render(this.data);
    }}];
    const pending = a.rejection && a.rejection.pending && a.status !== 'REJECTED';
    // Only what can be rejected (a refused reject may be asked again; domain.md).
    if (can('admin') && a.status === 'SUCCEEDED' && !pending) {
      items.unshift({label: 'Reject', onSelect: (btn) => openRejectDialog(this.page, a, btn)});
    }
    const refused = a.rejection && !a.rejection.pending && a.rejection.refused && a.status === 'SUCCEEDED';
    const rejection = pending ? pill('reject pending', 'warn') : refused ? pill('reject refused', 'warn') : null;
    const tr = h('tr', {dataset: {activityId: a.id, status: a.status}, class: a.status === 'FAILED' ? 'row-failed' : ''},
      h('td', {class: 'nowrap'}, timeEl(a.createdAt, this.tz)),
      h('td', {}, pill(a.type || '—', 'info')),
      h('td', {}, h('div', {class: 'strong'}, activitySummary(a, this.uuid, this.names)),
        a.reason ? h('div', {class: 'muted small'}, `“${a.reason}”`) : null,
        h('div', {class: 'muted small mono'}, a.id)),
      h('td', {}, statusBadge(a.status), rejection),
      h('td', {}, activityResult(a, this.names || undefined, this.uuid)),
      h('td', {class: 'col-actions'}, menuButton('Actions', items, {buttonLabel: `Actions for activity ${a.id}`})));
    const out = [tr];
    if (this.expanded.has(a.id)) {
      out.push(h('tr', {class: 'row-detail'}, h('td', {colspan: '6'}, h('pre', {class: 'json', tabindex: '0'}, JSON.stringify(a, null, 2)))));
    }
    return out;
  }
}

/* ---------------- 3. Points ---------------- */
class PointsTab extends Tab {
  constructor(page) {
    super(page, 'points', 'Points');
    this.pager = new Pager(() => this.load({keepPage: true}), 'Ledger pages');
  }

  load(opts = {}) {
    if (!opts.keepPage) this.pager.reset();
    return super.load();
  }

  query() { return {limit: 25, cursor: this.pager.cursor}; }

  render(d) {
    const wallets = itemsOf(d);
    const ledgerRaw = d.ledger || [];
    const ledger = Array.isArray(ledgerRaw) ? ledgerRaw : itemsOf(ledgerRaw);
    this.pager.update(Array.isArray(ledgerRaw) ? d.nextCursor : ledgerRaw.nextCursor);
    const walletTable = wallets.length ? table('Wallets', ['Point type', 'Earned', 'Spent', 'Redeemed', 'Expired', 'Adjusted', 'Balance'],
      wallets.map((w) => h('tr', {dataset: {pointId: w.pointId}},
        h('th', {scope: 'row'}, w.name || w.pointId, w.name && w.name !== w.pointId ? h('span', {class: 'muted small mono'}, ` ${w.pointId}`) : null),
        ['earned', 'spent', 'redeemed', 'expired', 'adjusted'].map((k) => h('td', {class: 'num', dataset: {figure: k}}, num(w[k]))),
        h('td', {class: 'num strong', dataset: {figure: 'balance'}}, num(w.balance)))), {className: 'wallet-table'})
      : empty('No points yet: this user has no wallets.');
    const ledgerTable = ledger.length ? table('Ledger', [`Time (${this.tz})`, 'Point type', 'Amount', 'Kind', 'Activity', 'Expires'],
      ledger.map((e) => {
        const amount = e.amount ?? e.points ?? 0;
        return h('tr', {},
          h('td', {class: 'nowrap'}, timeEl(e.createdAt || e.at || e.time, this.tz)),
          h('td', {title: e.pointId}, (this.names && this.names.points.get(e.pointId)) || e.pointId),
          h('td', {class: `num ${amount < 0 ? 'neg' : 'pos'}`}, `${amount > 0 ? '+' : ''}${num(amount)}`),
          h('td', {title: e.kind, dataset: {kind: e.kind}}, ledgerKindText(e.kind),
            e.bookedUnder && e.bookedUnder !== e.kind ? h('span', {class: 'muted small'}, ` · ${ledgerKindText(e.bookedUnder)}`) : null,
            e.shortfall ? h('span', {class: 'small text-warn'}, ` · shortfall ${num(e.shortfall)}`) : null),
          h('td', {class: 'mono small'}, e.activityId || ''),
          h('td', {class: 'nowrap'}, e.expiresAt ? timeEl(e.expiresAt, this.tz) : (e.expiresOn ? formatDate(e.expiresOn) : '—')));
      }), {className: 'ledger-table'}) : empty('The ledger is empty.');
    replace(this.body, walletTable,
      h('h3', {class: 'subsection-title'}, 'Ledger'), h('p', {class: 'muted small'}, 'Every movement of points, newest first.'),
      ledgerTable, this.pager.el);
  }
}

/* ---------------- 4. Rewards ---------------- */
class RewardsTab extends Tab {
  constructor(page) { super(page, 'rewards', 'Rewards'); }

  section(title, list, emptyText) {
    const id = uid('rw');
    return h('section', {class: 'reward-section', 'aria-labelledby': id},
      h('h3', {class: 'subsection-title', id}, title, h('span', {class: 'count'}, ` ${list.length}`)),
      list.length ? h('ul', {class: 'reward-grid'}, list.map((r) => this.reward(r))) : empty(emptyText));
  }

  reward(r) {
    return h('li', {class: 'card reward-card', dataset: {rewardId: r.rewardId}},
      h('div', {class: 'reward-head'}, h('span', {class: 'strong'}, r.name || r.rewardId), pill(r.kind || 'reward', 'info')),
      r.completedAt ? h('p', {class: 'muted small'}, 'Completed ', timeEl(r.completedAt, this.tz)) : null,
      (r.criteria || []).length ? h('ul', {class: 'criteria'}, r.criteria.map((c) => {
        const pct = c.required ? Math.min(100, Math.round((100 * c.current) / c.required)) : (c.done ? 100 : 0);
        return h('li', {class: `criterion ${c.done ? 'is-done' : ''}`},
          h('div', {class: 'criterion-head'}, h('span', {}, c.done ? '✓ ' : '', c.label),
            h('span', {class: 'num small'}, `${num(c.current)}/${num(c.required)}`)),
          h('div', {class: 'progress', role: 'progressbar', 'aria-label': c.label, 'aria-valuemin': '0',
            'aria-valuemax': String(c.required ?? 0), 'aria-valuenow': String(Math.min(c.current ?? 0, c.required ?? 0)),
            'aria-valuetext': `${c.current}/${c.required}`},
          h('span', {class: 'progress-bar', style: `width:${pct}%`})));
      })) : null);
  }

  render(d) {
    const completed = d.completed || [];
    const inProgress = d.inProgress || [];
    const available = d.available || [];
    replace(this.body,
      this.section('Completed', completed, 'No rewards completed yet.'),
      this.section('In progress', inProgress, 'Nothing in progress.'),
      this.section('Available', available, 'No other rewards available.'));
  }
}

/* ---------------- 5. KPIs ---------------- */
const PERIODS = [['daily', 'Daily'], ['weekly', 'Weekly'], ['monthly', 'Monthly'], ['quarterly', 'Quarterly'], ['yearly', 'Yearly']];

class KpisTab extends Tab {
  constructor(page) {
    super(page, 'kpis', 'KPIs');
    const start = page.initialQuery('kpis').period;
    this.period = PERIODS.some(([p]) => p === start) ? start : 'weekly';
    this.select = h('select', {class: 'input', name: 'period', onchange: () => {
      this.period = this.select.value;
      this.load();
    }}, PERIODS.map(([v, l]) => h('option', {value: v}, l)));
    this.select.value = this.period;
    this.controls.append(field('Period', this.select).wrap);
  }

  query() { return {period: this.period}; }

  urlState() { return {period: this.period === 'weekly' ? '' : this.period}; }

  render(d) {
    const items = itemsOf(d);
    if (!items.length) {
      replace(this.body, empty('No KPIs are assigned to this user.'));
      return;
    }
    replace(this.body, items.map((k) => h('section', {class: 'kpi', dataset: {kpiId: k.kpiId}},
      h('h3', {class: 'subsection-title'}, k.name || k.kpiId),
      table(`${k.name || k.kpiId} by period`, ['Period', 'Value', 'Target', 'Percent', 'Met'], (k.periods || []).map((p, i) => h('tr', {class: i === 0 ? 'row-current' : ''},
        h('td', {class: 'nowrap'}, p.start === p.end ? formatDate(p.start) : `${formatDate(p.start)} – ${formatDate(p.end)}`, i === 0 ? h('span', {class: 'muted small'}, ' (current)') : null),
        h('td', {class: 'num'}, num(p.value)),
        h('td', {class: 'num'}, p.target === null || p.target === undefined ? h('span', {class: 'muted'}, 'No target') : num(p.target)),
        h('td', {}, p.percent === null || p.percent === undefined ? '—' : h('div', {class: 'pct'},
          h('div', {class: 'progress progress-sm', 'aria-hidden': 'true'}, h('span', {class: `progress-bar ${p.met ? 'is-met' : ''}`, style: `width:${Math.min(100, p.percent)}%`})),
          h('span', {class: 'num'}, `${p.percent}%`))),
        h('td', {}, p.met === null || p.met === undefined ? '—' : (p.met ? pill('Met', 'ok') : pill('Not met', 'muted'))))), {className: 'kpi-table'}))));
  }
}

/* ---------------- 6. Coupons ---------------- */
class CouponsTab extends Tab {
  constructor(page) { super(page, 'coupons', 'Coupons'); }

  render(d) {
    const items = itemsOf(d);
    if (!items.length) {
      replace(this.body, empty('This user holds no coupons.'));
      return;
    }
    replace(this.body, table('Coupons', ['Coupon', 'Code', 'Status', `Acquired (${this.tz})`, 'Redeemed', 'Points spent', 'Expires'],
      items.map((c) => h('tr', {dataset: {userCouponId: c.userCouponId || '', couponId: c.couponId}},
        h('td', {}, h('span', {class: 'strong'}, c.name || c.couponId)),
        h('td', {class: 'mono'}, c.code || '—'),
        h('td', {}, couponStatus(c.status)),
        h('td', {class: 'nowrap'}, timeEl(c.acquiredAt, this.tz), c.acquiredBy ? h('span', {class: 'muted small'}, ` · ${c.acquiredBy}`) : null),
        h('td', {class: 'nowrap'}, c.redeemedAt ? timeEl(c.redeemedAt, this.tz) : h('span', {class: 'muted'}, '—')),
        h('td', {class: 'num'}, c.pointsSpent ? num(c.pointsSpent) : h('span', {class: 'muted'}, '—')),
        h('td', {class: 'nowrap'}, c.expiresAt ? timeEl(c.expiresAt, this.tz) : (c.expiresOn ? formatDate(c.expiresOn) : h('span', {class: 'muted'}, 'Never'))))),
    {className: 'coupon-table'}));
  }
}

/* ---------------- 7. Leaderboards ---------------- */
class LeaderboardsTab extends Tab {
  constructor(page) { super(page, 'leaderboards', 'Leaderboards'); }

  change(b) {
    if (b.new) return pill('new', 'info');
    if (b.change === null || b.change === undefined || b.change === 0) return h('span', {class: 'muted', 'aria-label': 'No change'}, '—');
    const up = b.change > 0;
    return h('span', {class: `change ${up ? 'up' : 'down'}`},
      h('span', {'aria-hidden': 'true'}, up ? '▲ ' : '▼ '),
      h('span', {class: 'sr-only'}, up ? 'up ' : 'down '), String(Math.abs(b.change)));
  }

  render(d) {
    const items = itemsOf(d);
    if (!items.length) {
      replace(this.body, empty('No leaderboards are configured on this site.'));
      return;
    }
    replace(this.body, table('Leaderboards', ['Leaderboard', 'Period', 'Rank', 'Score', 'Previous rank', 'Change', `Ranked at (${this.tz})`],
      items.map((b) => h('tr', {dataset: {leaderboardId: b.leaderboardId}},
        h('td', {class: 'strong'}, b.name || b.leaderboardId),
        h('td', {dataset: {period: b.period}}, periodText(b.period)),
        h('td', {class: 'num'}, b.rank ? `#${b.rank}` : h('span', {class: 'muted'}, 'Not ranked')),
        h('td', {class: 'num', dataset: {score: b.score}}, scoreText(b.score, this.names && this.names.boards.get(b.leaderboardId), this.names)),
        h('td', {class: 'num'}, b.previousRank ? `#${b.previousRank}` : '—'),
        h('td', {}, this.change(b)),
        h('td', {class: 'nowrap'}, b.rankedAt ? timeEl(b.rankedAt, this.tz) : '—'))), {className: 'board-table'}));
  }
}

/* ---------------- 8. Settings ---------------- */
const LABELS = {kpis: 'KPIs', optIns: 'Opt-ins', showOnLeaderboards: 'Show on leaderboards'};
function humanize(key) {
  if (LABELS[key]) return LABELS[key];
  const s = key.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/_/g, ' ').toLowerCase();
  return s.charAt(0).toUpperCase() + s.slice(1);
}

const SETTING_HINTS = {
  member: 'Opted in to the programme (the user’s member flag).',
  showOnLeaderboards: 'When off, the user is kept off every leaderboard.',
  marketing: 'Agreed to marketing messages.',
};

class SettingsTab extends Tab {
  constructor(page) { super(page, 'settings', 'Settings'); }

  /** Whether a box differs from what was loaded: edits are not dropped silently (console.md). */
  unsaved() {
    return [...this.body.querySelectorAll('input[type=checkbox][data-group]')]
      .some((cb) => this.original && cb.checked !== Boolean((this.original[cb.dataset.group] || {})[cb.dataset.key]));
  }

  setTimeZone() {} // no times here; a re-render would drop edits

  /** Shown again, the tab reloads unless it holds edits: those stay until saved or discarded. */
  load(options) {
    if (this.unsaved()) return Promise.resolve();
    return super.load(options);
  }

  render(d) {
    this.original = JSON.parse(JSON.stringify(d || {}));
    const editable = can('write');
    const status = h('div', {class: 'status-slot'});
    const groups = Object.entries(this.original).filter(([, v]) => v && typeof v === 'object' && !Array.isArray(v));
    if (!groups.length) {
      replace(this.body, empty('This user has no settings.'));
      return;
    }
    const titles = {notifications: 'Notifications', optIns: 'Opt-ins'};
    const save = h('button', {type: 'submit', class: 'btn btn-primary', disabled: !editable}, 'Save');
    const pending = h('span', {class: 'muted small', role: 'status'});
    const discard = h('button', {type: 'button', class: 'btn', hidden: true, onclick: () => this.render(this.original)}, 'Discard changes');
    const form = h('form', {class: 'settings-form', onchange: () => {
      const unsaved = this.unsaved();
      pending.textContent = unsaved ? 'Unsaved changes' : '';
      discard.hidden = !unsaved;
    }, onsubmit: async (e) => {
      e.preventDefault();
      const body = JSON.parse(JSON.stringify(this.original));
      form.querySelectorAll('input[type=checkbox]').forEach((cb) => {
        body[cb.dataset.group][cb.dataset.key] = cb.checked;
      });
      save.disabled = true;
      save.textContent = 'Saving…';
      replace(status);
      try {
        const saved = await api.put(path('sites', this.site, 'users', this.uuid, 'settings'), body);
        this.data = saved || body;
        announce('Settings saved');
        this.render(this.data);
        this.page.loadSummary();
        const again = this.body.querySelector('.status-slot');
        if (again) replace(again, h('p', {class: 'alert alert-ok', role: 'status'}, 'Settings saved.'));
      } catch (err) {
        replace(status, errorBox(err));
      } finally {
        save.disabled = !editable;
        save.textContent = 'Save';
      }
    }},
    groups.map(([group, flags]) => h('fieldset', {class: 'card settings-group'}, h('legend', {}, titles[group] || humanize(group)),
      Object.entries(flags).map(([key, value]) => {
        const id = uid('set');
        return h('div', {class: 'check-row'},
          h('input', {type: 'checkbox', id, checked: Boolean(value), disabled: !editable || typeof value !== 'boolean',
            dataset: {group, key}}),
          h('label', {for: id}, humanize(key)),
          SETTING_HINTS[key] && group === 'optIns' ? h('span', {class: 'muted small'}, SETTING_HINTS[key]) : null);
      }))),
    status,
    editable ? h('div', {class: 'form-actions'}, pending, discard, save) : h('p', {class: 'muted small'}, 'Your role can view these settings but not change them.'));
    replace(this.body, form);
  }
}

const CLASSES = {
  overview: OverviewTab, activity: ActivityTab, points: PointsTab, rewards: RewardsTab,
  kpis: KpisTab, coupons: CouponsTab, leaderboards: LeaderboardsTab, settings: SettingsTab,
};

export function createTab(id, page) {
  return new CLASSES[id](page);
}

export {pointsList};
