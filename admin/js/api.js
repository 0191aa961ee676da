// HTTP client for the gamification API. The base URL comes from config.js.
import {session} from './state.js';

export class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || `HTTP ${status}`);
    this.status = status;
    this.type = err.type || (status === 0 ? 'NetworkError' : `HTTP${status}`);
    this.details = Array.isArray(err.details) ? err.details : [];
    this.body = body;
  }
  /** "Type: message" as shown to the user. */
  get display() {
    return `${this.type}: ${this.message}`;
  }
}

export function apiBase() {
  const cfg = window.GAMI_CONFIG || {};
  return String(cfg.apiBase || '').replace(/\/+$/, '');
}

/** Build a path from segments, percent-encoding each one: path('sites', site, 'users', uuid). */
export function path(...segments) {
  return '/' + segments.map((s) => encodeURIComponent(String(s))).join('/');
}

function queryString(query) {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '') continue;
    if (Array.isArray(value)) value.forEach((v) => params.append(key, v));
    else params.append(key, value);
  }
  const s = params.toString();
  return s ? `?${s}` : '';
}

const listeners = new Set();
/** Subscribe to 401s (the session is over). */
export function onUnauthorized(fn) {
  listeners.add(fn);
}

/**
 * request('GET', path, {query, body, headers, token, signal}) -> parsed JSON (or null).
 * Throws ApiError with the API's error type/message/details on any non-2xx answer.
 */
export async function request(method, p, {query, body, headers = {}, token, signal, raw = false} = {}) {
  const url = apiBase() + p + queryString(query);
  const init = {method, headers: {Accept: 'application/json', ...headers}, signal};
  const bearer = token ?? session.token;
  if (bearer) init.headers.Authorization = `Bearer ${bearer}`;
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(url, init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, {error: {type: 'NetworkError', message: `Could not reach the API (${e.message})`}});
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = {error: {type: `HTTP${res.status}`, message: text.slice(0, 300)}};
    }
  }
  if (!res.ok) {
    const error = new ApiError(res.status, data);
    if (res.status === 401 && token === undefined) listeners.forEach((fn) => fn(error));
    throw error;
  }
  if (raw) return {status: res.status, headers: res.headers, data};
  return data;
}

export const api = {
  get: (p, opts) => request('GET', p, opts),
  post: (p, body, opts = {}) => request('POST', p, {...opts, body}),
  put: (p, body, opts = {}) => request('PUT', p, {...opts, body}),
  patch: (p, body, opts = {}) => request('PATCH', p, {...opts, body}),
  delete: (p, opts) => request('DELETE', p, opts),
};

/** Items of a list answer, whatever its wrapping ({items} or a bare array). */
export function itemsOf(data) {
  if (Array.isArray(data)) return data;
  if (data && Array.isArray(data.items)) return data.items;
  return [];
}

/** Fetch every page of a (small) list, e.g. a site's mechanics. */
export async function fetchAll(p, {query = {}, maxPages = 20} = {}) {
  const out = [];
  let cursor = null;
  for (let i = 0; i < maxPages; i += 1) {
    const data = await api.get(p, {query: {...query, limit: 100, cursor}});
    out.push(...itemsOf(data));
    cursor = data && data.nextCursor;
    if (!cursor) break;
  }
  return out;
}

/** A random idempotency key, one per submission. */
export function newIdempotencyKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * One page of `limit` items from a filtered list. A filtered DynamoDB-backed list may answer a
 * short (even empty) page with a nextCursor; keep following it (bounded) until the page is full.
 * fetchPage(limit, cursor) -> {items, nextCursor, ...}.
 */
export async function fillPage(fetchPage, limit, cursor, maxRequests = 10) {
  const items = [];
  let next = cursor || null;
  let data = null;
  for (let i = 0; i < maxRequests; i += 1) {
    data = await fetchPage(limit - items.length, next);
    items.push(...itemsOf(data));
    next = (data && data.nextCursor) || null;
    if (!next || items.length >= limit) break;
  }
  return {...(data || {}), items, nextCursor: next};
}
