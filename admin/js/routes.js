// Hash routes (console.md "Deep links"): #/sites/{site}/users, #/sites/{site}/users/{uuid}/{tab},
// #/sites/{site}/{section} for every other section, #/sites/{site}/leaderboards/{id}/standings.
export const TABS = [
  {id: 'overview', label: 'Overview'},
  {id: 'activity', label: 'Activity'},
  {id: 'points', label: 'Points'},
  {id: 'rewards', label: 'Rewards'},
  {id: 'kpis', label: 'KPIs'},
  {id: 'coupons', label: 'Coupons'},
  {id: 'leaderboards', label: 'Leaderboards'},
  {id: 'settings', label: 'Settings'},
];

/** The sections of the `Main` navigation, in its order. `kind`: the API's mechanics path;
 *  `role`: the least role the section is offered to (the API decides the rest). */
export const SECTIONS = [
  {id: 'users', label: 'Users'},
  {id: 'point-types', label: 'Point types', kind: 'point-types'},
  {id: 'behaviours', label: 'Behaviours', kind: 'behaviours'},
  {id: 'rewards', label: 'Rewards', kind: 'rewards'},
  {id: 'kpis', label: 'KPIs', kind: 'kpis'},
  {id: 'coupons', label: 'Coupons', kind: 'coupons'},
  {id: 'leaderboards', label: 'Leaderboards', kind: 'leaderboards'},
  {id: 'api-keys', label: 'API keys', role: 'admin'},
  {id: 'settings', label: 'Site settings'},
];

function hashWithQuery(base, query) {
  const entries = query ? Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== '') : [];
  const qs = new URLSearchParams(entries).toString();
  return `${base}${qs ? `?${qs}` : ''}`;
}

export function parseHash(hash = location.hash) {
  const raw = hash.replace(/^#/, '');
  const q = raw.indexOf('?');
  const pathPart = q >= 0 ? raw.slice(0, q) : raw;
  const queryPart = q >= 0 ? raw.slice(q + 1) : '';
  const parts = pathPart.split('/').filter(Boolean).map((p) => {
    try { return decodeURIComponent(p); } catch { return p; }
  });
  const query = Object.fromEntries(new URLSearchParams(queryPart));
  if (parts[0] !== 'sites' || !parts[1]) return {name: 'home', query};
  const site = parts[1];
  if (parts[2] === 'users') {
    if (parts.length === 3) return {name: 'users', section: 'users', site, query};
    const tab = TABS.some((t) => t.id === parts[4]) ? parts[4] : 'overview';
    return {name: 'user', section: 'users', site, uuid: parts[3], tab, query,
      canonical: parts.length !== 5 || tab !== parts[4]};
  }
  if (parts[2] === 'leaderboards' && parts[3] && parts[4] === 'standings' && parts.length === 5) {
    return {name: 'standings', section: 'leaderboards', site, id: parts[3], query};
  }
  const section = SECTIONS.find((s) => s.id === parts[2]);
  if (section && parts.length === 3) {
    return {name: section.kind ? 'mechanics' : section.id, section: section.id, kind: section.kind, site, query};
  }
  if (section && section.kind && parts.length === 4) {
    // #/sites/{site}/{section}/new and #/sites/{site}/{section}/{id}: one mechanic
    return {name: 'mechanic', section: section.id, kind: section.kind, site, id: parts[3] === 'new' ? null : parts[3], query};
  }
  return {name: 'users', section: 'users', site, query, canonical: true};
}

/** The canonical hash of a parsed route (what parseHash gives back unchanged). */
export function routeHash(r) {
  if (r.name === 'user') return userHash(r.site, r.uuid, r.tab);
  if (r.name === 'standings') return standingsHash(r.site, r.id, r.query);
  if (r.name === 'mechanic') return mechanicHash(r.site, r.section, r.id);
  return sectionHash(r.site, r.section || 'users', r.query);
}

export function sectionHash(site, section, query) {
  return hashWithQuery(`#/sites/${encodeURIComponent(site)}/${section}`, query);
}

export function usersHash(site, query) {
  return sectionHash(site, 'users', query);
}

export function userHash(site, uuid, tab = 'overview', query = null) {
  return hashWithQuery(`#/sites/${encodeURIComponent(site)}/users/${encodeURIComponent(uuid)}/${tab}`, query);
}

export function standingsHash(site, board, query) {
  return hashWithQuery(`#/sites/${encodeURIComponent(site)}/leaderboards/${encodeURIComponent(board)}/standings`, query);
}

/** One mechanic's page; `id` null for the form that creates one. */
export function mechanicHash(site, section, id) {
  return `#/sites/${encodeURIComponent(site)}/${section}/${id === null ? 'new' : encodeURIComponent(id)}`;
}
