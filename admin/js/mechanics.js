// A site's mechanics, one section per kind (point types, behaviours, rewards, KPIs, coupons,
// leaderboards): every item of the kind in a table, by name, with the fields that matter for it.
import {h, replace} from './dom.js';
import {getMechanics, mechanicNames} from './site.js';
import {formatDate, num, periodText, plural, pointsList} from './format.js';
import {dataTable, empty, errorBox, loading, pageHead, pill, tableScroller} from './ui.js';
import {SECTIONS, mechanicHash, standingsHash, usersHash} from './routes.js';
import {can} from './state.js';
import {FORMS} from './mechanicforms.js';

const yes = (flag, label) => (flag ? pill(label, 'info') : null);

/** What a behaviour's limits allow, in words ("5 in all · 1 per day · 60 s apart"). */
function limitsText(limits) {
  if (!limits) return '';
  const parts = [];
  if (limits.overall) parts.push(`${num(limits.overall)} in all`);
  if (limits.periodic) parts.push(`${num(limits.periodic.max)} per ${periodText(limits.periodic.period)}`);
  if (limits.coolOffSeconds) parts.push(`${num(limits.coolOffSeconds)} s apart`);
  return parts.join(' · ');
}

function criteriaText(reward, names) {
  const list = reward.criteria || [];
  if (reward.kind === 'achievement') return list.map((c) => `${c.verb}: ${c.times === 1 ? 'once' : plural(c.times, 'time')}`).join(', ');
  if (reward.kind === 'level') return `${list.map((c) => `${num(c.points)} ${names.points.get(c.pointId) || c.pointId}`).join(', ')} · ladder ${reward.ladder}`;
  if (reward.kind === 'mission') {
    const steps = list.map((c) => names.rewards.get(c.rewardId) || c.rewardId).join(reward.ordered ? ' → ' : ', ');
    return reward.ordered ? `in order: ${steps}` : steps;
  }
  return 'given by one user to another';
}

function tracksText(tracks, names) {
  if (!tracks) return '';
  if (tracks.points) return `points: ${names.points.get(tracks.points) || tracks.points}`;
  if (tracks.behaviour) return `behaviour: ${tracks.behaviour}`;
  if (tracks.reward) return `reward: ${names.rewards.get(tracks.reward) || tracks.reward}`;
  if (tracks.rewardKind) return `every ${tracks.rewardKind}`;
  return '';
}

/** The columns of each kind's table after Name and ID: [header, cell(item, names, site)]. */
const COLUMNS = {
  'point-types': [
    ['Flags', (p) => h('span', {class: 'pill-row'}, yes(p.redeemable, 'Redeemable'), yes(p.giftable, 'Giftable'),
      yes(p.bountiable, 'Bountiable'), yes(p.negativeable, 'Negativeable'), yes(p.stopAtZero, 'Stop at zero'))],
    ['Expiry', (p) => (p.expirable ? `after ${plural(p.expiresAfterDays, 'day')}` : 'never')],
  ],
  behaviours: [
    ['Kind', (b) => (b.kind === 'flexible' ? 'Flexible' : 'Simple')],
    ['Verb', (b) => h('span', {class: 'mono'}, b.verb)],
    ['Prizes', (b, names) => pointsList(b.prizes && b.prizes.points, {names}) || '—'],
    ['Limits', (b) => limitsText(b.limits) || '—'],
  ],
  rewards: [
    ['Kind', (r) => r.kind.charAt(0).toUpperCase() + r.kind.slice(1)],
    ['Criteria', (r, names) => criteriaText(r, names)],
    ['Prizes', (r, names) => pointsList(r.prizes && r.prizes.points, {names}) || '—'],
  ],
  kpis: [
    ['Tracks', (k, names) => tracksText(k.tracks, names)],
    ['Targets', (k) => (k.targets && k.targets.length ? `${k.targets.length} (${k.targets.map((t) => `${formatDate(t.validFrom)} – ${formatDate(t.validTo)}`).join('; ')})` : 'none')],
  ],
  coupons: [
    ['Price', (c, names) => (c.price ? pointsList([c.price], {signed: false, names}) : 'free')],
    ['Codes', (c) => (c.codeType === 'single' ? 'one shared code' : plural((c.codes || []).length, 'code'))],
    ['Redemption', (c) => (c.redemption === 'twoStep' ? 'two steps' : 'one step')],
    ['Active', (c) => (c.active ? pill('Active', 'ok') : pill('Inactive', 'muted'))],
  ],
  leaderboards: [
    ['Ranks by', (l, names) => (l.ranksBy && l.ranksBy.points ? `points: ${names.points.get(l.ranksBy.points) || l.ranksBy.points}`
      : `behaviour: ${l.ranksBy && l.ranksBy.behaviour}`)],
    ['Periods', (l) => (l.periods || []).map(periodText).join(', ')],
    ['Standings', (l, names, site) => h('a', {href: standingsHash(site, l.id), 'aria-label': `Standings of ${l.name}`}, 'Standings')],
  ],
};

