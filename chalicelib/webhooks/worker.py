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
from chalicelib.parallel import in_parallel
from chalicelib.store import webhooks as store
from chalicelib.store.userstate import parse_time
from chalicelib.webhooks import deliver, events, schedule, signing, urls

APP_NAME = "gamification"  # .chalice/config.json's app_name: Chalice names functions after it
DELIVERY_FUNCTION = "deliver_webhook"
ATTEMPT_THREADS = 8  # a fan-out's attempts at once, each with its own 10 s
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
    user's preferences as recorded with it), first attempted here, all at once (a slow endpoint
    delays no other: each attempt has its own thread and 10 s), then written once each with its
    outcome (a failed one due again on the schedule); then the outbox leaves its index. A
    fan-out cut short is made again by the sweep: deliveries already written are not attempted
    again. Returns the deliveries made now."""
    outbox = store.get_outbox(site, uuid, outbox_sk)
    if outbox is None or "GSI1PK" not in outbox:
        return 0  # made already
    endpoints = store.all_endpoints(site)
    preferences = dict(outbox.get("preferences") or {})
    activities: dict[str, dict[str, Any] | None] = {}
    wanted: list[tuple[dict[str, Any], dict[str, Any], str, str]] = []  # (endpoint, event, body, delivery id)
    for event in outbox.get("events") or []:
        targets = [e for e in endpoints if events.delivered_to(e, event, preferences)]
        if not targets:
            continue
        payload = {k: event[k] for k in ("id", "type", "createdAt", "site")}
        payload["data"] = _data(site, uuid, event, activities)
        body = json.dumps(payload, separators=(",", ":"), default=str)
        wanted += [(endpoint, event, body, delivery_id(event, str(endpoint["id"]))) for endpoint in targets]
    made = store.existing_deliveries(site, [(str(e["id"]), d) for e, _, _, d in wanted])
    fresh = [w for w in wanted if (str(w[0]["id"]), w[3]) not in made]
    started = clock.now()
    outcomes = in_parallel(lambda w: _send(w[0], str(w[1]["id"]), w[2], started), fresh, ATTEMPT_THREADS,
                           "webhooks")
    for (endpoint, event, body, made_id), outcome in zip(fresh, outcomes, strict=True):
        at = clock.now()
        following = None if outcome.succeeded else schedule.next_attempt(1, at)
        store.create_delivery(site, {
            "endpointId": endpoint["id"], "deliveryId": made_id, "eventId": event["id"], "eventType": event["type"],
            "body": body, "status": "succeeded" if outcome.succeeded else ("pending" if following else "failed"),
            "attempts": 1, "lastStatusCode": outcome.status, "lastError": outcome.error,
            "lastAttemptAt": clock.iso(at), "nextAttemptAt": clock.iso(following) if following else None,
            "createdAt": clock.iso(started)})
    store.settle_outbox(site, uuid, outbox_sk)
    return len(fresh)


def _send(endpoint: dict[str, Any] | None, event_id: str, body: str, now: dt.datetime) -> deliver.Outcome:
    """One attempt to an endpoint as it is now (deleted, inactive, or its URL refused: a
    failed attempt, no request)."""
    if endpoint is None:
        return deliver.Outcome(None, "the endpoint was deleted", 0.0)
    if not endpoint.get("active", True):
        return deliver.Outcome(None, "the endpoint is inactive", 0.0)
    try:
        target = urls.check(str(endpoint["url"]), local=settings().stage == "local")
    except urls.UrlRefused as err:
        return deliver.Outcome(None, f"url refused: {err}", 0.0)
    raw = body.encode()
    return deliver.post(target, raw, signing.headers(event_id, int(now.timestamp()), raw, signing_secrets(endpoint, now)))


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
    outcome = _send(endpoint, str(delivery["eventId"]), str(delivery["body"]), now)
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
