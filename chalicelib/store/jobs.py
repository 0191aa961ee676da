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

from botocore.exceptions import ClientError

from chalicelib.store import db
from chalicelib.store.keys import CREDIT, PROFILE_SK, bucket_sk, site_pk, user_pk, users_index_pk
from chalicelib.store.reads import BATCH_GET_MAX, batch_get

Item = dict[str, Any]
CHECKPOINT_DAYS = 14
MARKER_DAYS = 30


def _epoch_after(now: dt.datetime, days: int) -> int:
    return int((now + dt.timedelta(days=days)).timestamp())


# ---------------------------------------------------------------- users by segment


def users_page(site: str, lo: str, hi: str, *, after: str | None, limit: int) -> tuple[list[Item], bool]:
    """One Query of GSI1 (the users index, sorted by uuid): profiles with `lo <= uuid <= hi`
    after the uuid `after`. Returns the profiles and whether more may follow."""
    start = None
    if after is not None:
        start = {"GSI1PK": {"S": users_index_pk(site)}, "GSI1SK": {"S": after},
                 "PK": {"S": user_pk(site, after)}, "SK": {"S": PROFILE_SK}}
    items, last = db.query_window(index="GSI1", key_condition="GSI1PK = :pk AND GSI1SK BETWEEN :lo AND :hi",
                                  values={":pk": users_index_pk(site), ":lo": lo, ":hi": hi},
                                  limit=limit, start_key=start)
    return items, last is not None


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
    """Bucket items by (uuid, periodKey), 100 keys per BatchGetItem (eventually consistent:
    the periods read are finished, nothing but a late reject still moves them)."""
    out: dict[tuple[str, str], Item] = {}
    keys = [(user_pk(site, uuid), bucket_sk(key)) for uuid, key in wanted]
    prefix = len(user_pk(site, ""))
    for start in range(0, len(keys), BATCH_GET_MAX):
        for item in batch_get(keys[start:start + BATCH_GET_MAX], consistent=False):
            out[(str(item["PK"])[prefix:], str(item["SK"]).removeprefix("B#"))] = item
    return out


def close_bucket(site: str, uuid: str, period_key: str, closed: dict[str, Any]) -> bool:
    """Write a finished period's KPI figures once; False when they were already there."""
    try:
        db.update(user_pk(site, uuid), bucket_sk(period_key), "SET closed = :c", values={":c": closed},
                  condition="attribute_not_exists(closed)", return_new=False)
    except ClientError as err:
        if db.is_condition_failure(err):
            return False
        raise
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