/** What to create first on a site that has none of a kind (console.md: an empty site leads on). */
const FIRST = {
  'point-types': 'Point types are what users earn and spend; every other mechanic refers to them, so they come first.',
  behaviours: 'Behaviours turn an activity (a verb) into points; create a point type first.',
  rewards: 'Rewards (achievements, levels, missions, gifts) are earned from behaviours and points.',
  kpis: 'KPIs track points, a behaviour or rewards against targets per period.',
  coupons: 'Coupons are bought with a redeemable point type, or given as a reward’s prize.',
  leaderboards: 'Leaderboards rank users by a point type or a behaviour, per period.',
};

export class MechanicsView {
  constructor(route) {
    this.site = route.site;
    this.kind = route.kind;
    this.section = SECTIONS.find((s) => s.id === route.section);
    const titleId = `mechanics-title-${this.kind}`;
    const form = FORMS[this.kind];
    this.editable = can('admin');
    const create = this.editable ? h('a', {class: 'btn btn-primary', href: mechanicHash(this.site, this.section.id, null)},
      `Create ${form.singular}`) : null;
    const head = pageHead({crumbs: [{label: `Site ${this.site}`, href: usersHash(this.site)}, {label: this.section.label}],
      title: this.section.label, titleId, subtitle: `Site ${this.site}`, actions: [create]});
    this.errorSlot = h('div', {class: 'status-slot'});
    this.tableWrap = tableScroller(loading(`Loading ${this.section.label.toLowerCase()}…`));
    this.el = h('section', {class: 'page', 'aria-labelledby': titleId}, head.el, this.errorSlot, this.tableWrap);
  }

  mount() {
    this.load();
  }

  async load() {
    try {
      const [items, names] = await Promise.all([getMechanics(this.site, this.kind, {fresh: true}), mechanicNames(this.site)]);
      if (!items.length) {
        replace(this.tableWrap, empty(`No ${this.section.label.toLowerCase()} on this site yet. ${FIRST[this.kind]}`));
        return;
      }
      const open = (m) => mechanicHash(this.site, this.section.id, m.id);
      const columns = [['Name', (m) => h('a', {class: 'strong', href: open(m), title: m.id}, m.name || m.id)],
        ['ID', (m) => h('span', {class: 'mono'}, m.id)], ...COLUMNS[this.kind],
        [h('span', {class: 'sr-only'}, 'Actions'), (m) => h('a', {class: 'btn btn-small', href: open(m),
          'aria-label': `${this.editable ? 'Edit' : 'View'} ${m.name || m.id}`}, this.editable ? 'Edit' : 'View')]];
      replace(this.tableWrap, dataTable({caption: this.section.label, columns, items,
        cell: (column, item) => column[1](item, names, this.site)}));
      performance.mark(`gami:mechanics:${this.kind}`); // for bench/console.py: the list on screen
    } catch (e) {
      replace(this.tableWrap);
      replace(this.errorSlot, errorBox(e, {retry: () => { replace(this.errorSlot); this.load(); }}));
    }
  }
}
