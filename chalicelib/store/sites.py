"""Sites, with a short in-memory cache: every request needs its site (time zone, existence)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from chalicelib.store import db
from chalicelib.store.keys import SITE_SK, SITES_INDEX_PK, site_pk

_CACHE_SECONDS = 30.0
_cache: dict[str, tuple[float, dict[str, Any]]] = {}


def get_site(site: str) -> dict[str, Any] | None:
    hit = _cache.get(site)
    now = time.monotonic()
    if hit and now - hit[0] < _CACHE_SECONDS:
        return hit[1]
    item = db.get(site_pk(site), SITE_SK)
    if item is not None:
        _cache[site] = (now, item)
    return item


def forget(site: str) -> None:
    _cache.pop(site, None)


def create_site(item: dict[str, Any]) -> bool:
    row = {**item, "PK": site_pk(item["id"]), "SK": SITE_SK, "GSI1PK": SITES_INDEX_PK, "GSI1SK": item["id"]}
    try:
        db.put(row, condition="attribute_not_exists(PK)")
    except db.ConditionFailed:
        return False
    forget(item["id"])
    return True


def update_site(site: str, changes: dict[str, Any]) -> dict[str, Any]:
    names = {f"#{k}": k for k in changes}
    values = {f":{k}": v for k, v in changes.items()}
    expr = "SET " + ", ".join(f"#{k} = :{k}" for k in changes)
    item = db.update(site_pk(site), SITE_SK, expr, values=values, names=names, condition="attribute_exists(PK)")
    forget(site)
    assert item is not None
    return item


def list_sites(limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    return db.query_page(
        index="GSI1", key_condition="GSI1PK = :pk", values={":pk": SITES_INDEX_PK}, limit=limit, cursor=cursor,
        scope="sites",
    )


def all_site_ids() -> Iterator[str]:
    """Every site id, paged internally (jobs, tools): never through a client's cursor."""
    start: dict[str, Any] | None = None
    while True:
        items, start = db.query_window(index="GSI1", key_condition="GSI1PK = :pk",
                                       values={":pk": SITES_INDEX_PK}, limit=100, start_key=start)
        for item in items:
            yield str(item["id"])
        if start is None:
            return
