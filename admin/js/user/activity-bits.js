// Activity rendering helpers, polling and the "Reject activity" dialog.
import {h, replace, field} from '../dom.js';
import {api, path} from '../api.js';
import {createDialog, errorBox, announce} from '../ui.js';
import {pointsList} from '../format.js';

const NO_NAMES = {points: new Map(), rewards: new Map(), coupons: new Map()};

/** A user coupon's coupon name: its id ends with `-{couponId}`. */
function couponName(userCouponId, names) {
  for (const [id, name] of names.coupons) if (String(userCouponId).endsWith(`-${id}`)) return name;
  return userCouponId;
}

/** One line saying what an activity was, from the viewpoint of the user `me`; mechanics by
 *  name (`names`: mechanicNames(site)), ids only where a name is unknown. */
export function activitySummary(a, me, names = NO_NAMES) {
  const at = a.attrs || {};
  const pts = pointsList(at.points, {signed: false, names});
  switch (a.type || at.type) {
    case 'behaviour': {
      const meta = at.metadata && Object.keys(at.metadata).length
        ? ` {${Object.entries(at.metadata).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join('|') : v}`).join(', ')}}` : '';
      return `${at.verb || 'behaviour'}${meta}`;
    }
    case 'point':
      return `${at.action || 'point'} ${pts}`.trim();
    case 'coupon':
      return `${at.action || 'coupon'} ${names.coupons.get(at.couponId) || at.couponId || ''}`.trim();
    case 'gift': {
      const target = a.targetUuid || at.targetUuid;
      const what = [names.rewards.get(at.rewardId) || at.rewardId, pts].filter(Boolean).join(' + ') || 'gift';
      if (me && target === me && a.uuid !== me) return `${what} from ${a.uuid}`;
      return `${what} to ${target}`;
    }
    case 'bounty': {
      const bits = [at.action || 'bounty'];
      if (pts) bits.push(pts);
      const target = a.targetUuid || at.targetUuid;
      if (at.action === 'award' && target) bits.push(me && target === me && a.uuid !== me ? `from ${a.uuid}` : `to ${target}`);
      return bits.join(' ');
    }
    default:
      return a.type || '';
  }
}

/** The points an activity moved, from the viewpoint of the user `me`: "+10 Coins"; a gift's or a
 *  bounty award's points went to its target, so its sender reads "7 Coins to bob" and the
 *  target "+7 Coins from alice". */
export function pointsMoved(a, me, names = NO_NAMES) {
  const list = (a.result && a.result.awarded && a.result.awarded.points) || [];
  if (!list.length) return '';
  const target = a.targetUuid || (a.attrs || {}).targetUuid;
  if (!target || target === a.uuid) return pointsList(list, {names});
  return me === target ? `${pointsList(list, {names})} from ${a.uuid}` : `${pointsList(list, {signed: false, names})} to ${target}`;
}

/** What an activity did: awarded points and rewards, exceptions, the error of a FAILED one. */
export function activityResult(a, names = NO_NAMES, me = null) {
  const out = [];
  if (a.status === 'FAILED' && a.error) {
    out.push(h('div', {class: 'text-bad small'}, h('span', {class: 'strong'}, a.error.type), `: ${a.error.message || ''}`));
  }
  const r = a.result || {};
  const aw = r.awarded || {};
  if (r.blocked) out.push(h('div', {class: 'small text-warn'}, 'Blocked user: nothing awarded'));
  if (aw.points && aw.points.length) out.push(h('div', {class: 'small'}, pointsMoved(a, me, names)));
  const rewards = (aw.rewards || []).map((x) => (typeof x === 'string' ? names.rewards.get(x) || x : x.name || x.rewardId || x.id));
  if (rewards.length) out.push(h('div', {class: 'small'}, h('span', {class: 'muted'}, 'Rewards: '), rewards.join(', ')));
  const coupons = (aw.coupons || []).map((x) => (typeof x === 'string' ? couponName(x, names) : x.couponId || x.code || x.id));
  if (coupons.length) out.push(h('div', {class: 'small'}, h('span', {class: 'muted'}, 'Coupons: '), coupons.join(', ')));
  for (const ex of r.exceptions || []) {
    out.push(h('div', {class: 'small text-warn'}, `${ex.type}${ex.verb ? ` (${ex.verb})` : ''}${ex.message ? `: ${ex.message}` : ''}`));
  }
  if (a.rejection && a.rejection.refused && !a.rejection.pending) {
    // The reversal was refused while processing: the activity stands and may be rejected again.
    out.push(h('div', {class: 'small text-warn'}, `Reject refused (${a.rejection.refused.type}): ${a.rejection.refused.message || ''}`));
  } else if (a.rejection) {
    out.push(h('div', {class: 'small muted'}, `Rejected${a.rejection.pending && a.status !== 'REJECTED' ? ' (pending)' : ''}: ${a.rejection.reason || ''}`));
  }
  return out.length ? out : h('span', {class: 'muted'}, '—');
}

const FINAL = new Set(['SUCCEEDED', 'FAILED', 'REJECTED']);

/**
 * Poll GET /sites/{site}/activities/{id} until `done(activity)` (default: a final status),
 * starting at 250 ms and backing off to 2 s, for up to ~30 s. onPoll(activity, attempt) sees each answer.
 * Resolves with the last activity and {timedOut}.
 */
export async function pollActivity(site, id, {done = (a) => FINAL.has(a.status), onPoll, timeoutMs = 30000, isAlive = () => true} = {}) {
  const started = Date.now();
  let delay = 250;
  let attempt = 0;
  let last = null;
  for (;;) {
    await new Promise((r) => setTimeout(r, delay));
    if (!isAlive()) return {activity: last, timedOut: false, abandoned: true};
    attempt += 1;
    last = await api.get(path('sites', site, 'activities', id));
    if (onPoll) onPoll(last, attempt);
    if (done(last)) return {activity: last, timedOut: false};
    if (Date.now() - started > timeoutMs) return {activity: last, timedOut: true};
    delay = Math.min(2000, Math.round(delay * 1.5));
  }
}

/** The "Reject activity" dialog: POST .../reject, 409s shown in the dialog; then follow the reversal. */
export function openRejectDialog(page, activity, opener) {
  const dlg = createDialog({title: 'Reject activity', className: 'reject-dialog'});
  const reason = h('textarea', {class: 'input', rows: '3', name: 'reason', required: true, maxlength: '500'});
  const reasonField = field('Reason', reason, {hint: 'Shown in the activity log; the reversal undoes every effect.'});
  const errorSlot = h('div', {class: 'status-slot'});
  const submit = h('button', {type: 'submit', class: 'btn btn-danger'}, 'Reject');
  const form = h('form', {class: 'form', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    replace(errorSlot);
    if (!reason.value.trim()) {
      reasonField.setError('Give a reason.');
      reason.focus();
      return;
    }
    reasonField.setError('');
    submit.disabled = true;
    try {
      await api.post(path('sites', page.site, 'activities', activity.id, 'reject'), {reason: reason.value.trim()});
      dlg.close();
      announce('Reject requested: reversing the activity…');
      page.refresh();
      pollActivity(page.site, activity.id, {done: (a) => a.status === 'REJECTED' || (a.rejection && !a.rejection.pending),
        isAlive: () => page.alive})
        .then(({activity: a, abandoned}) => {
          if (abandoned) return;
          const refused = a && a.rejection && !a.rejection.pending && a.rejection.refused;
          if (refused) announce(`Reject refused: ${refused.message}`, {tone: 'bad'});
          else announce(a && a.status === 'REJECTED' ? 'Activity rejected' : 'The reject is still pending');
          page.refresh();
        })
        .catch((err) => announce(`Reject: ${err.display || err.message}`, {tone: 'bad'}));
    } catch (err) {
      replace(errorSlot, errorBox(err));
    } finally {
      submit.disabled = false;
    }
  }},
  h('dl', {class: 'kv small'}, h('dt', {}, 'Activity'), h('dd', {class: 'mono'}, activity.id),
    h('dt', {}, 'What'), h('dd', {}, activitySummary(activity, page.uuid)),
    h('dt', {}, 'Status'), h('dd', {}, activity.status)),
  reasonField.wrap, errorSlot,
  h('div', {class: 'dialog-actions'}, h('button', {type: 'button', class: 'btn', onclick: () => dlg.close()}, 'Cancel'), submit));
  dlg.body.append(form);
  dlg.show(reason);
  void opener;
}
