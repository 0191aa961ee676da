"""The read side of the user details page: one or two requests per tab, never a Scan.

Every function here is exactly one DynamoDB request (BatchGetItem retries only what
DynamoDB itself left unprocessed, which happens under throttling). Reads of the base table
are strongly consistent: the console opens a tab right after polling an activity to
SUCCEEDED and must see what that activity wrote.

Key ranges used (sort keys of a user's partition sort as `A# < B# < E# < L# < P# < S#`):
- activities: `A#{ulid}` newest first; an id's first 10 characters are its acceptance time,
  so a `from`/`to` window is a key range, not a filter.
- ledger: `L#{ulid}` newest first.
- buckets: `B#{period}:{start}`; the keys of one granularity sort by date, so "the current
  week and the four before" or "the last N days" is one `BETWEEN`.
- the state item `S#STATE` (wallets and the current periods' measures) is read with the
  profile, in the `S#` Query or beside it in one BatchGetItem.
- coupons: `S#PROFILE` sorts right before `S#Q#`, so `BETWEEN S#PROFILE AND S#Q#~` is the
  profile and the user coupons, and nothing else.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from chalicelib.clock import iso
from chalicelib.ids import _encode
from chalicelib.store import db
from chalicelib.store.keys import (
    ACTIVITY,
    LEDGER,
    PROFILE_SK,
    STATE,
    USER_STATE_SK,
    bounty_sk,
    bucket_sk,
    user_coupon_sk,
    user_pk,
)

Item = dict[str, Any]
# Sorts after every character a key suffix uses (ids, dates, slugs).
HIGH = "\uffff"
BATCH_GET_MAX = 100


def batch_get(keys: Sequence[tuple[str, str]], consistent: bool = True) -> list[Item]:
    """The items of up to 100 keys in one BatchGetItem (missing keys are simply absent)."""
    if not keys:
        return []
    if len(keys) > BATCH_GET_MAX:
        raise ValueError(f"at most {BATCH_GET_MAX} keys per request, got {len(keys)}")
    unique = list(dict.fromkeys(keys))
    pending: dict[str, Any] = {db.table(): {"Keys": [db.key(pk, sk) for pk, sk in unique],
                                            "ConsistentRead": consistent}}
    found: list[Item] = []
    while pending:
        out = db.call("batch_get_item", RequestItems=pending)
        found.extend(db.deserialize(raw) for raw in out.get("Responses", {}).get(db.table(), []))
        pending = out.get("UnprocessedKeys") or {}
    return found


def user_state(site: str, uuid: str) -> list[Item]:
    """Everything under `S#`: profile, wallets, counters, rewards, coupons, bounties, scores."""
    return db.query_all(key_condition="PK = :pk AND begins_with(SK, :s)",
                        values={":pk": user_pk(site, uuid), ":s": STATE})


def _ulid_floor(moment: dt.datetime) -> str:
    return _encode(int(moment.timestamp() * 1000), 10) + "0" * 16


def _ulid_ceiling(moment: dt.datetime) -> str:
    return _encode(int(moment.timestamp() * 1000), 10) + "Z" * 16


def activities_page(
    site: str, uuid: str, *, limit: int, cursor: str | None, newest_first: bool = True,
    since: dt.datetime | None = None, until: dt.datetime | None = None,
    types: Sequence[str] = (), statuses: Sequence[str] = (), verbs: Sequence[str] = (),
    scope: str = "activities",
) -> tuple[list[Item], str | None]:
    """One page of the user's activity items (own ones and received copies).

    Filters are OR within one list and AND across lists. DynamoDB applies `Limit` before
    the filter, so a filtered page may hold fewer than `limit` items while `nextCursor`
    still says more may follow: the price of one request per page.
    """
    lo = ACTIVITY + (_ulid_floor(since) if since else "")
    hi = ACTIVITY + (_ulid_ceiling(until) if until else HIGH)
    values: dict[str, Any] = {":pk": user_pk(site, uuid), ":lo": lo, ":hi": hi}
    names: dict[str, str] = {}
    clauses: list[str] = []
    for attribute, wanted in (("type", types), ("status", statuses), ("verb", verbs)):
        if not wanted:
            continue
        names[f"#{attribute}"] = attribute
        placeholders = []
        for i, value in enumerate(dict.fromkeys(wanted)):
            values[f":{attribute}{i}"] = value
            placeholders.append(f":{attribute}{i}")
        clauses.append(f"#{attribute} IN ({', '.join(placeholders)})")
    # The id's clock and createdAt can differ by a millisecond; the filter makes the window exact.
    if since:
        names["#createdAt"] = "createdAt"
        values[":since"] = iso(since)
        clauses.append("#createdAt >= :since")
    if until:
        names["#createdAt"] = "createdAt"
        values[":until"] = iso(until)
        clauses.append("#createdAt <= :until")
    return db.query_page(
        key_condition="PK = :pk AND SK BETWEEN :lo AND :hi", values=values, names=names or None,
        filter_expression=" AND ".join(clauses) or None, limit=limit, cursor=cursor,
        forward=not newest_first, consistent=True, scope=scope,
    )


def ledger_page(site: str, uuid: str, *, limit: int, cursor: str | None) -> tuple[list[Item], str | None]:
    """One page of the user's ledger, newest entry first."""
    return db.query_page(key_condition="PK = :pk AND begins_with(SK, :l)",
                         values={":pk": user_pk(site, uuid), ":l": LEDGER},
                         limit=limit, cursor=cursor, forward=False, consistent=True, scope="ledger")


