"""Attempts: one delivery at a time in its own invocation, so no endpoint waits for another.

`dispatch` hands a delivery to the delivery function as an asynchronous Lambda invocation (on
AWS, Lambda's own queue; locally the local runtime runs it in the background); the function
makes one attempt (`attempt`) and records it. A failed attempt leaves the delivery due at its
next time in the due index, which the sweep (every minute) reads, dispatching each due delivery
again; after the last step it is `failed`, and redeliverable.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from chalicelib import clock, ids
from chalicelib.config import settings
from chalicelib.observability import logger
from chalicelib.store import webhooks as store
from chalicelib.store.userstate import parse_time
from chalicelib.webhooks import deliver, events, schedule, signing, urls

APP_NAME = "gamification"  # .chalice/config.json's app_name: Chalice names functions after it
DELIVERY_FUNCTION = "deliver_webhook"
REDELIVERABLE_FOR = schedule.REDELIVERABLE_FOR
SWEEP_LIMIT = 100  # deliveries dispatched per shard and sweep
# A delivery being attempted is due again this long after the attempt began (the attempt's 10 s
# and its recording are well inside): a worker that dies mid-attempt leaves it to the sweep.
IN_FLIGHT = dt.timedelta(seconds=60)
# An outbox still in its index this long after its commit lost its hand-off: the sweep fans it out.
OUTBOX_GRACE = dt.timedelta(seconds=30)


def delivery_function() -> str:
    return f"{APP_NAME}-{settings().stage}-{DELIVERY_FUNCTION}"


def _lambda() -> Any:
    import boto3

    global _client
    if _client is None:
        _client = boto3.client("lambda")
    return _client


_client: Any = None


def reset_client() -> None:
    """Tests and the local runtime switch endpoints; drop the cached client."""
    global _client
    _client = None


def dispatch(site: str, endpoint_id: str, delivery_id: str) -> None:
    """Hand one delivery to the delivery function without waiting for it. A hand-off that
    fails is not lost: the delivery is in the due index, and the sweep dispatches it."""
    payload = json.dumps({"site": site, "endpointId": endpoint_id, "deliveryId": delivery_id})
    try:
        _lambda().invoke(FunctionName=delivery_function(), InvocationType="Event", Payload=payload.encode())
    except Exception:  # the sweep hands it over again within a minute
        logger.exception("webhook delivery hand-off failed", extra={"delivery_id": delivery_id})


def dispatch_outbox(site: str, uuid: str, outbox_sk: str) -> None:
    """Hand a commit's outbox to the delivery function, to make its deliveries; a lost hand-off
    is made by the sweep (the outbox stays in its index until then)."""
    payload = json.dumps({"outbox": {"site": site, "uuid": uuid, "sk": outbox_sk}})
    try:
        _lambda().invoke(FunctionName=delivery_function(), InvocationType="Event", Payload=payload.encode())
    except Exception:
        logger.exception("webhook outbox hand-off failed", extra={"outbox": outbox_sk})


def delivery_id(event: dict[str, Any], endpoint_id: str) -> str:
    """One event's delivery to one endpoint: the same id whoever makes it (a fan-out made again
    finds it there), sorting by the event's time in the log."""
    moment = parse_time(str(event["createdAt"])) or clock.now()
    digest = hashlib.sha256(f"{event['id']}|{endpoint_id}".encode()).hexdigest()[:16]
    return "dlv_" + ids.new_id(moment)[:10].lower() + digest


def fan_out(site: str, uuid: str, outbox_sk: str) -> int:
    """The deliveries of one outbox: each event to each endpoint it is for (its type, the
    user's preferences as recorded with it), each handed to the delivery function; then the
    outbox leaves its index. Returns the deliveries made now."""
    outbox = store.get_outbox(site, uuid, outbox_sk)
    if outbox is None or "GSI1PK" not in outbox:
        return 0  # made already
    endpoints = store.all_endpoints(site)
    preferences = dict(outbox.get("preferences") or {})
    activities: dict[str, dict[str, Any] | None] = {}
    made = []
    for event in outbox.get("events") or []:
        targets = [e for e in endpoints if events.delivered_to(e, event, preferences)]
        if not targets:
            continue
        payload = {k: event[k] for k in ("id", "type", "createdAt", "site")}
        payload["data"] = _data(site, uuid, event, activities)
        body = json.dumps(payload, separators=(",", ":"), default=str)
        for endpoint in targets:
            made_id = delivery_id(event, str(endpoint["id"]))
            if store.create_delivery(site, {"endpointId": endpoint["id"], "deliveryId": made_id,
                                            "eventId": event["id"], "eventType": event["type"], "body": body,
                                            "status": "pending", "attempts": 0, "lastStatusCode": None,
                                            "lastError": None, "lastAttemptAt": None,
                                            "nextAttemptAt": clock.now_iso(), "createdAt": clock.now_iso()}):
                made.append((str(endpoint["id"]), made_id))
    for endpoint_id, made_id in made:
        dispatch(site, endpoint_id, made_id)
    store.settle_outbox(site, uuid, outbox_sk)
    return len(made)


