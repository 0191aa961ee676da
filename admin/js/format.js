// Formatting: times in the site's time zone (with the zone named), numbers, dates.
const formatters = new Map();

function formatter(timeZone, withSeconds = false) {
  const key = `${timeZone}|${withSeconds}`;
  if (!formatters.has(key)) {
    let tz = timeZone || 'UTC';
    try {
      new Intl.DateTimeFormat('en-GB', {timeZone: tz});
    } catch {
      tz = 'UTC';
    }
    formatters.set(key, new Intl.DateTimeFormat('en-GB', {
      timeZone: tz, year: 'numeric', month: 'short', day: '2-digit',
      hour: '2-digit', minute: '2-digit', second: withSeconds ? '2-digit' : undefined, hourCycle: 'h23',
    }));
  }
  return formatters.get(key);
}

/** "29 Nov 2026, 14:03" in the site's zone; '' for empty input. */
export function formatTime(iso, timeZone, {seconds = false} = {}) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return formatter(timeZone, seconds).format(d);
}

/** A <time> element showing the site-zone time, the UTC instant in its title/datetime. */
export function timeEl(iso, timeZone) {
  const el = document.createElement('time');
  if (!iso) {
    el.textContent = '—';
    return el;
  }
  el.dateTime = iso;
  el.title = `${iso} (UTC)`;
  el.textContent = formatTime(iso, timeZone);
  return el;
}

/** Bare calendar dates (KPI periods, expiresOn) are already site-local: show as-is, prettily. */
export function formatDate(date) {
  if (!date) return '';
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) return String(date);
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  return `${m[3]} ${months[Number(m[2]) - 1]} ${m[1]}`;
}

/** Local clock time for the request log. */
export function clockTime(date = new Date()) {
  return date.toLocaleTimeString([], {hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23'});
}

const nf = new Intl.NumberFormat('en-GB');
export function num(n) {
  if (n === null || n === undefined || n === '') return '—';
  return typeof n === 'number' ? nf.format(n) : String(n);
}

/** "1 point", "2 points": a count with its noun in the right number. */
export function plural(n, one, many = `${one}s`) {
  return `${num(n)} ${n === 1 ? one : many}`;
}

/** Leaderboard and KPI periods, and a behaviour limit's period, in words. */
const PERIOD_WORDS = {daily: 'Daily', weekly: 'Weekly', monthly: 'Monthly', quarterly: 'Quarterly', yearly: 'Yearly',
  allTime: 'All time', day: 'day', week: 'week', month: 'month'};
export const periodText = (period) => PERIOD_WORDS[period] || period || '';

/** What moved a user's points (a ledger entry's kind), in words. */
const LEDGER_WORDS = {
  credit: 'Earned', increment: 'Added', set: 'Set', redeem: 'Redeemed', refund: 'Refunded',
  gift_in: 'Gift received', gift_out: 'Gift sent', bounty_escrow: 'Held for a bounty', bounty_refund: 'Bounty refunded',
  bounty_payout: 'Bounty paid', coupon_buy: 'Coupon bought', coupon_refund: 'Coupon refunded', expiry: 'Expired',
  reversal: 'Reversed (activity rejected)',
};
export const ledgerKindText = (kind) => LEDGER_WORDS[kind] || kind || '';

/** A leaderboard score with its unit: "120 Experience" (ranks by points), "4 times" (by a verb). */
export function scoreText(score, board, names) {
  const by = board && board.ranksBy;
  if (by && by.points) return `${num(score)} ${(names && names.points.get(by.points)) || by.points}`;
  if (by && by.behaviour) return plural(score ?? 0, 'time');
  return num(score);
}

/** "+10 xp, +5 coins" from [{pointId, points}]. */
export function pointsList(list, {signed = true, names = null} = {}) {
  if (!Array.isArray(list) || !list.length) return '';
  const name = (id) => (names && names.points.get(id)) || id;
  return list.map((p) => `${signed && p.points > 0 ? '+' : ''}${num(p.points)} ${name(p.pointId)}`).join(', ');
}

export function fullName(user) {
  if (!user) return '';
  return [user.firstName, user.lastName].filter(Boolean).join(' ');
}

export function displayNameOf(user) {
  if (!user) return '';
  return user.displayName || fullName(user) || user.uuid;
}

/** Today's date (YYYY-MM-DD) in a zone. */
export function todayIn(timeZone) {
  try {
    return new Intl.DateTimeFormat('en-CA', {timeZone, year: 'numeric', month: '2-digit', day: '2-digit'}).format(new Date());
  } catch {
    return new Date().toISOString().slice(0, 10);
  }
}
