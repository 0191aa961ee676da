"""Activity items: accept, read by id, the per-user ordering gate, status changes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.store import db
from chalicelib.store.keys import (
    IDEMPOTENCY_SK,
    PENDING,
    POINTER_SK,
    PROFILE_SK,
    activity_pointer_pk,
    activity_sk,
    idempotency_pk,
    pending_sk,
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


def accept(site: str, activity: dict[str, Any], idempotency: dict[str, Any] | None) -> None:
    """One TransactWriteItems: the activity, its id pointer, its ordering marker and the key.

    The user's existence is a ConditionCheck inside the same transaction, so a refused
    request writes nothing and an accepted one costs a single request.
    """
    uuid, activity_id = activity["uuid"], activity["id"]
    pk = user_pk(site, uuid)
    ops = [
        db.tx_check(pk, PROFILE_SK, "attribute_exists(PK)"),
        db.tx_put({**activity, "PK": pk, "SK": activity_sk(activity_id)}, condition="attribute_not_exists(PK)"),
        db.tx_put({"PK": activity_pointer_pk(site, activity_id), "SK": POINTER_SK, "uuid": uuid}),
        db.tx_put({"PK": pk, "SK": pending_sk(activity_id), "createdAt": activity["createdAt"]}),
    ]
    if idempotency is not None:
        # TTL deletes lazily: a key past its 24 hours counts as unused even while still stored.
        ops.append(db.tx_put({**idempotency, "PK": idempotency_pk(site, idempotency["key"]),
                              "SK": IDEMPOTENCY_SK},
                             condition="attribute_not_exists(PK) OR expiresAtEpoch < :now",
                             values={":now": idempotency["acceptedAtEpoch"]}))
    try:
        db.transact(ops)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") != "TransactionCanceledException":
            raise
        reasons = db.cancellation_reasons(err)
        if reasons and reasons[0] == "ConditionalCheckFailed":
            raise UserMissing() from err
        if idempotency is not None and len(reasons) > 4 and reasons[4] == "ConditionalCheckFailed":
            raise DuplicateKey(db.get(idempotency_pk(site, idempotency["key"]), IDEMPOTENCY_SK)) from err
        raise


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


def earlier_pending(site: str, uuid: str, activity_id: str) -> str | None:
    """The nearest activity of this user accepted before `activity_id` and not finished yet.

    The nearest, not the oldest: each waiter then waits on its own predecessor, so one
    finish wakes one successor instead of every activity queued behind it.
    """
    items, _ = db.query_page(
        key_condition="PK = :pk AND SK BETWEEN :lo AND :hi",
        values={":pk": user_pk(site, uuid), ":lo": PENDING, ":hi": pending_sk(activity_id)},
        limit=2, consistent=True, projection="SK", forward=False,
    )
    for item in items:
        other = item["SK"][len(PENDING):]
        if other < activity_id:
            return other
    return None


def mark_processing(site: str, uuid: str, activity_id: str, now: str) -> dict[str, Any] | None:
    """QUEUED -> PROCESSING; None when it already moved on (a redelivered execution)."""
    try:
        return db.update(
            user_pk(site, uuid), activity_sk(activity_id),
            "SET #s = :processing, startedAt = if_not_exists(startedAt, :now)",
            values={":processing": "PROCESSING", ":queued": "QUEUED", ":now": now},
            names={"#s": "status"},
            condition="#s IN (:queued, :processing)",
        )
    except ClientError as err:
        if db.is_condition_failure(err):
            return None
        raise


def request_reject(site: str, uuid: str, activity_id: str, rejection: dict[str, Any], job_id: str) -> bool:
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
            db.tx_put({"PK": pk, "SK": pending_sk(job_id), "createdAt": rejection["at"], "rejects": activity_id}),
        ])
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") == "TransactionCanceledException":
            return False
        raise
    return True