def _data(site: str, uuid: str, event: dict[str, Any], activities: dict[str, dict[str, Any] | None]) -> Any:
    """An event's data as delivered: an activity's end carries the activity resource, read as
    stored (with every step's result), once per outbox."""
    if not str(event["type"]).startswith("activity."):
        return event["data"]
    from chalicelib.domain.activities import view
    from chalicelib.store import activities as activity_store

    activity_id = str(event["data"]["activityId"])
    if activity_id not in activities:
        activities[activity_id] = activity_store.get(site, uuid, activity_id)
    stored = activities[activity_id]
    return {"activity": view(stored) if stored is not None else {"id": activity_id}}


def signing_secrets(endpoint: dict[str, Any], now: dt.datetime) -> list[str]:
    """The secret, and the one before it while it still signs (a day after a rotation)."""
    found = [str(endpoint["secret"])]
    if endpoint.get("previousSecret") and str(endpoint.get("previousUntil", "")) > clock.iso(now):
        found.append(str(endpoint["previousSecret"]))
    return found


def attempt(site: str, endpoint_id: str, delivery_id: str) -> str | None:
    """One attempt of a pending delivery, recorded; returns its status after (None: nothing to
    do — it is not pending, not due yet, or another attempt was recorded meanwhile)."""
    delivery = store.get_delivery(site, endpoint_id, delivery_id)
    now = clock.now()
    if delivery is None or delivery.get("status") != "pending" or str(delivery.get("nextAttemptAt") or "") > clock.iso(now):
        return None
    attempts = int(delivery.get("attempts", 0))
    if not store.claim(site, endpoint_id, delivery_id, seen_attempts=attempts, seen_next=str(delivery["nextAttemptAt"]),
                       until=clock.iso(now + IN_FLIGHT)):
        return None  # another invocation took it (a sweep and a hand-off at once)
    endpoint = store.get_endpoint(site, endpoint_id)
    outcome: deliver.Outcome
    if endpoint is None:
        outcome = deliver.Outcome(None, "the endpoint was deleted", 0.0)
    elif not endpoint.get("active", True):
        outcome = deliver.Outcome(None, "the endpoint is inactive", 0.0)
    else:
        try:
            target = urls.check(str(endpoint["url"]), local=settings().stage == "local")
        except urls.UrlRefused as err:
            outcome = deliver.Outcome(None, f"url refused: {err}", 0.0)
        else:
            body = str(delivery["body"]).encode()
            headers = signing.headers(str(delivery["eventId"]), int(now.timestamp()), body,
                                      signing_secrets(endpoint, now))
            outcome = deliver.post(target, body, headers)
    at = clock.now()
    following = None if outcome.succeeded or endpoint is None else schedule.next_attempt(attempts + 1, at)
    status = "succeeded" if outcome.succeeded else ("pending" if following is not None else "failed")
    if not store.record_attempt(site, endpoint_id, delivery_id, seen_attempts=attempts, status=status,
                                status_code=outcome.status, error=outcome.error, at=clock.iso(at),
                                next_at=clock.iso(following) if following is not None else None):
        return None
    logger.info("webhook attempt", extra={"delivery_id": delivery_id, "status": status, "code": outcome.status,
                                          "error": outcome.error, "seconds": round(outcome.seconds, 3)})
    return status


def sweep(now: dt.datetime | None = None) -> dict[str, int]:
    """Dispatch every delivery due by `now` (the retries' later steps, and any hand-off lost)."""
    at = now or clock.now()
    moment = clock.iso(at)
    fanned = 0
    for outbox in store.unsettled_outboxes(clock.iso(at - OUTBOX_GRACE), SWEEP_LIMIT):
        fanned += fan_out(str(outbox["site"]), str(outbox["uuid"]), str(outbox["SK"]))
    due = store.due(moment, SWEEP_LIMIT)
    for item in due:
        dispatch(str(item["site"]), str(item["endpointId"]), str(item["deliveryId"]))
    return {"dispatched": len(due), "fannedOut": fanned}


def handle(event: dict[str, Any]) -> dict[str, Any]:
    """The delivery function: an outbox's fan-out (`{outbox: {site, uuid, sk}}`), or one
    attempt of `{site, endpointId, deliveryId}`."""
    if "outbox" in event:
        box = event["outbox"]
        return {"fannedOut": fan_out(str(box["site"]), str(box["uuid"]), str(box["sk"]))}
    status = attempt(str(event["site"]), str(event["endpointId"]), str(event["deliveryId"]))
    return {"deliveryId": event["deliveryId"], "status": status}
