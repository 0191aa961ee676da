"""Activity items: accept, read by id, the per-user ordering gate, status changes."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Sequence
from typing import Any

from chalicelib.ids import time_of
from chalicelib.store import db
from chalicelib.store.keys import (
    IDEMPOTENCY_SK,
    PENDING,
    POINTER_SK,
    PROFILE_SK,
    UNFINISHED_SHARDS,
    activity_pointer_pk,
    activity_sk,
    idempotency_pk,
    pending_sk,
    unfinished_index_pk,
    unfinished_shard,
    user_pk,
)

IDEMPOTENCY_SECONDS = 24 * 3600


class UserMissing(Exception):
    pass


class DuplicateKey(Exception):
    """The idempotency key was used before: `existing` is its stored item."""

    def __init__(self, existing: dict[str, Any] | None) -> None:
        super().__init__("idempotency key seen before")
        self.existing = existing


Work = dict[str, Any]  # what processing one activity (or one reject job) needs: site, uuid, activityId, type, job, gateId


def work_of(site: str, uuid: str, activity_id: str, type_: str, job: str, gate_id: str) -> Work:
    return {"site": site, "uuid": uuid, "activityId": activity_id, "type": type_, "job": job, "gateId": gate_id}


def _marker(site: str, uuid: str, created_at: str, work: Work) -> dict[str, Any]:
    """The ordering marker of unfinished work, in the user's partition and the reconciler's index.

    It carries the work itself, so whoever finds it (a later activity of the user, the
    reconciler) can run it without reading the activity first.
    """
    gate = str(work["gateId"])
    return {"PK": user_pk(site, uuid), "SK": pending_sk(gate), "createdAt": created_at, "todo": work,
            "GSI1PK": unfinished_index_pk(unfinished_shard(gate)), "GSI1SK": f"{created_at}#{site}#{uuid}#{gate}"}


# Users are never deleted, so a user seen once exists for good: a warm process checks each user
# once (a strongly consistent read of the profile's key, 1 read unit) instead of putting a
# ConditionCheck beside every accept's activity write (a transaction: 2 write units, 5 times the price).
_known_users: set[tuple[str, str]] = set()
_KNOWN_KEPT = 100_000


def _require_user(site: str, uuid: str) -> None:
    if (site, uuid) in _known_users:
        return
    if db.get(user_pk(site, uuid), PROFILE_SK, attributes=("PK",)) is None:
        raise UserMissing()
    if len(_known_users) >= _KNOWN_KEPT:
        _known_users.clear()
    _known_users.add((site, uuid))


def accept(site: str, activity: dict[str, Any], idempotency: dict[str, Any] | None) -> None:
    """The id pointer and the ordering marker in one BatchWriteItem, then the activity: the
    commit point. With an idempotency key the activity and the key go in one transaction.

    Plain writes, not one transaction (a transactional item costs twice a plain one: 4 write
    units instead of 6). The order makes every crash between them harmless: the pointer alone
    points at an activity that never was, whose id no client was given (GET answers 404 as for
    any unknown id); the marker alone (no activity behind it) holds the user's later work back
    until `ACCEPT_GRACE` has passed, then whoever finds it removes it (`settle_unaccepted`). A
    refused activity write removes the marker at once. The user must exist (`_require_user`:
    read once per warm process, users are never deleted).
    """
    uuid, activity_id = activity["uuid"], activity["id"]
    _require_user(site, uuid)
    pk = user_pk(site, uuid)
    marker = _marker(site, uuid, activity["createdAt"],
                     work_of(site, uuid, activity_id, activity["type"], "process", activity_id))
    db.batch_put([{"PK": activity_pointer_pk(site, activity_id), "SK": POINTER_SK, "uuid": uuid}, marker])
    item = {**activity, "PK": pk, "SK": activity_sk(activity_id)}
    try:
        if idempotency is None:
            db.put(item, condition="attribute_not_exists(PK)")
            return
        # TTL deletes lazily: a key past its 24 hours counts as unused even while still stored.
        db.transact([
            db.tx_put(item, condition="attribute_not_exists(PK)"),
            db.tx_put({**idempotency, "PK": idempotency_pk(site, idempotency["key"]), "SK": IDEMPOTENCY_SK},
                      condition="attribute_not_exists(PK) OR expiresAtEpoch < :now",
                      values={":now": idempotency["acceptedAtEpoch"]}),
        ])
    except db.StoreError as err:
        # Refused: nothing of the activity was written, so its marker must not hold anyone up.
        with contextlib.suppress(db.StoreError):
            db.delete(pk, pending_sk(activity_id))
        if idempotency is not None and isinstance(err, db.TransactionCancelled) and err.failed_at(1):
            raise DuplicateKey(db.get(idempotency_pk(site, idempotency["key"]), IDEMPOTENCY_SK)) from err
        raise


# How long after writing its marker an accept may still be writing the activity: the API
# function's timeout (29 s, .chalice/config.json) with a margin. A marker older than this with
# no activity behind it is left from an accept that died between its two writes.
ACCEPT_GRACE = dt.timedelta(seconds=60)


# The statuses an activity's work ends in: its ordering marker has no reason to exist any more.
ENDED_STATUSES = frozenset({"SUCCEEDED", "FAILED", "REJECTED"})


def accept_may_be_writing(gate_id: str, now: dt.datetime) -> bool:
    """Whether the accept that wrote marker `gate_id` may still be writing its activity."""
    issued = time_of(gate_id)
    return issued is not None and now - issued < ACCEPT_GRACE


def settle_unaccepted(site: str, uuid: str, gate_id: str, now: dt.datetime) -> bool:
    """The marker of work whose activity is not there: removed once its accept can no longer be
    writing the activity (True: nothing to run, the user's later work goes on); False while it
    still may (the work is not ready: try again later)."""
    if accept_may_be_writing(gate_id, now):
        return False
    clear_marker(site, uuid, gate_id)
    return True


_owners: dict[tuple[str, str], str] = {}
_OWNERS_KEPT = 50_000


def get_by_id(site: str, activity_id: str, attributes: Sequence[str] = ()) -> dict[str, Any] | None:
    """The pointer never changes, so a warm process remembers it: a status poll is one read
    (of `attributes` only, when named)."""
    owner = _owners.get((site, activity_id))
    if owner is None:
        pointer = db.get(activity_pointer_pk(site, activity_id), POINTER_SK, consistent=False)
        if pointer is None:
            return None
        owner = str(pointer["uuid"])
        if len(_owners) >= _OWNERS_KEPT:
            _owners.clear()
        _owners[(site, activity_id)] = owner
    return db.get(user_pk(site, owner), activity_sk(activity_id), attributes=attributes)


def get(site: str, uuid: str, activity_id: str) -> dict[str, Any] | None:
    return db.get(user_pk(site, uuid), activity_sk(activity_id))


def earliest_unfinished(site: str, uuid: str) -> Work | None:
    """The user's oldest unfinished work (activity or reject job), by acceptance order.

    One strongly consistent read: before any work runs, this says whether it is its turn.
    """
    items, _ = db.query_page(
        key_condition="PK = :pk AND begins_with(SK, :p)",
        values={":pk": user_pk(site, uuid), ":p": PENDING},
        limit=1, consistent=True, projection="SK, todo, rejects",
    )
    if not items:
        return None
    item = items[0]
    if item.get("todo"):
        return dict(item["todo"])
    # A marker written before markers carried their work (in flight across the deploy that
    # brought them): its id, and for a reject job the activity it rejects, give the rest.
    gate = item["SK"][len(PENDING):]
    activity_id = str(item.get("rejects") or gate)
    activity = get(site, uuid, activity_id) or {}
    return work_of(site, uuid, activity_id, str(activity.get("type", "")), "reject" if item.get("rejects") else "process",
                   gate)


def unfinished(shard: int, accepted_before: str, limit: int = 500) -> list[dict[str, Any]]:
    """Markers of one index shard accepted before `accepted_before` (ISO), oldest first."""
    items, _ = db.query_page(
        key_condition="GSI1PK = :pk AND GSI1SK < :before",
        values={":pk": unfinished_index_pk(shard), ":before": accepted_before},
        index="GSI1", limit=limit,
    )
    return items


SHARDS = range(UNFINISHED_SHARDS)


def clear_marker(site: str, uuid: str, gate_id: str) -> None:
    """Remove the ordering marker of work that has ended, or whose accept never committed."""
    db.delete(user_pk(site, uuid), pending_sk(gate_id))


def fail(site: str, uuid: str, activity_id: str, error: dict[str, str], now: str,
         extra: Sequence[dict[str, Any]] = ()) -> bool:
    """QUEUED/PROCESSING -> FAILED with `{type, message}`, and the ordering marker gone.

    False when the activity had already ended (its status condition failed). Anything else
    (a conflict, a throttle) is raised, so the caller tries again: an activity left
    unfinished would hold up every later activity of its user.
    """
    pk = user_pk(site, uuid)
    try:
        db.transact([
            db.tx_update(pk, activity_sk(activity_id),
                         "SET #s = :failed, #e = :err, processedAt = :now",
                         values={":failed": "FAILED", ":err": error, ":now": now, ":q": "QUEUED",
                                 ":p": "PROCESSING"},
                         names={"#s": "status", "#e": "error"}, condition="#s IN (:q, :p)"),
            db.tx_delete(pk, pending_sk(activity_id)),
            *extra,  # the failure's recorded event (lifecycle.fail)
        ])
    except db.TransactionCancelled as err:
        if err.failed_at(0):
            return False
        raise
    return True


def request_reject(site: str, uuid: str, activity_id: str, activity_type: str, rejection: dict[str, Any],
                   job_id: str) -> bool:
    """Record the rejection (pending) and queue its job behind the user's earlier activities."""
    pk = user_pk(site, uuid)
    try:
        db.transact([
            # A refused reject (no longer pending, `refused` set) is replaced by the new one.
            db.tx_update(pk, activity_sk(activity_id), "SET rejection = :r, rejectJob = :j",
                         values={":r": rejection, ":j": job_id, ":ok": "SUCCEEDED", ":f": False, ":null": None},
                         names={"#s": "status"},
                         condition="#s = :ok AND (attribute_not_exists(rejection) OR (rejection.pending = :f "
                                   "AND attribute_exists(rejection.refused) AND rejection.refused <> :null))"),
            db.tx_put({**_marker(site, uuid, rejection["at"], work_of(site, uuid, activity_id, activity_type,
                                                                      "reject", job_id)),
                       "rejects": activity_id}),
        ])
    except db.TransactionCancelled:  # not SUCCEEDED, or a reject asked already
        return False
    return True
