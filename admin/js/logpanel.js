// The "Log activity" slide-over: five activity types, Create another, Submit, polling, request log.
import {h, replace, field, uid, debounce} from './dom.js';
import {api, request, path, itemsOf, fillPage, newIdempotencyKey} from './api.js';
import {getMechanics} from './site.js';
import {createDialog, errorBox, announce} from './ui.js';
import {displayNameOf} from './format.js';
import {RequestLogView, requestLog} from './requestlog.js';
import {pointsMoved, pollActivity} from './user/activity-bits.js';

const TYPES = [
  {id: 'behaviour', label: 'Behaviour'},
  {id: 'coupon', label: 'Coupon'},
  {id: 'point', label: 'Point'},
  {id: 'gift', label: 'Gift'},
  {id: 'bounty', label: 'Bounty'},
];

function select(name, options = [], attrs = {}) {
  return h('select', {class: 'input', name, ...attrs}, options.map(([v, l]) => h('option', {value: v}, l)));
}

function setOptions(sel, options, {placeholder} = {}) {
  const previous = sel.value;
  replace(sel);
  if (placeholder !== undefined) sel.append(h('option', {value: ''}, placeholder));
  for (const o of options) {
    if (o.group) {
      sel.append(h('optgroup', {label: o.group}, o.options.map((x) => h('option', {value: x.value, dataset: x.data || {}}, x.label))));
    } else {
      sel.append(h('option', {value: o.value, dataset: o.data || {}}, o.label));
    }
  }
  if ([...sel.options].some((op) => op.value === previous)) sel.value = previous;
}

/** Collect every leaf {key, op, value} of a flexible behaviour's condition tree. */
function conditionLeaves(node, out = []) {
  if (!node || typeof node !== 'object') return out;
  if (Array.isArray(node)) {
    node.forEach((n) => conditionLeaves(n, out));
    return out;
  }
  if ('key' in node && 'op' in node) out.push(node);
  for (const k of ['and', 'or']) if (node[k]) conditionLeaves(node[k], out);
  return out;
}

function positiveInt(value) {
  const n = Number(value);
  return Number.isInteger(n) ? n : NaN;
}

export class LogPanel {
  constructor(page) {
    this.page = page;
    this.type = sessionStorage.getItem('gami.logpanel.type') || 'behaviour';
    if (!TYPES.some((t) => t.id === this.type)) this.type = 'behaviour';
    this.dlg = createDialog({title: 'Log activity', className: 'slideover', keep: true, returnFocus: () => page.actionButton('Log activity')});
    this.dlg.dialog.classList.add('logpanel');
    this.forms = {};
    this.fields = {};
    // Filled by loadOptions(); empty until then so early changes of a select are harmless.
    this.behaviours = [];
    this.pointTypes = [];
    this.rewards = [];
    this.siteCoupons = [];
    this.heldCoupons = [];
    this.bounties = [];
    this.build();
  }

  destroy() {
    this.log.destroy();
    this.dlg.close();
    this.dlg.dialog.remove();
  }

