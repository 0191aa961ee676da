// Hash routes: #/sites/{site}/users and #/sites/{site}/users/{uuid}/{tab}.
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

export function parseHash(hash = location.hash) {
  const raw = hash.replace(/^#/, '');
  const q = raw.indexOf('?');
  const pathPart = q >= 0 ? raw.slice(0, q) : raw;
  const queryPart = q >= 0 ? raw.slice(q + 1) : '';
  const parts = pathPart.split('/').filter(Boolean).map((p) => {
    try { return decodeURIComponent(p); } catch { return p; }
  });
  const query = Object.fromEntries(new URLSearchParams(queryPart));
  if (parts[0] === 'sites' && parts[1] && parts[2] === 'users') {
    if (parts.length === 3) return {name: 'users', site: parts[1], query};
    const tab = TABS.some((t) => t.id === parts[4]) ? parts[4] : 'overview';
    return {name: 'user', site: parts[1], uuid: parts[3], tab, query, canonical: parts.length !== 5 || tab !== parts[4]};
  }
  if (parts[0] === 'sites' && parts[1]) return {name: 'users', site: parts[1], query, canonical: true};
  return {name: 'home', query};
}

export function usersHash(site, query) {
  const entries = query ? Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== '') : [];
  const qs = new URLSearchParams(entries).toString();
  return `#/sites/${encodeURIComponent(site)}/users${qs ? `?${qs}` : ''}`;
}

export function userHash(site, uuid, tab = 'overview') {
  return `#/sites/${encodeURIComponent(site)}/users/${encodeURIComponent(uuid)}/${tab}`;
}
