"""The per-container mechanics cache: a version check before a reload (issue 19).

A warm container keeps the mechanics it read for CACHE_SECONDS; then it reads only the site
item's `mechanicsVersion` (eventually consistent, a few bytes) and reloads everything only when
the version moved, so thousands of warm containers do not put thousands of strongly
consistent reads a second on the site's partition.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.builders import COINS, STARS, XP
from tests.conftest import Api


def test_a_warm_container_checks_the_version_and_reloads_only_when_it_moved(
        api: Api, site: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.store import db, mechanics

    for body in (COINS, XP):
        api.ok("POST", f"/sites/{site}/point-types", body)
    clock = [1000.0]
    monkeypatch.setattr(mechanics.time, "monotonic", lambda: clock[0])
    calls: list[tuple[str, bool]] = []
    real_get, real_query = db.get, db.query_all

    def get(*args: Any, **kwargs: Any) -> Any:
        calls.append(("GetItem", bool(kwargs.get("consistent", True))))
        return real_get(*args, **kwargs)

    def query_all(*args: Any, **kwargs: Any) -> Any:
        calls.append(("Query", True))
        return real_query(*args, **kwargs)

    monkeypatch.setattr(db, "get", get)
    monkeypatch.setattr(db, "query_all", query_all)
    mechanics.forget(site)

    first = mechanics.load(site)
    assert calls == [("Query", True)] and set(first.mechanics.point_types) == {"coins", "xp"}
    calls.clear()
    clock[0] += mechanics.CACHE_SECONDS / 2
    assert mechanics.load(site) is first and calls == [], "within the period: no request"
    clock[0] += mechanics.CACHE_SECONDS
    assert mechanics.load(site) is first
    assert calls == [("GetItem", False)], "after it: one eventually consistent read of the version"

    # Another container adds a point type. (This process's write forgets its own cache at once;
    # put back what a container that did not make the change still holds.)
    held = mechanics._cache[site]
    api.ok("POST", f"/sites/{site}/point-types", STARS)
    mechanics._cache[site] = held
    calls.clear()
    clock[0] += mechanics.CACHE_SECONDS / 2
    assert mechanics.load(site) is first and calls == [], "not seen before the period ends"
    clock[0] += mechanics.CACHE_SECONDS
    changed = mechanics.load(site)
    assert calls == [("GetItem", False), ("Query", True)], "the version moved: one reload"
    assert set(changed.mechanics.point_types) == {"coins", "xp", "stars"} and changed.version == first.version + 1
    calls.clear()
    assert mechanics.load(site, fresh=True) is not changed and calls == [("Query", True)], "a job reads fresh"
