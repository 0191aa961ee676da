"""What the scheduled jobs read and write: user pages by segment, checkpoints, closed KPI periods,
expiry markers.

Items (see docs/jobs.md):
- `SITE#{site}` / `JOB#{job}`: the job's watermark on the site: `{lastRun, through, ...}`, the
  last run key (site-local date) every segment finished, and what that run covered.
- `SITE#{site}` / `JOB#{job}#{runKey}#{segment}`: one segment's checkpoint `{lastUuid, done}`
  (kept 14 days by TTL). `JOB#` sorts before `KEY#`, `LBJOB#` and `MECH#`: no other Query of
  the site partition reads it.
- `USER#{site}#{uuid}` / `B#{periodKey}` attribute `closed`: `{kpiId: {value, target, percent,
  met}}`, the figures of a finished period, written once (condition `attribute_not_exists`);
  the KPIs tab already reads these bucket items.
- `USER#{site}#{uuid}` / `J#expiry#{runKey}#{firstBatchId}`: the marker of one expiry
  transaction (kept 30 days by TTL); `J#` is read by no Query of the user partition.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from chalicelib.store import db
from chalicelib.store.keys import (
    CREDIT,
    USER_STATE_SK,
    bucket_sk,
    site_pk,
    user_pk,
    users_index_pks,
)
from chalicelib.store.userstate import from_state_item, measures_of

Item = dict[str, Any]
CHECKPOINT_DAYS = 14
MARKER_DAYS = 30


def _epoch_after(now: dt.datetime, days: int) -> int:
    return int((now + dt.timedelta(days=days)).timestamp())


# ---------------------------------------------------------------- users by segment


def users_page(site: str, lo: str, hi: str, *, after: str | None, limit: int) -> tuple[list[Item], bool]:
    """Profiles with `lo <= uuid <= hi` after the uuid `after`, in uuid order, from GSI1 (the
    users index, one Query per shard, merged). Returns the profiles and whether more may follow."""
    if after is not None:
        lo = max(lo, after + "\x00")  # the first uuid after `after`
    if lo > hi:
        return [], False
    return db.merged_window(partitions=users_index_pks(site), index="GSI1", sort_condition="GSI1SK BETWEEN :lo AND :hi",
                            values={":lo": lo, ":hi": hi}, limit=limit)


# ---------------------------------------------------------------- checkpoints and watermarks


def watermark_sk(job: str) -> str:
    return f"JOB#{job}"


def checkpoint_sk(job: str, run_key: str, segment: str) -> str:
    return f"JOB#{job}#{run_key}#{segment}"


def watermark(site: str, job: str) -> Item | None:
    return db.get(site_pk(site), watermark_sk(job))


def save_watermark(site: str, job: str, run_key: str, fields: dict[str, Any]) -> None:
    db.put({"PK": site_pk(site), "SK": watermark_sk(job), "job": job, "lastRun": run_key, **fields})


def checkpoint(site: str, job: str, run_key: str, segment: str) -> Item | None:
    return db.get(site_pk(site), checkpoint_sk(job, run_key, segment))


def save_checkpoint(site: str, job: str, run_key: str, segment: str, *, last_uuid: str | None, done: bool,
                    users: int, now: dt.datetime) -> None:
    item: Item = {"PK": site_pk(site), "SK": checkpoint_sk(job, run_key, segment), "job": job, "runKey": run_key,
                  "segment": segment, "done": done, "users": users,
                  "expiresAtEpoch": _epoch_after(now, CHECKPOINT_DAYS)}
    if last_uuid is not None:
        item["lastUuid"] = last_uuid
    db.put(item)


# ---------------------------------------------------------------- KPI period close


def buckets(site: str, wanted: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Item]:
    """Ended periods' figures by (uuid, periodKey): the bucket item with the state item's measures
    of that period added, while the state item still holds it (store/userstate.py).

    Each user's state item and buckets are read in one TransactGetItems, one snapshot: the
    first activity after a period ended moves its measures from the one to the other in one
    transaction, so a snapshot sees them in exactly one place, never in both or neither.
    """
    by_user: dict[str, list[str]] = {}
    for uuid, key in wanted:
        by_user.setdefault(uuid, [])
        if key not in by_user[uuid]:
            by_user[uuid].append(key)
    # A request holds whole (state item, some of its buckets) pieces: each period's figure
    # comes from one snapshot of both places, however the user's periods are split.
    per_piece = db.TRANSACT_GET_MAX - 1
    pieces = [(uuid, keys[i:i + per_piece]) for uuid, keys in by_user.items() for i in range(0, len(keys), per_piece)]
    chunks: list[list[tuple[str, list[str]]]] = [[]]
    size = 0
    for uuid, keys in pieces:
        if size + 1 + len(keys) > db.TRANSACT_GET_MAX:
            chunks.append([])
            size = 0
        chunks[-1].append((uuid, keys))
        size += 1 + len(keys)
    out: dict[tuple[str, str], Item] = {}
    for chunk in chunks:
        request = [(user_pk(site, u), sk) for u, ks in chunk for sk in (USER_STATE_SK, *map(bucket_sk, ks))]
        items = iter(db.transact_get(request))
        for uuid, keys in chunk:
            state_item = next(items)
            state = from_state_item(uuid, {}, state_item) if state_item else None
            for key in keys:
                bucket = next(items)
                if bucket is not None or (state is not None and key in state.measures):
                    out[(uuid, key)] = {**(bucket or {}), **measures_of(bucket, state, key)}
    return out


def close_bucket(site: str, uuid: str, period_key: str, closed: dict[str, Any]) -> bool:
    """Write a finished period's KPI figures once; False when they were already there."""
    try:
        db.update(user_pk(site, uuid), bucket_sk(period_key), "SET closed = :c", values={":c": closed},
                  condition="attribute_not_exists(closed)", return_new=False)
    except db.ConditionFailed:
        return False
    return True


# ---------------------------------------------------------------- expiry


def due_credits(site: str, uuid: str, point_id: str, since: str | None, until: str, *,
                consistent: bool = False) -> list[Item]:
    """Credit batches of one point type expiring in `(since, until]` (ISO instants) that still
    hold points: the sort key carries the expiry, so this is a key range, not a history.
    Eventually consistent (half the read units): a stale batch only makes the expiry
    transaction's conditions fail, and the job reads again."""
    lo = f"{CREDIT}{point_id}#" + (since + "#\uffff" if since else "")
    hi = f"{CREDIT}{point_id}#{until}#\uffff"
    found: list[Item] = []
    start: dict[str, Any] | None = None
    while True:
        items, start = db.query_window(key_condition="PK = :pk AND SK BETWEEN :lo AND :hi",
                                       values={":pk": user_pk(site, uuid), ":lo": lo, ":hi": hi, ":zero": 0},
                                       filter_expression="remaining > :zero", limit=100, start_key=start,
                                       consistent=consistent)
        found.extend(items)
        if start is None:
            return found


def expiry_marker_sk(run_key: str, first_batch: str) -> str:
    return f"J#expiry#{run_key}#{first_batch}"


def expiry_marker(site: str, uuid: str, run_key: str, first_batch: str, now: dt.datetime,
                  record: dict[str, Any]) -> dict[str, Any]:
    """The transaction's first operation: a second attempt of the same run cancels on it."""
    return db.tx_put({"PK": user_pk(site, uuid), "SK": expiry_marker_sk(run_key, first_batch), "job": "expiry",
                      "runKey": run_key, **record, "expiresAtEpoch": _epoch_after(now, MARKER_DAYS)},
                     condition="attribute_not_exists(PK)")
