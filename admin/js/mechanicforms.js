// Each mechanics kind's form: every field of api.md's shape for it, in the words of console.md.
// The widgets are formfields.js's; `when(values)` shows a field (and sends it) only when the
// fields without a `when` (a kind, a code type, a flag) have those values.
const ID = {key: 'id', label: 'ID', type: 'id', hint: '1 to 64 lowercase letters, digits, “_” or “-”; it cannot change.'};
const NAME = {key: 'name', label: 'Name', type: 'text'};
const MESSAGE = {key: 'message', label: 'Message', type: 'textarea', hint: 'Shown to the user when they earn it.'};
const HINT = {key: 'hint', label: 'Hint', type: 'textarea', hint: 'Tells users how to earn it.'};
const HIDDEN = {key: 'hidden', label: 'Hidden', type: 'bool', hint: 'Not shown to users until they have it.'};
const PERIODS = [['day', 'Day'], ['week', 'Week'], ['month', 'Month']];

const NO_POINT_TYPES = 'There are no point types on this site yet: create one first.';
const pointRows = (key, label, item) => ({key, label, type: 'rows', item, fields: [
  {key: 'pointId', label: 'Point type', type: 'select', source: 'point-types', none: NO_POINT_TYPES},
  {key: 'points', label: 'Points', type: 'int'},
]});

// A KPI's `tracks` and a leaderboard's `ranksBy` alike: {points: pointId}.
const BY_POINTS = {value: 'points', label: 'Points earned',
  field: {key: 'points', label: 'Point type', type: 'select', source: 'point-types', none: NO_POINT_TYPES}};

const behaviourPrizes = [
  pointRows('points', 'Point prizes', 'prize'),
  {key: 'addTags', label: 'Add tags', type: 'tags', hint: 'Comma separated; given to the user.'},
  {key: 'removeTags', label: 'Remove tags', type: 'tags', hint: 'Comma separated; taken from the user.'},
];

const is = (key, ...values) => (v) => values.includes(v[key]);

