// A leaderboard's standings for one period, paged: Rank, User (a link to their details page), Score.
// The period and the page are in the URL (`?period=weekly&page=2&cursor=…`, paging.js).
import {h, replace, field} from './dom.js';
import {api, path, itemsOf} from './api.js';
import {getMechanics} from './site.js';
import {num} from './format.js';
import {dataTable, empty, errorBox, loading, pageHead, tableScroller} from './ui.js';
import {sectionHash, standingsHash, userHash, usersHash} from './routes.js';
import {CursorPages, pageFrom} from './paging.js';

const PERIODS = [['daily', 'Daily'], ['weekly', 'Weekly'], ['monthly', 'Monthly'], ['allTime', 'All time']];
const PAGE_SIZE = 25;

export class StandingsView {
  constructor(route) {
    this.site = route.site;
    this.board = route.id;
    this.seq = 0;
    const head = pageHead({crumbs: [{label: `Site ${this.site}`, href: usersHash(this.site)},
      {label: 'Leaderboards', href: sectionHash(this.site, 'leaderboards')}, {label: 'Standings'}],
    title: `Standings: ${this.board}`, titleId: 'standings-title', subtitle: `Site ${this.site}`});
    this.title = head.title;
    this.periodSelect = h('select', {class: 'input', name: 'period', onchange: () => {
      location.hash = standingsHash(this.site, this.board, {period: this.periodSelect.value});
    }});
    this.errorSlot = h('div', {class: 'status-slot'});
    this.tableWrap = tableScroller();
    this.prevBtn = h('button', {type: 'button', class: 'btn', disabled: true, onclick: () => this.step(-1)}, '← Previous');
    this.nextBtn = h('button', {type: 'button', class: 'btn', disabled: true, onclick: () => this.step(1)}, 'Next →');
    this.pageLabel = h('span', {class: 'muted pager-label', 'aria-live': 'polite'}, '');
    this.el = h('section', {class: 'page', 'aria-labelledby': 'standings-title'}, head.el,
      h('div', {class: 'toolbar'}, field('Period', this.periodSelect).wrap),
      this.errorSlot, this.tableWrap,
      h('nav', {class: 'pager', 'aria-label': 'Pages'}, this.prevBtn, this.pageLabel, this.nextBtn));
    this.state = this.stateFrom(route.query);
  }

  stateFrom(query) {
    return {period: query.period || '', ...pageFrom(query)};
  }

  pages(period) {
    return new CursorPages(`standings.${this.site}.${this.board}.${period}`);
  }

  step(delta) {
    const {period, page} = this.state;
    location.hash = standingsHash(this.site, this.board, {period, ...this.pages(period).step(page, delta)});
  }

  async mount() {
    try {
      const boards = await getMechanics(this.site, 'leaderboards');
      this.leaderboard = boards.find((b) => b.id === this.board) || null;
    } catch (e) {
      this.leaderboard = null;
    }
    const periods = this.leaderboard ? PERIODS.filter(([p]) => this.leaderboard.periods.includes(p)) : PERIODS;
    replace(this.periodSelect, periods.map(([v, l]) => h('option', {value: v}, l)));
    if (this.leaderboard) this.title.textContent = `Standings: ${this.leaderboard.name}`;
    if (!this.state.period || !periods.some(([p]) => p === this.state.period)) this.state.period = periods[0][0];
    this.periodSelect.value = this.state.period;
    this.load();
  }

  update(route) {
    this.state = this.stateFrom(route.query);
    if (this.periodSelect.options.length) {
      if (!this.state.period) this.state.period = this.periodSelect.options[0].value;
      this.periodSelect.value = this.state.period;
      this.load();
    }
  }

  unmount() {
    this.seq += 1;
  }

  async load() {
    const seq = ++this.seq;
    const {period, page, cursor} = this.state;
    replace(this.errorSlot);
    this.tableWrap.setAttribute('aria-busy', 'true');
    if (!this.items) replace(this.tableWrap, loading('Loading standings…'));
    try {
      const data = await api.get(path('sites', this.site, 'leaderboards', this.board, 'standings'),
        {query: {period, limit: PAGE_SIZE, cursor: cursor || undefined}});
      if (seq !== this.seq) return;
      this.items = itemsOf(data);
      const next = data && data.nextCursor;
      this.pages(period).remember(page, next);
      this.render(page, Boolean(next));
    } catch (e) {
      if (seq !== this.seq) return;
      replace(this.tableWrap);
      replace(this.errorSlot, errorBox(e, {retry: () => this.load()}));
    } finally {
      if (seq === this.seq) this.tableWrap.removeAttribute('aria-busy');
    }
  }

  render(page, hasNext) {
    const columns = [['Rank'], ['User'], ['Score']];
    const cell = (c, s) => {
      if (c[0] === 'Rank') return h('span', {class: 'num'}, `#${s.rank}`);
      if (c[0] === 'Score') return h('span', {class: 'num'}, num(s.score));
      return h('a', {href: userHash(this.site, s.uuid)}, s.displayName || s.uuid);
    };
    replace(this.tableWrap, this.items.length ? dataTable({caption: 'Standings', columns, items: this.items, cell, className: 'standings-table'})
      : empty(page > 1 ? 'No more standings.' : 'Nobody is ranked in this period yet.'));
    this.prevBtn.disabled = page <= 1;
    this.nextBtn.disabled = !hasNext;
    this.pageLabel.textContent = `Page ${page}`;
  }
}
