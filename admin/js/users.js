// The user table: search, tag and status filters, sortable columns, paging (all in the URL),
// blocked highlight, Create user.
import {h, replace, debounce, field} from './dom.js';
import {api, path, itemsOf, fillPage} from './api.js';
import {can} from './state.js';
import {getSite} from './site.js';
import {timeEl, displayNameOf, fullName} from './format.js';
import {avatar, empty, errorBox, sortableTh, createDialog, announce, pill, pageHead, tableScroller} from './ui.js';
import {usersHash, userHash} from './routes.js';
import {CursorPages, pageFrom} from './paging.js';
import {userForm} from './userform.js';

const SORTS = ['uuid', 'displayName', 'email', 'createdAt'];

export class UsersView {
  constructor(route) {
    this.site = route.site;
    this.state = this.stateFrom(route.query);
    this.timeZone = 'UTC';
    this.seq = 0;
    this.build();
  }

  stateFrom(query) {
    return {
      q: query.q || '',
      sort: SORTS.includes(query.sort) ? query.sort : 'uuid',
      order: query.order === 'desc' ? 'desc' : 'asc',
      blocked: ['true', 'false'].includes(query.blocked) ? query.blocked : '',
      tag: query.tag || '',
      ...pageFrom(query),
    };
  }

  /** The filters and sort as the URL holds them (defaults left out). */
  filters() {
    return {q: this.state.q, sort: this.state.sort === 'uuid' ? '' : this.state.sort,
      order: this.state.order === 'asc' ? '' : this.state.order, blocked: this.state.blocked, tag: this.state.tag};
  }

  /** The cursors of this table's pages, for its filters and sort. */
  pages() {
    return new CursorPages(`users.${this.site}.${JSON.stringify(this.filters())}`);
  }

  build() {
    this.search = h('input', {type: 'search', class: 'input', name: 'q', value: this.state.q, autocomplete: 'off',
      placeholder: 'Name, email or UUID', spellcheck: 'false'});
    this.search.addEventListener('input', debounce(() => {
      // A search typed just before leaving the table must not pull the URL back to it.
      if (!this.el.isConnected) return;
      this.state.q = this.search.value.trim();
      this.reload(true);
    }, 300));
    const searchField = field('Search', this.search);
    searchField.wrap.classList.add('toolbar-search');

    this.blockedSelect = h('select', {class: 'input', name: 'blocked', onchange: () => {
      this.state.blocked = this.blockedSelect.value;
      this.reload(true);
    }}, h('option', {value: ''}, 'All users'), h('option', {value: 'true'}, 'Blocked only'), h('option', {value: 'false'}, 'Not blocked'));
    this.blockedSelect.value = this.state.blocked;
    const statusField = field('Status', this.blockedSelect);
    this.tagList = h('datalist', {id: `tags-${this.site}`});
    this.tagInput = h('input', {type: 'search', class: 'input', name: 'tag', value: this.state.tag, autocomplete: 'off',
      spellcheck: 'false', placeholder: 'Any tag', list: this.tagList.id});
    this.tagInput.addEventListener('input', debounce(() => {
      if (!this.el.isConnected) return;
      this.state.tag = this.tagInput.value.trim();
      this.reload(true);
    }, 300));
    const tagField = field('Tag', this.tagInput);

    this.createBtn = can('write') ? h('button', {type: 'button', class: 'btn btn-primary', onclick: () => this.openCreate()}, 'Create user') : null;
    const head = pageHead({crumbs: [{label: `Site ${this.site}`}, {label: 'Users'}], title: 'Users', titleId: 'users-title',
      subtitle: `Site ${this.site}`, actions: [this.createBtn]});
    this.subtitle = head.subtitle;
    this.tableWrap = tableScroller();
    this.tableWrap.setAttribute('aria-live', 'off');
    this.errorSlot = h('div', {class: 'status-slot'});
    this.prevBtn = h('button', {type: 'button', class: 'btn', disabled: true, onclick: () => this.page(-1)}, '← Previous');
    this.nextBtn = h('button', {type: 'button', class: 'btn', disabled: true, onclick: () => this.page(1)}, 'Next →');
    this.pageLabel = h('span', {class: 'muted pager-label', 'aria-live': 'polite'}, '');

    this.el = h('section', {class: 'page', 'aria-labelledby': 'users-title'},
      head.el,
      h('div', {class: 'toolbar'}, searchField.wrap, tagField.wrap, this.tagList, statusField.wrap),
      this.errorSlot,
      this.tableWrap,
      this.pager = h('nav', {class: 'pager', 'aria-label': 'Pages', hidden: true}, this.prevBtn, this.pageLabel, this.nextBtn));
    replace(this.tableWrap, this.table(null));
  }

