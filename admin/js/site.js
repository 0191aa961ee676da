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

/** Names by id of a site's point types, rewards and coupons (ids stay where one is unknown). */
export async function mechanicNames(site) {
  const byId = (p) => p.then((items) => new Map(items.map((m) => [m.id, m.name || m.id]))).catch(() => new Map());
  const [points, rewards, coupons] = await Promise.all(
    [byId(getMechanics(site, 'point-types')), byId(getMechanics(site, 'rewards')), byId(getMechanics(site, 'coupons'))]);
  return {points, rewards, coupons};
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