  /* ---------------- layout ---------------- */
  build() {
    this.subtitle = h('p', {class: 'muted small panel-subtitle'});
    this.tablist = h('div', {class: 'tabs tabs-compact', role: 'tablist', 'aria-label': 'Activity type'});
    this.tabpanels = h('div', {class: 'panel-forms'});
    this.tabBtns = TYPES.map((t, i) => {
      const btn = h('button', {type: 'button', role: 'tab', class: 'tab', id: uid('lt'), 'aria-selected': 'false', tabindex: '-1',
        dataset: {type: t.id}, onclick: () => this.setType(t.id, true)}, t.label);
      btn.addEventListener('keydown', (e) => {
        let next = null;
        if (e.key === 'ArrowRight') next = (i + 1) % TYPES.length;
        else if (e.key === 'ArrowLeft') next = (i - 1 + TYPES.length) % TYPES.length;
        else if (e.key === 'Home') next = 0;
        else if (e.key === 'End') next = TYPES.length - 1;
        if (next === null) return;
        e.preventDefault();
        this.setType(TYPES[next].id, true);
      });
      this.tablist.append(btn);
      return btn;
    });
    for (const t of TYPES) {
      const form = this[`build_${t.id}`]();
      const panel = h('div', {role: 'tabpanel', class: 'panel-form', id: uid('lp'), dataset: {type: t.id}, hidden: true}, form);
      const btn = this.tabBtns.find((b) => b.dataset.type === t.id);
      btn.setAttribute('aria-controls', panel.id);
      panel.setAttribute('aria-labelledby', btn.id);
      this.forms[t.id] = {form, panel};
      this.tabpanels.append(panel);
    }
    this.reason = h('input', {type: 'text', class: 'input', name: 'reason', autocomplete: 'off', maxlength: '500'});
    this.createAnother = h('input', {type: 'checkbox', id: uid('ca'), name: 'createAnother',
      checked: sessionStorage.getItem('gami.logpanel.createAnother') === '1'});
    this.createAnother.addEventListener('change', () => sessionStorage.setItem('gami.logpanel.createAnother', this.createAnother.checked ? '1' : '0'));
    this.submitBtn = h('button', {type: 'button', class: 'btn btn-primary', onclick: () => this.submit()}, 'Submit');
    this.status = h('div', {class: 'status-slot panel-status', role: 'status', 'aria-live': 'polite'});
    this.log = new RequestLogView({onExpandChange: (expanded) => {
      this.dlg.dialog.classList.toggle('log-expanded', expanded);
    }});
    this.dlg.dialog.classList.toggle('log-expanded', this.log.expanded);
    this.dlg.body.classList.add('panel-body');
    this.dlg.body.append(
      h('div', {class: 'panel-main'},
        this.subtitle,
        this.tablist,
        this.tabpanels,
        field('Reason', this.reason, {hint: 'Optional. For a gift it carries the message.'}).wrap),
      h('div', {class: 'panel-actions'},
        h('div', {class: 'check-row'}, this.createAnother, h('label', {for: this.createAnother.id}, 'Create another')),
        this.submitBtn),
      this.status,
      this.log.el);
    // Enter in a text field submits the current tab.
    this.dlg.body.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && e.target instanceof HTMLInputElement && e.target.type !== 'checkbox') {
        e.preventDefault();
        this.submit();
      }
    });
    this.setType(this.type, false);
  }

  f(type, key, label, input, opts) {
    const fl = field(label, input, opts);
    this.fields[`${type}.${key}`] = fl;
    return fl;
  }

  build_behaviour() {
    const verb = select('verb');
    verb.addEventListener('change', () => this.renderVerbInfo());
    this.verbInfo = h('div', {class: 'verb-info small'});
    this.conditionFields = h('div', {class: 'condition-fields'});
    this.metadata = h('textarea', {class: 'input mono', name: 'metadata', rows: '4', spellcheck: 'false', placeholder: '{"key": "value"}'});
    return h('div', {class: 'form-stack'},
      this.f('behaviour', 'verb', 'Behaviour', verb).wrap,
      this.verbInfo,
      this.conditionFields,
      this.f('behaviour', 'metadata', 'Metadata', this.metadata, {hint: 'A JSON object. Fields above (condition keys of flexible behaviours) are merged into it.'}).wrap);
  }

  build_coupon() {
    const action = select('action', [['redeem', 'Redeem'], ['refund', 'Refund'], ['buy', 'Buy']]);
    action.addEventListener('change', () => this.renderCouponOptions());
    const coupon = select('coupon');
    return h('div', {class: 'form-stack'},
      this.f('coupon', 'action', 'Action', action).wrap,
      this.f('coupon', 'coupon', 'Coupon', coupon, {hint: 'Redeem and refund use the coupons this user holds; buy lists the site’s priced coupons.'}).wrap);
  }

  build_point() {
    const action = select('action', [['set', 'Set'], ['increment', 'Increment'], ['redeem', 'Redeem'], ['refund', 'Refund']]);
    action.value = 'increment';
    action.querySelector('option[value=increment]').defaultSelected = true;
    action.addEventListener('change', () => this.renderWalletOptions());
    const wallet = select('wallet');
    const points = h('input', {type: 'number', class: 'input', name: 'points', step: '1', inputmode: 'numeric'});
    return h('div', {class: 'form-stack'},
      this.f('point', 'action', 'Action', action).wrap,
      h('div', {class: 'form-row'},
        this.f('point', 'wallet', 'Wallet', wallet).wrap,
        this.f('point', 'points', 'Points', points).wrap));
  }

  /** A uuid field offering the site's users: as the text changes, the users whose name, email
   *  or uuid match it (the API's `q`), so a site of any size can be searched, not its first page. */
  userPicker(name) {
    this.userListId = this.userListId || uid('users');
    const input = h('input', {type: 'text', class: 'input', name, autocomplete: 'off', spellcheck: 'false', list: this.userListId,
      placeholder: 'Name, email or UUID'});
    input.addEventListener('input', debounce(() => this.searchUsers(input.value.trim()), 250));
    return input;
  }

  async searchUsers(text) {
    const seq = (this.userSearch = (this.userSearch || 0) + 1);
    try {
      // A filtered page may come back short while the API reads on (api.md): fill it.
      const found = await fillPage((limit, cursor) => api.get(path('sites', this.page.site, 'users'),
        {query: {q: text || undefined, limit, cursor}}), 20);
      if (seq === this.userSearch) this.offerUsers(itemsOf(found));
    } catch {
      // The list stays as it was; the field still takes a typed uuid.
    }
  }

  offerUsers(users) {
    replace(this.userList, users.filter((u) => u.uuid !== this.page.uuid).map((u) => h('option', {value: u.uuid}, displayNameOf(u))));
  }

  build_gift() {
    const from = this.userPicker('from');
    this.userList = h('datalist', {id: from.getAttribute('list')});
    const gift = select('gift');
    const wallet = select('wallet');
    const points = h('input', {type: 'number', class: 'input', name: 'points', step: '1', min: '1', inputmode: 'numeric'});
    return h('div', {class: 'form-stack'},
      this.f('gift', 'from', 'From', from, {hint: 'The sender: type a name, email or UUID and pick them. This user receives the gift.'}).wrap, this.userList,
      this.f('gift', 'gift', 'Gift', gift).wrap,
      h('div', {class: 'form-row'},
        this.f('gift', 'wallet', 'Wallet', wallet).wrap,
        this.f('gift', 'points', 'Points', points).wrap));
  }

  build_bounty() {
    const action = select('action', [['start', 'Start'], ['cancel', 'Cancel'], ['award', 'Award']]);
    action.addEventListener('change', () => this.renderBountyFields());
    const wallet = select('wallet');
    const points = h('input', {type: 'number', class: 'input', name: 'points', step: '1', min: '1', inputmode: 'numeric'});
    const bounty = select('bounty');
    const awardTo = this.userPicker('awardTo');
    return h('div', {class: 'form-stack'},
      this.f('bounty', 'action', 'Action', action).wrap,
      h('div', {class: 'form-row'},
        this.f('bounty', 'wallet', 'Wallet', wallet).wrap,
        this.f('bounty', 'points', 'Points', points).wrap),
      this.f('bounty', 'bounty', 'Bounty', bounty, {hint: 'This user’s open bounties.'}).wrap,
      this.f('bounty', 'awardTo', 'Award to', awardTo, {hint: 'Who gets the bounty: type a name, email or UUID and pick them.'}).wrap);
  }

  input(type, key) {
    return this.fields[`${type}.${key}`].input;
  }

  setType(type, focus) {
    this.type = type;
    sessionStorage.setItem('gami.logpanel.type', type);
    this.tabBtns.forEach((b) => {
      const on = b.dataset.type === type;
      b.setAttribute('aria-selected', String(on));
      b.tabIndex = on ? 0 : -1;
      b.classList.toggle('is-active', on);
      if (on && focus) b.focus();
    });
    for (const [id, {panel}] of Object.entries(this.forms)) panel.hidden = id !== type;
    replace(this.status);
  }

  /* ---------------- data ---------------- */
  open() {
    this.subtitle.textContent = `For ${displayNameOf(this.page.user) || this.page.uuid} (${this.page.uuid})`;
    this.dlg.show(this.tabBtns.find((b) => b.dataset.type === this.type));
    this.loadOptions();
  }

  async loadOptions() {
    const site = this.page.site;
    const userPath = path('sites', site, 'users', this.page.uuid);
    const errors = [];
    const get = (p) => p.catch((e) => { errors.push(e); return null; });
    const [behaviours, pointTypes, rewards, coupons, held, bounties, users] = await Promise.all([
      get(getMechanics(site, 'behaviours')),
      get(getMechanics(site, 'point-types')),
      get(getMechanics(site, 'rewards')),
      get(getMechanics(site, 'coupons')),
      get(api.get(`${userPath}/tabs/coupons`)),
      get(api.get(`${userPath}/bounties`, {query: {status: 'open'}})),
      get(api.get(path('sites', site, 'users'), {query: {limit: 20}})),
    ]);
    this.behaviours = behaviours || this.behaviours;
    this.pointTypes = pointTypes || this.pointTypes;
    this.rewards = rewards || this.rewards;
    this.siteCoupons = coupons || this.siteCoupons;
    this.heldCoupons = held ? itemsOf(held) : this.heldCoupons;
    this.bounties = bounties ? itemsOf(bounties) : this.bounties;
    if (users) this.offerUsers(itemsOf(users));
    this.renderOptions();
    if (errors.length) replace(this.status, errorBox(errors[0]));
  }

  renderOptions() {
    const simple = this.behaviours.filter((b) => (b.kind || 'simple') === 'simple');
    setOptions(this.input('behaviour', 'verb'), simple.map((b) => ({value: b.verb, label: b.name && b.name !== b.verb ? `${b.name} (${b.verb})` : b.verb})),
      {placeholder: simple.length ? undefined : 'No behaviours configured'});
    this.renderVerbInfo();
    this.renderWalletOptions();
    const gifts = this.rewards.filter((r) => r.kind === 'gift');
    setOptions(this.input('gift', 'gift'), gifts.map((r) => ({value: r.id, label: r.name || r.id})), {placeholder: 'No gift reward (points only)'});
    setOptions(this.input('gift', 'wallet'), this.pointTypes.filter((p) => p.giftable).map((p) => ({value: p.id, label: p.name || p.id})),
      {placeholder: 'No points'});
    setOptions(this.input('bounty', 'wallet'), this.pointTypes.filter((p) => p.bountiable).map((p) => ({value: p.id, label: p.name || p.id})));
    setOptions(this.input('bounty', 'bounty'), this.bounties.map((b) => ({value: b.bountyId,
      label: `${b.bountyId} · ${(b.points || []).map((p) => `${p.points} ${p.pointId}`).join(', ')}${b.reason ? ` · ${b.reason}` : ''}`})),
    {placeholder: this.bounties.length ? undefined : 'No open bounties'});
    this.renderCouponOptions();
    this.renderBountyFields();
  }

  renderVerbInfo() {
    const verb = this.input('behaviour', 'verb').value;
    const flexible = this.behaviours.filter((b) => b.kind === 'flexible' && b.verb === verb);
    const simple = this.behaviours.find((b) => (b.kind || 'simple') === 'simple' && b.verb === verb);
    const keep = {};
    this.conditionFields.querySelectorAll('input[data-key]').forEach((i) => { keep[i.dataset.key] = i.value; });
    replace(this.verbInfo);
    replace(this.conditionFields);
    if (simple && simple.prizes && simple.prizes.points && simple.prizes.points.length) {
      this.verbInfo.append(h('p', {class: 'muted'}, `Awards ${simple.prizes.points.map((p) => `${p.points} ${p.pointId}`).join(', ')}`));
    }
    if (!flexible.length) {
      if (verb) this.verbInfo.append(h('p', {class: 'muted'}, 'No flexible behaviours depend on this one.'));
      return;
    }
    const keys = new Map();
    this.verbInfo.append(h('p', {class: 'strong'}, 'Flexible behaviours that depend on it:'),
      h('ul', {class: 'dependents'}, flexible.map((b) => {
        const leaves = conditionLeaves(b.conditions);
        leaves.forEach((l) => { if (!keys.has(l.key)) keys.set(l.key, l); });
        return h('li', {}, h('span', {class: 'strong'}, b.name || b.id), ' ',
          h('span', {class: 'muted'}, leaves.map((l) => `${l.key} ${l.op} ${JSON.stringify(l.value)}`).join(' · ')));
      })));
    for (const [key, leaf] of keys) {
      const input = h('input', {type: 'text', class: 'input', autocomplete: 'off', spellcheck: 'false', dataset: {key, op: leaf.op,
        kind: typeof (Array.isArray(leaf.value) ? leaf.value[0] : leaf.value)}, value: keep[key] || ''});
      this.conditionFields.append(field(key, input, {hint: `Metadata “${key}” (condition: ${leaf.op} ${JSON.stringify(leaf.value)}). Comma separate a list.`}).wrap);
    }
  }

  renderWalletOptions() {
    const action = this.input('point', 'action').value;
    let types = this.pointTypes;
    if (action === 'redeem' || action === 'refund') types = types.filter((p) => p.redeemable);
    if (action === 'set') types = types.filter((p) => !p.expirable);
    setOptions(this.input('point', 'wallet'), types.map((p) => ({value: p.id, label: p.name && p.name !== p.id ? `${p.name} (${p.id})` : p.id})),
      {placeholder: types.length ? undefined : 'No suitable point types'});
  }

  renderCouponOptions() {
    const action = this.input('coupon', 'action').value;
    const sel = this.input('coupon', 'coupon');
    const names = new Map(this.siteCoupons.map((c) => [c.id, c.name || c.id]));
    const heldOption = (c) => ({value: c.couponId, label: `${names.get(c.couponId) || c.couponId} · ${c.code || ''} · ${c.status}`,
      data: {userCouponId: c.userCouponId || ''}});
    let options = [];
    if (action === 'buy') {
      options = this.siteCoupons.filter((c) => c.price && c.active !== false)
        .map((c) => ({value: c.id, label: `${c.name || c.id} · ${c.price.points} ${c.price.pointId}`}));
    } else if (action === 'redeem') {
      const held = this.heldCoupons.filter((c) => c.status === 'available').map(heldOption);
      const oneStep = this.siteCoupons.filter((c) => c.price && c.redemption === 'oneStep' && c.active !== false)
        .map((c) => ({value: c.id, label: `${c.name || c.id} · buy and redeem for ${c.price.points} ${c.price.pointId}`}));
      if (held.length) options.push({group: 'Held by this user', options: held});
      if (oneStep.length) options.push({group: 'Buy and redeem at once', options: oneStep});
    } else {
      options = this.heldCoupons.filter((c) => c.status !== 'refunded' && c.status !== 'expired').map(heldOption);
    }
    const count = options.reduce((n, o) => n + (o.group ? o.options.length : 1), 0);
    setOptions(sel, options, {placeholder: count ? undefined : (action === 'buy' ? 'No priced coupons on this site' : 'This user holds no suitable coupons')});
  }

  renderBountyFields() {
    const action = this.input('bounty', 'action').value;
    const show = {wallet: action === 'start', points: action === 'start', bounty: action !== 'start', awardTo: action === 'award'};
    for (const [key, visible] of Object.entries(show)) this.fields[`bounty.${key}`].wrap.hidden = !visible;
  }

  /* ---------------- submit ---------------- */
  clearErrors() {
    Object.values(this.fields).forEach((f) => f.setError(''));
  }

  /** The request body for the current tab, or null (field errors shown). */
  buildBody() {
    this.clearErrors();
    const type = this.type;
    const me = this.page.uuid;
    const bad = (key, message) => {
      this.fields[`${type}.${key}`].setError(message);
      this.fields[`${type}.${key}`].input.focus();
      return null;
    };
    const body = {uuid: me, attrs: {type}};
    const reason = this.reason.value.trim();
    if (reason) body.reason = reason;
    const a = body.attrs;
    if (type === 'behaviour') {
      a.verb = this.input('behaviour', 'verb').value;
      if (!a.verb) return bad('verb', 'Choose a behaviour.');
      let metadata = {};
      const text = this.metadata.value.trim();
      if (text) {
        try {
          metadata = JSON.parse(text);
        } catch (e) {
          return bad('metadata', `Not valid JSON: ${e.message}`);
        }
        if (!metadata || typeof metadata !== 'object' || Array.isArray(metadata)) return bad('metadata', 'Metadata must be a JSON object.');
      }
      this.conditionFields.querySelectorAll('input[data-key]').forEach((input) => {
        const raw = input.value.trim();
        if (!raw) return;
        const parts = raw.split(',').map((s) => s.trim()).filter(Boolean);
        const conv = (s) => (input.dataset.kind === 'number' && s !== '' && !Number.isNaN(Number(s)) ? Number(s) : s);
        metadata[input.dataset.key] = parts.length > 1 ? parts.map(conv) : conv(parts[0]);
      });
      if (Object.keys(metadata).length) a.metadata = metadata;
    } else if (type === 'point') {
      a.action = this.input('point', 'action').value;
      const pointId = this.input('point', 'wallet').value;
      if (!pointId) return bad('wallet', 'Choose a wallet.');
      const n = positiveInt(this.input('point', 'points').value);
      if (Number.isNaN(n) || this.input('point', 'points').value === '') return bad('points', 'Enter a whole number of points.');
      a.points = [{pointId, points: n}];
    } else if (type === 'coupon') {
      a.action = this.input('coupon', 'action').value;
      const sel = this.input('coupon', 'coupon');
      if (!sel.value) return bad('coupon', 'Choose a coupon.');
      a.couponId = sel.value;
      const opt = sel.selectedOptions[0];
      if (a.action !== 'buy' && opt && opt.dataset.userCouponId) a.userCouponId = opt.dataset.userCouponId;
    } else if (type === 'gift') {
      const from = this.input('gift', 'from').value.trim();
      if (!from) return bad('from', 'Enter the sender’s UUID.');
      if (from === me) return bad('from', 'A user cannot send a gift to themselves.');
      body.uuid = from;
      a.targetUuid = me;
      const rewardId = this.input('gift', 'gift').value;
      if (rewardId) a.rewardId = rewardId;
      const pointId = this.input('gift', 'wallet').value;
      const raw = this.input('gift', 'points').value;
      if (pointId || raw) {
        if (!pointId) return bad('wallet', 'Choose a wallet for the points.');
        const n = positiveInt(raw);
        if (Number.isNaN(n) || raw === '') return bad('points', 'Enter a whole number of points.');
        a.points = [{pointId, points: n}];
      }
      if (!a.rewardId && !a.points) return bad('gift', 'Choose a gift, points, or both.');
    } else if (type === 'bounty') {
      a.action = this.input('bounty', 'action').value;
      if (a.action === 'start') {
        const pointId = this.input('bounty', 'wallet').value;
        if (!pointId) return bad('wallet', 'Choose a wallet.');
        const raw = this.input('bounty', 'points').value;
        const n = positiveInt(raw);
        if (Number.isNaN(n) || raw === '') return bad('points', 'Enter a whole number of points.');
        a.points = [{pointId, points: n}];
      } else {
        const bountyId = this.input('bounty', 'bounty').value;
        if (!bountyId) return bad('bounty', 'Choose an open bounty.');
        a.bountyId = bountyId;
        if (a.action === 'award') {
          const to = this.input('bounty', 'awardTo').value.trim();
          if (!to) return bad('awardTo', 'Enter the UUID of the user who gets the bounty.');
          a.targetUuid = to;
        }
      }
    }
    return body;
  }

  resetForm() {
    const type = this.type;
    for (const [key, fl] of Object.entries(this.fields)) {
      if (!key.startsWith(`${type}.`)) continue;
      const input = fl.input;
      if (input.tagName === 'SELECT') {
        const def = [...input.options].find((o) => o.defaultSelected);
        input.value = def ? def.value : (input.options[0] ? input.options[0].value : '');
      } else {
        input.value = '';
      }
    }
    if (type === 'behaviour') this.conditionFields.querySelectorAll('input').forEach((i) => { i.value = ''; });
    this.reason.value = '';
    if (type === 'coupon') this.renderCouponOptions();
    if (type === 'point') this.renderWalletOptions();
    if (type === 'bounty') this.renderBountyFields();
  }

  async submit() {
    if (this.posting) return;
    replace(this.status); // the last attempt's outcome is not this one's (defect 8)
    const body = this.buildBody();
    if (!body) return;
    const type = this.type;
    const site = this.page.site;
    const key = newIdempotencyKey();
    const url = path('sites', site, 'activities');
    const uuid = this.page.uuid;
    const reqId = requestLog.add({label: 'REQ', type, status: 'pending', uuid,
      payload: {method: 'POST', url, headers: {'Idempotency-Key': key}, body}});
    this.posting = true;
    this.submitBtn.disabled = true;
    replace(this.status, h('p', {class: 'muted small'}, `Submitting ${type}…`));
    let res;
    try {
      res = await request('POST', url, {body, headers: {'Idempotency-Key': key}, raw: true});
    } catch (e) {
      requestLog.update(reqId, {status: 'failed'});
      requestLog.add({label: 'ERR', type, status: 'failed', uuid, message: e.display,
        payload: {status: e.status, body: e.body}});
      replace(this.status, errorBox(e));
      this.showFieldErrors(e);
      return;
    } finally {
      this.posting = false;
      this.submitBtn.disabled = false;
    }
    const id = res.data && res.data.id;
    requestLog.update(reqId, {status: 'success', activityId: id});
    requestLog.add({label: 'RES', type, status: 'success', uuid, activityId: id, message: `${res.status} ${res.data && res.data.status || ''}`.trim(),
      payload: {status: res.status, location: res.headers.get('Location'), body: res.data}});
    if (!this.createAnother.checked) this.resetForm();
    replace(this.status, h('p', {class: 'small'}, `Accepted: activity `, h('code', {}, id || '?'), ' is queued…'));
    if (!id) return;
    const pollId = requestLog.add({label: 'POLL', type, status: 'pending', uuid, activityId: id, message: 'QUEUED', payload: res.data});
    try {
      const {activity, timedOut, abandoned} = await pollActivity(site, id, {
        onPoll: (a, n) => requestLog.update(pollId, {message: `${a.status} (poll ${n})`, payload: a}),
      });
      if (abandoned) return;
      if (timedOut) {
        requestLog.update(pollId, {status: 'failed'});
        const msg = `Still ${activity ? activity.status : 'unknown'} after 30 s; check the Activity tab later.`;
        requestLog.add({label: 'ERR', type, status: 'failed', uuid, activityId: id, message: msg, payload: activity});
        this.setStatus(id, msg, true);
      } else if (activity.status === 'SUCCEEDED') {
        requestLog.update(pollId, {status: 'success'});
        this.setStatus(id, `SUCCEEDED · ${this.outcome(activity)}`, false);
        announce(`${type} activity succeeded`);
      } else {
        requestLog.update(pollId, {status: 'failed'});
        const err = activity.error || {type: activity.status, message: ''};
        const msg = `${err.type}: ${err.message || ''}`;
        requestLog.add({label: 'ERR', type, status: 'failed', uuid, activityId: id, message: msg, payload: activity.error || activity});
        this.setStatus(id, msg, true);
        announce(`${type} activity failed: ${msg}`, {tone: 'bad'});
      }
    } catch (e) {
      requestLog.update(pollId, {status: 'failed'});
      requestLog.add({label: 'ERR', type, status: 'failed', uuid, activityId: id, message: e.display || e.message, payload: e.body || null});
      this.setStatus(id, e.display || e.message, true);
    }
    if (this.page.alive) {
      this.page.refresh();
      this.loadOptions();
    }
  }

  /** What a SUCCEEDED activity did, by name and from the page's user's viewpoint: "+10 Experience
   *  · by Watch a video · completed Binge watcher", and what was held back ("held back: Daily login: LimitReached, ..."). */
  outcome(activity) {
    const result = activity.result;
    if (!result) return 'nothing awarded';
    if (result.blocked) return 'the user is blocked: recorded, nothing awarded';
    const name = (list, id) => ((list || []).find((m) => m.id === id) || {}).name || id;
    const awarded = result.awarded || {};
    const parts = [];
    const names = {points: new Map(this.pointTypes.map((p) => [p.id, p.name || p.id]))};
    const points = pointsMoved(activity, this.page.uuid, names);
    if (points) parts.push(points);
    if ((awarded.behaviours || []).length) parts.push(`by ${awarded.behaviours.map((b) => name(this.behaviours, b)).join(', ')}`);
    if ((awarded.rewards || []).length) parts.push(`completed ${awarded.rewards.map((r) => name(this.rewards, r)).join(', ')}`);
    if ((awarded.coupons || []).length) parts.push(`${awarded.coupons.length} coupon${awarded.coupons.length > 1 ? 's' : ''}`);
    if (!parts.length) parts.push('nothing awarded');
    for (const e of result.exceptions || []) {
      const what = e.behaviourId ? name(this.behaviours, e.behaviourId) : (e.rewardId ? name(this.rewards, e.rewardId) : e.verb || '');
      parts.push(`held back: ${what ? `${what}: ` : ''}${e.type} (${e.message})`);
    }
    return parts.join(' · ');
  }

  setStatus(id, message, failed) {
    replace(this.status, h('div', {class: `alert ${failed ? 'alert-error' : 'alert-ok'}`, role: failed ? 'alert' : 'status'},
      h('span', {}, 'Activity ', h('code', {}, id), ': ', message)));
  }

  showFieldErrors(e) {
    const map = {points: 'points', couponId: 'coupon', verb: 'verb', metadata: 'metadata', targetUuid: this.type === 'gift' ? null : 'awardTo',
      bountyId: 'bounty', rewardId: 'gift', uuid: this.type === 'gift' ? 'from' : null};
    for (const d of e.details || []) {
      const seg = String(d.field || '').split('.');
      const key = seg.map((s) => map[s]).find(Boolean);
      const fl = key && this.fields[`${this.type}.${key}`];
      if (fl) fl.setError(d.message);
    }
  }
}
