"""User profiles: one item per user at the head of the user's partition, indexed for lists."""

from __future__ import annotations

from typing import Any

from chalicelib.store import db
from chalicelib.store.keys import PROFILE_SK, user_pk, users_index_pk, users_index_pks

# Index per sort column of the user table; the sort key ends with the uuid so equal values
# keep a stable order and every key is unique.
SORT_INDEX = {"uuid": "GSI1", "displayName": "GSI2", "email": "GSI3", "createdAt": "GSI4"}
_SEP = "\x01"

PROFILE_FIELDS = ("uuid", "firstName", "lastName", "displayName", "email", "pictureUrl", "tags",
                  "member", "blocked", "createdAt")


def search_text(user: dict[str, Any]) -> str:
    """Lower-cased words of every searchable field; `contains` on it finds any word start."""
    parts = [user.get(f) or "" for f in ("uuid", "email", "firstName", "lastName", "displayName")]
    return " " + " ".join(p.lower() for p in parts if p)


def index_attributes(site: str, user: dict[str, Any]) -> dict[str, Any]:
    uuid = user["uuid"]
    pk = users_index_pk(site, uuid)
    return {
        "GSI1PK": pk, "GSI1SK": uuid,
        "GSI2PK": pk, "GSI2SK": f"{(user.get('displayName') or '').lower()}{_SEP}{uuid}",
        "GSI3PK": pk, "GSI3SK": f"{(user.get('email') or '').lower()}{_SEP}{uuid}",
        "GSI4PK": pk, "GSI4SK": f"{user['createdAt']}{_SEP}{uuid}",
        "search": search_text(user),
    }


def get_user(site: str, uuid: str) -> dict[str, Any] | None:
    return db.get(user_pk(site, uuid), PROFILE_SK)


def create_user(site: str, user: dict[str, Any]) -> bool:
    row = {**user, "PK": user_pk(site, user["uuid"]), "SK": PROFILE_SK, "version": 1,
           **index_attributes(site, user)}
    try:
        db.put(row, condition="attribute_not_exists(PK)")
    except db.ConditionFailed:
        return False
    return True


class ConcurrentUpdate(Exception):
    """The profile changed between our read and our write; the caller re-reads."""


def update_user(site: str, current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Apply `changes` to the profile read as `current`, refusing to overwrite a newer write.

    The derived attributes (search text, index keys) depend on several fields, so the write
    is conditional on the version that was read rather than a blind SET.
    """
    merged = {**current, **changes}
    attrs = {**changes, **index_attributes(site, merged)}
    names = {f"#a{i}": k for i, k in enumerate(attrs)}
    values: dict[str, Any] = {f":a{i}": v for i, v in enumerate(attrs.values())}
    values[":v"] = current.get("version", 1)
    values[":one"] = 1
    expr = "SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(attrs))) + ", version = version + :one"
    try:
        item = db.update(user_pk(site, current["uuid"]), PROFILE_SK, expr, values=values, names=names,
                         condition="version = :v")
    except db.ConditionFailed as err:
        raise ConcurrentUpdate() from err
    assert item is not None
    return item


def set_blocked(site: str, uuid: str, blocked: bool, now: str, by: str) -> dict[str, Any] | None:
    """Block or unblock touches only the flag and its audit fields, never the profile."""
    try:
        return db.update(
            user_pk(site, uuid), PROFILE_SK,
            "SET blocked = :b, blockChangedAt = :now, blockChangedBy = :by, version = version + :one",
            values={":b": blocked, ":now": now, ":by": by, ":one": 1},
            condition="attribute_exists(PK)",
        )
    except db.ConditionFailed:
        return None


def list_users(
    site: str, *, sort: str, descending: bool, q: str | None, blocked: bool | None, tag: str | None,
    limit: int, cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page over the index of the sort column, merged from its shards (one Query each, 17
    with the partition before the shards); filters narrow that page.

    A filtered page can hold fewer than `limit` items (even none) while `nextCursor` says
    more may follow: the price of answering every page with one Query per shard.
    """
    index = SORT_INDEX[sort]
    filters: list[str] = []
    values: dict[str, Any] = {}
    names: dict[str, str] = {}
    if q:
        filters.append("contains(#search, :q)")
        names["#search"] = "search"
        values[":q"] = q.lower()
    if blocked is not None:
        filters.append("#blocked = :blocked")
        names["#blocked"] = "blocked"
        values[":blocked"] = blocked
    if tag:
        filters.append("contains(#tags, :tag)")
        names["#tags"] = "tags"
        values[":tag"] = tag
    return db.query_merged_page(
        partitions=users_index_pks(site), index=index, values=values, names=names or None,
        filter_expression=" AND ".join(filters) or None, limit=limit, cursor=cursor, forward=not descending,
        scope="users",
    )


def put_settings(site: str, uuid: str, settings_body: dict[str, Any], member: bool) -> dict[str, Any] | None:
    try:
        return db.update(
            user_pk(site, uuid), PROFILE_SK,
            "SET settings = :s, #member = :m, version = version + :one",
            values={":s": settings_body, ":m": member, ":one": 1},
            names={"#member": "member"},
            condition="attribute_exists(PK)",
        )
    except db.ConditionFailed:
        return None
