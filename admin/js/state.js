// Session state. The token lives in sessionStorage only (never localStorage, never cookies).
const TOKEN_KEY = 'gami.token';

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY) || '';
  },
  set token(value) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  },
  /** From GET /whoami: 'viewer' | 'editor' | 'admin' | 'operator' | null (unknown). */
  role: null,
  /** The one site a site-scoped key grants (null for an operator). */
  keySite: null,
  /** Sites from GET /sites, or null when the key may not list them. */
  sites: null,
  /** GET /sites/{site} answers, by id. */
  siteInfo: new Map(),
};

const ORDER = {viewer: 0, editor: 1, admin: 2, operator: 3};

/** Whether the token's role allows a kind of action. Unknown role: offer it, the API decides. */
export function can(action) {
  const role = session.role;
  if (!role || !(role in ORDER)) return true;
  const need = {write: 'editor', admin: 'admin'}[action] || 'admin';
  return ORDER[role] >= ORDER[need];
}

export function signOut() {
  session.token = '';
  session.role = null;
  session.keySite = null;
  session.sites = null;
  session.siteInfo.clear();
}
