// Paged lists whose page is part of the address (console.md: list state survives a reload):
// `?page=N&cursor=…`, the cursor being the API's for the first item of page N. The cursors of the
// pages seen are kept for the browser session, so Previous works after a reload too.

/** Page state from a route's query: {page, cursor} (page 1 has no cursor). */
export function pageFrom(query) {
  const page = Math.max(1, Number.parseInt(query.page, 10) || 1);
  const cursor = page > 1 ? query.cursor || '' : '';
  return cursor ? {page, cursor} : {page: 1, cursor: ''};
}

/** The query parameters of a page (none for page 1). */
export function pageQuery(page, cursor) {
  return page > 1 && cursor ? {page, cursor} : {};
}

/** The cursors of one list (one route and one set of filters), by page number. */
export class CursorPages {
  constructor(list) {
    this.key = `gami.pages.${list}`;
  }

  all() {
    try { return JSON.parse(sessionStorage.getItem(this.key) || '{}'); } catch { return {}; }
  }

  /** The cursor that starts `page`, '' for page 1 or a page this session never reached. */
  cursorOf(page) {
    return page > 1 ? this.all()[page] || '' : '';
  }

  /** What a page's answer said comes next. */
  remember(page, nextCursor) {
    if (!nextCursor) return;
    const saved = this.all();
    saved[page + 1] = nextCursor;
    try { sessionStorage.setItem(this.key, JSON.stringify(saved)); } catch { /* storage full: Previous starts over */ }
  }

  /** The query of the page `delta` away from `page` (page 1 when its cursor is unknown). */
  step(page, delta) {
    const target = Math.max(1, page + delta);
    return pageQuery(target, this.cursorOf(target));
  }
}