  mount() {
    // The details page's breadcrumb returns to this table as it was (search, sort).
    sessionStorage.setItem(`gami.usersHash.${this.site}`, location.hash);
    getSite(this.site).then((info) => {
      this.timeZone = (info && info.timezone) || 'UTC';
      this.subtitle.textContent = `${(info && info.name) || this.site} · times in ${this.timeZone}`;
      if (this.items) this.renderRows();
    }).catch((e) => replace(this.errorSlot, errorBox(e)));
    this.load();
  }

  update(route) {
    sessionStorage.setItem(`gami.usersHash.${this.site}`, location.hash);
    const next = this.stateFrom(route.query);
    if (JSON.stringify(next) === JSON.stringify(this.state)) return;
    this.state = next;
    this.search.value = next.q;
    this.tagInput.value = next.tag;
    this.blockedSelect.value = next.blocked;
    this.load();
  }

  unmount() {
    this.seq += 1;
  }

  /** New filters or sort: their page one, in the URL (replaced while typing, else pushed). */
  reload(replaceHistory) {
    this.state.page = 1;
    this.state.cursor = '';
    this.go(usersHash(this.site, this.filters()), replaceHistory);
  }

  page(delta) {
    this.go(usersHash(this.site, {...this.filters(), ...this.pages().step(this.state.page, delta)}), false);
  }

  go(hash, replaceHistory) {
    if (replaceHistory) history.replaceState(null, '', hash);
    else history.pushState(null, '', hash);
    sessionStorage.setItem(`gami.usersHash.${this.site}`, hash);
    this.state = this.stateFrom(Object.fromEntries(new URLSearchParams(hash.split('?')[1] || '')));
    this.load();
  }

  async load() {
    const seq = ++this.seq;
    this.tableWrap.setAttribute('aria-busy', 'true');
    this.tableWrap.classList.add('is-loading');
    replace(this.errorSlot);
    const {q, sort, order, blocked, tag, page, cursor} = this.state;
    try {
      const data = await fillPage((limit, c) => api.get(path('sites', this.site, 'users'), {query: {
        q, sort, order, blocked, tag, limit, cursor: c}}), 25, cursor);
      if (seq !== this.seq) return;
      this.items = itemsOf(data);
      this.nextCursor = data && data.nextCursor;
      this.pages().remember(page, this.nextCursor);
      this.renderRows();
    } catch (e) {
      if (seq !== this.seq) return;
      replace(this.errorSlot, errorBox(e, {retry: () => this.load()}));
      if (!this.items) replace(this.tableWrap, this.table([], {failed: true}));
    } finally {
      if (seq === this.seq) {
        this.tableWrap.removeAttribute('aria-busy');
        this.tableWrap.classList.remove('is-loading');
      }
    }
  }

  renderRows() {
    replace(this.tableWrap, this.table(this.items));
    this.pager.hidden = false; // shown once rows are in (no jump below the skeleton)
    const pageNo = this.state.page;
    // The tags of the users shown, offered in the Tag filter.
    const tags = [...new Set(this.items.flatMap((u) => u.tags || []))].sort();
    replace(this.tagList, tags.map((t) => h('option', {value: t})));
    this.prevBtn.disabled = pageNo <= 1;
    this.nextBtn.disabled = !this.nextCursor;
    this.pageLabel.textContent = `Page ${pageNo}${this.items.length ? ` · ${this.items.length} users` : ''}`;
  }