def profile_and_state(site: str, uuid: str) -> tuple[Item | None, Item | None]:
    """The profile and the state item (wallets, current periods' measures), in one BatchGetItem."""
    pk = user_pk(site, uuid)
    items = {i["SK"]: i for i in batch_get([(pk, PROFILE_SK), (pk, USER_STATE_SK)])}
    return items.get(PROFILE_SK), items.get(USER_STATE_SK)


def state_and_buckets(site: str, uuid: str, period_keys: Sequence[str]) -> tuple[Item | None, list[Item]]:
    """The state item and the bucket items of `period_keys`, in one BatchGetItem."""
    pk = user_pk(site, uuid)
    items = batch_get([(pk, USER_STATE_SK), *((pk, bucket_sk(k)) for k in period_keys)])
    state = next((i for i in items if i["SK"] == USER_STATE_SK), None)
    return state, [i for i in items if i["SK"] != USER_STATE_SK]


def profile_and_coupons(site: str, uuid: str) -> list[Item]:
    """The profile (first) and every user coupon, in one Query."""
    return db.query_all(key_condition="PK = :pk AND SK BETWEEN :lo AND :hi",
                        values={":pk": user_pk(site, uuid), ":lo": PROFILE_SK,
                                ":hi": user_coupon_sk(HIGH)})


def user_items(site: str, uuid: str, sort_keys: Sequence[str]) -> list[Item]:
    """Known items of one user's partition, in one BatchGetItem (at most 100 keys)."""
    pk = user_pk(site, uuid)
    return batch_get([(pk, sk) for sk in sort_keys])


def buckets_between(site: str, uuid: str, first_key: str, last_key: str) -> list[Item]:
    """Buckets of one granularity from `first_key` to `last_key` (period keys, inclusive)."""
    return db.query_all(key_condition="PK = :pk AND SK BETWEEN :lo AND :hi",
                        values={":pk": user_pk(site, uuid), ":lo": bucket_sk(first_key),
                                ":hi": bucket_sk(last_key)})


def bounties_page(site: str, uuid: str, *, status: str | None, limit: int,
                  cursor: str | None) -> tuple[list[Item], str | None]:
    """One page of the user's bounties, newest first (bounty ids are activity ids)."""
    values: dict[str, Any] = {":pk": user_pk(site, uuid), ":y": bounty_sk("")}
    names = None
    filter_expression = None
    if status:
        values[":status"] = status
        names = {"#status": "status"}
        filter_expression = "#status = :status"
    return db.query_page(key_condition="PK = :pk AND begins_with(SK, :y)", values=values, names=names,
                         filter_expression=filter_expression, limit=limit, cursor=cursor, forward=False,
                         consistent=True, scope="bounties")

