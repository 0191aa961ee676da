"""Accepting activities, reading them back, asking for a reject."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

from chalicelib import clock, errors
from chalicelib.clock import now_iso
from chalicelib.ids import new_id
from chalicelib.models.activities import ActivityCreate
from chalicelib.observability import count, logger
from chalicelib.store import activities as store
from chalicelib.store.activities import IDEMPOTENCY_SECONDS
from chalicelib.workflow import starter

# Where accepted work goes: the activity queue (starter.hand_off) unless the caller runs it
# itself (the demo seeds weeks of history through the steps in-process, local/demo.py).
HandOff = Callable[[starter.Work], object]


def check_idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not 1 <= len(value) <= 128 or any(not ch.isprintable() for ch in value):
        raise errors.field_error("Idempotency-Key", "must be 1 to 128 printable characters")
    return value


def accept(site: str, body: ActivityCreate, idempotency_key: str | None, by: str,
           hand_off: HandOff | None = None) -> dict[str, Any]:
    wire = body.model_dump(by_alias=True, mode="json")
    attrs = wire["attrs"]
    accepted = clock.now()  # one instant for the id and createdAt: the tab's from/to reads both
    activity_id = new_id(accepted)
    activity = {
        "id": activity_id, "uuid": body.uuid, "type": attrs["type"], "attrs": attrs, "reason": body.reason,
        "status": "QUEUED", "createdAt": clock.iso(accepted), "processedAt": None, "by": by,
        "verb": attrs.get("verb"), "targetUuid": attrs.get("targetUuid"),
        "steps": {}, "results": {}, "effects": {},
    }
    idempotency = None
    if idempotency_key is not None:
        digest = hashlib.sha256(json.dumps(wire, sort_keys=True).encode()).hexdigest()
        now_epoch = int(time.time())
        idempotency = {"key": idempotency_key, "activityId": activity_id, "uuid": body.uuid, "type": attrs["type"],
                       "bodyHash": digest, "acceptedAtEpoch": now_epoch,
                       "expiresAtEpoch": now_epoch + IDEMPOTENCY_SECONDS}
    try:
        store.accept(site, activity, idempotency)
    except store.UserMissing:
        raise errors.UserNotFound(f"user '{body.uuid}' does not exist") from None
    except store.DuplicateKey as dup:
        first = dup.existing
        if first is None or idempotency is None or first.get("bodyHash") != idempotency["bodyHash"]:
            raise errors.IdempotencyKeyMismatch(
                "this Idempotency-Key was used with a different body",
                [{"field": "Idempotency-Key", "message": "used before with another body"}]) from None
        # The first request may have died between its write and its hand-off: handing over
        # again is harmless (deduplicated by the activity id) and heals that before the
        # reconciler would.
        (hand_off or starter.hand_off)(store.work_of(site, first["uuid"], first["activityId"], first["type"],
                                                     "process", first["activityId"]))
        return {"id": first["activityId"], "status": "QUEUED"}
    # Accept's write is the commit point: from here the answer is 202, whatever the hand-off.
    (hand_off or starter.hand_off)({**store.work_of(site, body.uuid, activity_id, attrs["type"], "process",
                                                    activity_id), "activity": starter.slim(activity)})
    logger.info("activity accepted", extra={"activity_id": activity_id, "activity_type": attrs["type"]})
    count("ActivityAccepted", activity_type=attrs["type"])
    return {"id": activity_id, "status": "QUEUED"}


def view(item: dict[str, Any]) -> dict[str, Any]:
    """The activity resource of api.md, composed from what each step recorded."""
    results = item.get("results") or {}
    own = results.get(item["type"]) or {}
    extra = results.get("rewards") or {}
    result = None
    if item["status"] in ("SUCCEEDED", "REJECTED") or own:
        awarded = dict(own.get("awarded") or {})
        points: dict[str, int] = {}
        for entry in [*(awarded.get("points") or []), *(extra.get("points") or [])]:
            points[entry["pointId"]] = points.get(entry["pointId"], 0) + int(entry["points"])
        result = {
            "awarded": {
                "points": [{"pointId": k, "points": v} for k, v in points.items()],
                "behaviours": list(awarded.get("behaviours") or []),
                "rewards": [*(awarded.get("rewards") or []), *(extra.get("rewards") or [])],
                "coupons": [*(awarded.get("coupons") or []), *(extra.get("coupons") or [])],
            },
            "exceptions": [*(own.get("exceptions") or []), *(extra.get("exceptions") or [])],
            "blocked": bool(own.get("blocked", False)),
        }
    return {
        "id": item["id"], "uuid": item["uuid"], "type": item["type"], "attrs": item["attrs"],
        "reason": item.get("reason", ""), "status": item["status"], "createdAt": item["createdAt"],
        "processedAt": item.get("processedAt"), "result": result, "error": item.get("error"),
        "rejection": _rejection_view(item.get("rejection")), "targetUuid": item.get("targetUuid"),
        "by": item.get("by", ""),
    }


def _rejection_view(rejection: dict[str, Any] | None) -> dict[str, Any] | None:
    """`refused` is always present once a reject was asked for (`error` is its older name)."""
    if not rejection:
        return None
    return {**{k: v for k, v in rejection.items() if k != "error"}, "refused": _refusal(rejection)}


def _refusal(rejection: dict[str, Any]) -> Any:
    """Why the reversal was refused, if it was (`error` is what older items call it)."""
    return rejection.get("refused") or rejection.get("error")


# What `view` reads of an activity item: a status poll leaves the steps' records (effects, the
# largest part of the item) in the table.
VIEW_ATTRIBUTES = ("id", "uuid", "type", "attrs", "reason", "status", "createdAt", "processedAt", "results", "error",
                   "rejection", "targetUuid", "by")


def get(site: str, activity_id: str) -> dict[str, Any]:
    item = store.get_by_id(site, activity_id, VIEW_ATTRIBUTES)
    if item is None:
        raise errors.ActivityNotFound(f"activity '{activity_id}' does not exist")
    return view(item)


def _reject_asked(item: dict[str, Any]) -> bool:
    """A reject is pending or done; a refused one (`refused` set, no longer pending) may be asked again."""
    rejection = item.get("rejection") or {}
    return bool(rejection) and (bool(rejection.get("pending")) or not _refusal(rejection))


def request_reject(site: str, activity_id: str, reason: str, by: str,
                   hand_off: HandOff | None = None) -> dict[str, Any]:
    item = store.get_by_id(site, activity_id)
    if item is None:
        raise errors.ActivityNotFound(f"activity '{activity_id}' does not exist")
    if _reject_asked(item):
        raise errors.AlreadyRejected(f"activity '{activity_id}' has already been rejected")
    if item["status"] != "SUCCEEDED":
        raise errors.NotRejectable(f"only a SUCCEEDED activity can be rejected; this one is {item['status']}")
    from chalicelib.activities.reject import dependents

    later = dependents(site, item)
    if later:
        raise errors.NotRejectable(
            f"a later activity used this one's effects; reject {later[0]} first",
            [{"field": "activity", "message": f"reject {a} first"} for a in later])
    job_id = new_id()
    rejection = {"reason": reason, "at": now_iso(), "by": by, "pending": True}
    if not store.request_reject(site, item["uuid"], activity_id, item["type"], rejection, job_id):
        fresh = store.get(site, item["uuid"], activity_id) or {}
        if _reject_asked(fresh):
            raise errors.AlreadyRejected(f"activity '{activity_id}' has already been rejected")
        raise errors.NotRejectable(f"activity '{activity_id}' is no longer SUCCEEDED")
    (hand_off or starter.hand_off)(store.work_of(site, item["uuid"], activity_id, item["type"], "reject", job_id))
    return view({**item, "rejection": rejection})