  table(items, {failed = false} = {}) {
    const onSort = (key, order) => {
      this.state.sort = key;
      this.state.order = order;
      this.reload(false);
    };
    const head = h('thead', {}, h('tr', {},
      sortableTh('Display name', 'displayName', this.state, onSort),
      sortableTh('UUID', 'uuid', this.state, onSort, {className: 'hide-sm'}),
      sortableTh('Email', 'email', this.state, onSort, {className: 'hide-sm'}),
      sortableTh(`Created (${this.timeZone})`, 'createdAt', this.state, onSort, {className: 'hide-sm'}),
      h('th', {scope: 'col'}, 'Status'),
      h('th', {scope: 'col', class: 'col-actions'}, h('span', {}, 'Actions'))));
    const body = h('tbody', {});
    if (items === null) {
      for (let i = 0; i < 8; i += 1) {
        body.append(h('tr', {class: 'skeleton-row', 'aria-hidden': 'true'}, Array.from({length: 6}, () => h('td', {}, h('span', {class: 'skeleton-line'})))));
      }
    } else if (!items.length) {
      // After a failed load the table says nothing of its own: the error above says why.
      const text = failed ? 'The users could not be loaded.'
        : this.state.q ? `No users match “${this.state.q}”.`
          : this.state.tag || this.state.blocked ? 'No users match these filters.' : 'No users on this site yet.';
      body.append(h('tr', {}, h('td', {colspan: '6'}, empty(text))));
    } else {
      for (const u of items) {
        const href = userHash(this.site, u.uuid);
        body.append(h('tr', {class: u.blocked ? 'row-blocked' : '', dataset: {uuid: u.uuid}},
          h('td', {}, h('div', {class: 'user-cell'}, avatar(u, 'sm'),
            h('div', {class: 'user-cell-text'}, h('span', {class: 'user-cell-name'}, displayNameOf(u)),
              fullName(u) && fullName(u) !== displayNameOf(u) ? h('span', {class: 'muted small'}, fullName(u)) : null,
              h('span', {class: 'muted small mono show-sm'}, u.uuid)))),
          h('td', {class: 'mono hide-sm'}, u.uuid),
          h('td', {class: 'hide-sm'}, u.email || h('span', {class: 'muted'}, '—')),
          h('td', {class: 'hide-sm nowrap'}, timeEl(u.createdAt, this.timeZone)),
          h('td', {}, u.blocked ? pill('Blocked', 'bad') : (u.member === false ? pill('Not a member', 'muted') : pill('Active', 'ok'))),
          h('td', {class: 'col-actions'}, h('a', {class: 'btn btn-small', href, 'aria-label': `View ${displayNameOf(u)}`}, 'View'))));
      }
    }
    return h('table', {class: 'table users-table'}, h('caption', {class: 'sr-only'}, 'Users'), head, body);
  }

  openCreate() {
    const dlg = createDialog({title: 'Create user'});
    const form = userForm({}, {withUuid: true});
    const errorSlot = h('div', {class: 'status-slot'});
    const submit = h('button', {type: 'submit', class: 'btn btn-primary'}, 'Create');
    const el = h('form', {class: 'form', novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      replace(errorSlot);
      const body = form.values();
      if (!body.uuid) {
        form.fields.uuid.setError('A UUID is required.');
        form.fields.uuid.input.focus();
        return;
      }
      submit.disabled = true;
      try {
        const user = await api.post(path('sites', this.site, 'users'), body);
        dlg.close();
        announce(`User ${user.uuid || body.uuid} created`);
        location.hash = userHash(this.site, user.uuid || body.uuid);
      } catch (err) {
        const rest = form.showErrors(err);
        if (err.status !== 400 || !err.details.length || rest.length) replace(errorSlot, errorBox(err));
      } finally {
        submit.disabled = false;
      }
    }}, form.el, errorSlot, h('div', {class: 'dialog-actions'},
      h('button', {type: 'button', class: 'btn', onclick: () => dlg.close()}, 'Cancel'), submit));
    dlg.body.append(el);
    dlg.show(form.fields.uuid.input);
  }
}
