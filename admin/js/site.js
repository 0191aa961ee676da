// Per-site data the views share: the site (time zone) and its mechanics, cached per session.
import {api, path, fetchAll} from './api.js';
import {session} from './state.js';

const mechanics = new Map();

/** GET /sites/{site}, cached. */
export async function getSite(site) {
  if (session.siteInfo.has(site)) return session.siteInfo.get(site);
  const info = await api.get(path('sites', site));
  session.siteInfo.set(site, info);
  return info;
}

/** What the pages need to say mechanics by name: names by id of a site's point types, rewards
 *  and coupons, behaviour names by verb, and each leaderboard (for its score's unit). */
export async function mechanicNames(site) {
  const list = (kind) => getMechanics(site, kind).catch(() => []);
  const byId = (items) => new Map(items.map((m) => [m.id, m.name || m.id]));
  const [points, rewards, coupons, behaviours, boards] = await Promise.all(
    ['point-types', 'rewards', 'coupons', 'behaviours', 'leaderboards'].map(list));
  const verbs = new Map(behaviours.filter((b) => b.kind === 'simple').map((b) => [b.verb, b.name || b.verb]));
  return {points: byId(points), rewards: byId(rewards), coupons: byId(coupons), verbs,
    boards: new Map(boards.map((b) => [b.id, b]))};
}

/** A site's mechanic list (point-types, behaviours, rewards, coupons, ...), cached for 60 s. */
export async function getMechanics(site, kind, {fresh = false} = {}) {
  const key = `${site}|${kind}`;
  const hit = mechanics.get(key);
  if (hit && !fresh && Date.now() - hit.at < 60000) return hit.promise;
  const promise = fetchAll(path('sites', site, kind));
  mechanics.set(key, {at: Date.now(), promise});
  promise.catch(() => mechanics.delete(key));
  return promise;
}
