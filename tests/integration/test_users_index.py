"""The users index spread over 16 shards (keys.USERS_SHARDS) plus the partition profiles were
indexed under before: every sort order, direction and filter pages through all of them in
order, each user once, against a brute-force listing of the same profiles; the jobs' uuid
segments read them the same way."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from chalicelib.store import db, jobs, users
from chalicelib.store.keys import USERS_SHARDS, legacy_users_index_pk, user_pk, users_index_pk
from tests.conftest import Api

_SORT_VALUE = {"uuid": lambda u: u["uuid"], "displayName": lambda u: u["displayName"].lower(),
               "email": lambda u: u["email"].lower(), "createdAt": lambda u: u["createdAt"]}


@pytest.fixture
def people(api: Api, site: str) -> list[dict[str, Any]]:
    made = []
    names = ["Zoe", "adam", "Émile", "bea", "Carl", "dora", "Ed", "fay"]
    for n in range(45):
        body = {"uuid": f"u{n:03d}", "displayName": f"{names[n % len(names)]} {n % 7}",
                "email": f"{(n * 17) % 45:02d}@example.com", "tags": ["even"] if n % 2 == 0 else []}
        made.append(api.ok("POST", f"/sites/{site}/users", body))
    # One profile indexed under the partition before the shards (written by the code before them).
    legacy = {"uuid": "legacy", "displayName": "Mid 3", "email": "22b@example.com", "tags": ["even"],
              "createdAt": made[20]["createdAt"], "member": True, "blocked": False}
    row = {**legacy, "PK": user_pk(site, "legacy"), "SK": "S#PROFILE", "version": 1,
           **users.index_attributes(site, legacy)}
    row.update({f"GSI{i}PK": legacy_users_index_pk(site) for i in range(1, 5)})
    db.put(row)
    return [*made, legacy]


def test_the_profiles_are_spread_over_the_shards(people: list[dict[str, Any]], site: str) -> None:
    shards = {users_index_pk(site, p["uuid"]) for p in people if p["uuid"] != "legacy"}
    assert len(shards) > USERS_SHARDS // 2


@pytest.mark.parametrize(("sort", "order", "query"), [
    *itertools.product(["uuid", "displayName", "email", "createdAt"], ["asc", "desc"], [""]),
    ("uuid", "asc", "&tag=even"), ("displayName", "desc", "&tag=even"), ("email", "asc", "&q=dora"),
])
def test_every_order_pages_through_every_shard_once(api: Api, site: str, people: list[dict[str, Any]],
                                                    sort: str, order: str, query: str) -> None:
    wanted = [p for p in people if ("tag=even" not in query or "even" in p["tags"])
              and ("q=dora" not in query or "dora" in p["displayName"].lower())]
    wanted.sort(key=lambda p: (_SORT_VALUE[sort](p), p["uuid"]), reverse=order == "desc")
    seen: list[str] = []
    cursor = None
    for _ in range(60):
        page = api.ok("GET", f"/sites/{site}/users?sort={sort}&order={order}&limit=7{query}"
                             + (f"&cursor={cursor}" if cursor else ""))
        assert len(page["items"]) <= 7
        seen += [u["uuid"] for u in page["items"]]
        cursor = page.get("nextCursor")
        if not cursor:
            break
    assert seen == [p["uuid"] for p in wanted]


def test_a_cursor_only_opens_for_its_own_listing(api: Api, site: str, people: list[dict[str, Any]]) -> None:
    page = api.ok("GET", f"/sites/{site}/users?sort=email&limit=5")
    status, data, _ = api.get(f"/sites/{site}/users?sort=uuid&limit=5&cursor={page['nextCursor']}")
    assert status == 400 and data["error"]["type"] == "ValidationError"


def test_job_segments_read_every_shard_in_uuid_order(site: str, people: list[dict[str, Any]]) -> None:
    got: list[str] = []
    last = None
    while True:
        items, more = jobs.users_page(site, "u010", "u039~", after=last, limit=4)
        got += [i["uuid"] for i in items]
        if not items or not more:
            break
        last = got[-1]
    assert got == [f"u{n:03d}" for n in range(10, 40)]
    assert jobs.users_page(site, "a", "z", after="u044", limit=10)[0] == []


def test_the_cursor_stays_small_with_the_longest_keys(api: Api, site: str) -> None:
    """The position is one sort key and the shards read to their end, whatever the shard count:
    with 128-character uuids and 300-character emails it stays far under the 4,096 a cursor may be."""
    for n in range(20):
        uuid = f"{n:02d}" + "x" * 126
        api.ok("POST", f"/sites/{site}/users", {"uuid": uuid, "email": f"{n:02d}{'e' * 290}@example.com"})
    seen, cursor = [], None
    while True:
        page = api.ok("GET", f"/sites/{site}/users?sort=email&order=desc&limit=3" + (f"&cursor={cursor}" if cursor else ""))
        seen += [u["uuid"][:2] for u in page["items"]]
        cursor = page.get("nextCursor")
        if not cursor:
            break
        assert len(cursor) < 1000
    assert seen == [f"{n:02d}" for n in reversed(range(20))]