export const FORMS = {
  'point-types': {
    singular: 'point type',
    fields: [
      ID, NAME,
      {key: 'redeemable', label: 'Redeemable', type: 'bool', hint: 'Users can spend these points (coupons, redeem).'},
      {key: 'giftable', label: 'Giftable', type: 'bool', hint: 'Users can give these points to each other.'},
      {key: 'bountiable', label: 'Bountiable', type: 'bool', hint: 'Bounties can be offered in these points.'},
      {key: 'expirable', label: 'Expirable', type: 'bool', hint: 'Earned points expire after a number of days.'},
      {key: 'expiresAfterDays', label: 'Expires after days', type: 'int', when: is('expirable', true)},
      {key: 'negativeable', label: 'Negativeable', type: 'bool', hint: 'A balance may go below zero.'},
      {key: 'stopAtZero', label: 'Stop at zero', type: 'bool', hint: 'A deduction larger than the balance stops at zero.'},
    ],
  },

  behaviours: {
    singular: 'behaviour',
    fields: [
      {key: 'kind', label: 'Kind', type: 'select', options: [['simple', 'Simple'], ['flexible', 'Flexible']],
        hint: 'A flexible behaviour extends a simple one: it pays when the activity’s metadata meets its conditions.'},
      ID, NAME,
      {key: 'verb', label: 'Verb', type: 'text', when: is('kind', 'simple'),
        hint: 'What the integrator sends as the activity’s verb (lowercase letters, digits, “_”).'},
      {key: 'verb', label: 'Extends', type: 'select', source: 'simple-verbs', when: is('kind', 'flexible'),
        none: 'There is no simple behaviour to extend yet: create one first.'},
      {key: 'conditions', label: 'Conditions', type: 'conditions', when: is('kind', 'flexible'), default: {and: [{}]},
        hint: 'Each Key is a field of the activity’s metadata.'},
      {key: 'prizes', label: 'Prizes', type: 'group', fields: behaviourPrizes},
      {key: 'limits', label: 'Limits', type: 'group', hint: 'Empty fields: no limit.', fields: [
        {key: 'overall', label: 'Overall limit', type: 'int'},
        {key: 'coolOffSeconds', label: 'Cool-off seconds', type: 'int', default: 0},
        {key: 'periodic', type: 'group', requires: 'period', fields: [
          {key: 'period', label: 'Period', type: 'select', blank: 'No limit per period', options: PERIODS},
          {key: 'max', label: 'Max per period', type: 'int'},
        ]},
      ]},
      MESSAGE, HINT, HIDDEN,
    ],
  },

  rewards: {
    singular: 'reward',
    fields: [
      {key: 'kind', label: 'Kind', type: 'select',
        options: [['achievement', 'Achievement'], ['level', 'Level'], ['mission', 'Mission'], ['gift', 'Gift']]},
      ID, NAME,
      {key: 'criteria', label: 'Criteria', type: 'rows', item: 'criterion', when: is('kind', 'achievement'),
        hint: 'Earned when the user has done every verb so many times.', newRow: () => ({times: 1}), default: [{times: 1}],
        fields: [
          {key: 'verb', label: 'Verb', type: 'select', source: 'simple-verbs', none: 'There are no behaviours yet: create one first.'},
          {key: 'times', label: 'Times', type: 'int'},
        ]},
      {...pointRows('criteria', 'Criteria', 'criterion'), when: is('kind', 'level'), default: [{}],
        hint: 'Reached when the user’s balance of every point type is at least this.'},
      {key: 'ladder', label: 'Ladder', type: 'text', when: is('kind', 'level'),
        hint: 'Levels on one ladder replace each other (Bronze, Silver, Gold).'},
      {key: 'canDemote', label: 'Can demote', type: 'bool', when: is('kind', 'level'),
        hint: 'A user whose points fall below this level goes back down the ladder.'},
      {key: 'criteria', label: 'Criteria', type: 'rows', item: 'criterion', when: is('kind', 'mission'), default: [{}],
        hint: 'Completed when the user has every one of these rewards.',
        fields: [{key: 'rewardId', label: 'Reward', type: 'select', source: 'rewards', none: 'There are no other rewards yet.'}]},
      {key: 'ordered', label: 'Ordered', type: 'bool', when: is('kind', 'mission'), hint: 'The rewards must be earned in this order.'},
      {key: 'expiresAfterDays', label: 'Expires after days', type: 'int', when: is('kind', 'achievement'),
        hint: 'Empty: it never expires.'},
      {key: 'repeat', label: 'Repeat', type: 'choice', when: is('kind', 'achievement'), variants: [
        {value: 'never', label: 'Earned once', fixed: null},
        {value: 'every', label: 'Once per period', field: {key: 'period', label: 'Repeat period', type: 'select', options: PERIODS}},
        {value: 'upTo', label: 'Up to a number of times', field: {key: 'maxTimes', label: 'Max times', type: 'int'}},
      ]},
      {key: 'prizes', label: 'Prizes', type: 'group', fields: [...behaviourPrizes,
        {key: 'coupons', label: 'Coupons', type: 'checks', source: 'coupons', none: 'There are no coupons on this site.'}]},
      {key: 'tags', label: 'Tags', type: 'tags', hint: 'Comma separated: only users with one of these tags can earn it; empty for everyone.'},
      {key: 'availableFrom', label: 'Available from', type: 'date'},
      {key: 'availableTo', label: 'Available to', type: 'date'},
      MESSAGE, HINT, HIDDEN,
    ],
  },

  kpis: {
    singular: 'KPI',
    fields: [
      ID, NAME,
      {key: 'tracks', label: 'Tracks', type: 'choice', variants: [
        BY_POINTS,
        {value: 'behaviour', label: 'A behaviour', field: {key: 'behaviour', label: 'Behaviour', type: 'select', source: 'behaviours'}},
        {value: 'rewardKind', label: 'Rewards of a kind', field: {key: 'rewardKind', label: 'Reward kind', type: 'select',
          options: [['achievement', 'Achievements'], ['level', 'Levels'], ['mission', 'Missions'], ['gift', 'Gifts']]}},
        {value: 'reward', label: 'One reward', field: {key: 'reward', label: 'Reward', type: 'select', source: 'rewards'}},
      ]},
      {key: 'targets', label: 'Targets', type: 'rows', item: 'target',
        hint: 'What a user should reach per period while the target is valid; targets for the same users must not overlap.',
        fields: [
          {key: 'validFrom', label: 'Valid from', type: 'date'},
          {key: 'validTo', label: 'Valid to', type: 'date'},
          {key: 'assignTo', label: 'Assign to', type: 'choice', wide: true, variants: [
            {value: 'everyone', label: 'Everyone', fixed: {everyone: true}},
            {value: 'users', label: 'Some users', field: {key: 'users', label: 'Users', type: 'tags', hint: 'Comma separated UUIDs.'}},
            {value: 'tags', label: 'Users with tags', field: {key: 'tags', label: 'User tags', type: 'tags', hint: 'Comma separated.'}},
          ]},
          {key: 'values', type: 'group', wide: true, fields: ['daily', 'weekly', 'monthly', 'quarterly', 'yearly'].map((p) =>
            ({key: p, label: p.charAt(0).toUpperCase() + p.slice(1), type: 'int'}))},
        ]},
    ],
  },

  coupons: {
    singular: 'coupon',
    fields: [
      ID, NAME,
      {key: 'description', label: 'Description', type: 'textarea', wide: true},
      {key: 'codeType', label: 'Code type', type: 'select', options: [['single', 'One shared code'], ['multiple', 'A pool of codes']]},
      {key: 'code', label: 'Code', type: 'text', when: is('codeType', 'single'), hint: 'Every user gets this code.'},
      {key: 'codes', label: 'Codes', type: 'lines', when: is('codeType', 'multiple'), hint: 'One per line; each is handed out once.'},
      {key: 'price', label: 'Price', type: 'group', requires: 'pointId', fields: [
        {key: 'pointId', label: 'Point type', type: 'select', source: 'redeemable-point-types', blank: 'Free (given as a prize only)'},
        {key: 'points', label: 'Points', type: 'int'},
      ]},
      {key: 'redemption', label: 'Redemption', type: 'select',
        options: [['oneStep', 'One step (redeemed when bought)'], ['twoStep', 'Two steps (bought, then redeemed)']]},
      {key: 'expiresOn', label: 'Expires on', type: 'date', hint: 'A fixed date; or give Expires after days (not both).'},
      {key: 'expiresAfterDays', label: 'Expires after days', type: 'int', hint: 'Counted from when a user gets it.'},
      {key: 'active', label: 'Active', type: 'bool', default: true, hint: 'Users can buy it.'},
      {key: 'limitedSeries', label: 'Limited series', type: 'int', hint: 'How many can be handed out in all; empty: no limit.'},
      {key: 'perUserLimit', label: 'Per-user limit', type: 'int', hint: 'Empty: no limit.'},
    ],
  },

  leaderboards: {
    singular: 'leaderboard',
    fields: [
      ID, NAME,
      {key: 'ranksBy', label: 'Ranks by', type: 'choice', variants: [
        BY_POINTS,
        {value: 'behaviour', label: 'Times a verb was done', field: {key: 'behaviour', label: 'Verb', type: 'select', source: 'simple-verbs'}},
      ]},
      {key: 'periods', label: 'Periods', type: 'checks', default: ['weekly', 'allTime'],
        options: [['daily', 'Daily'], ['weekly', 'Weekly'], ['monthly', 'Monthly'], ['allTime', 'All time']]},
      {key: 'tags', label: 'Tags', type: 'tags', hint: 'Comma separated: only users with one of these tags are ranked; empty for everyone.'},
      {key: 'includeInactive', label: 'Include inactive', type: 'bool', hint: 'Members with a score of zero are listed too.'},
    ],
  },
};

/** The select options a form draws from the site's other mechanics (ctx.options in formfields.js). */
export function mechanicOptions(lists, selfId) {
  const named = (items) => items.map((m) => [m.id, m.name && m.name !== m.id ? `${m.name} (${m.id})` : m.id]);
  const simple = lists.behaviours.filter((b) => b.kind === 'simple');
  const sources = {
    'point-types': named(lists['point-types']),
    'redeemable-point-types': named(lists['point-types'].filter((p) => p.redeemable)),
    behaviours: named(lists.behaviours),
    'simple-verbs': simple.map((b) => [b.verb, b.name && b.name !== b.verb ? `${b.name} (${b.verb})` : b.verb]),
    rewards: named(lists.rewards.filter((r) => r.id !== selfId)),
    coupons: named(lists.coupons),
  };
  return (source) => sources[source];
}
