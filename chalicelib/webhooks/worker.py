"""Attempts: one delivery at a time in its own invocation, so no endpoint waits for another.

`dispatch` hands a delivery to the delivery function as an asynchronous Lambda invocation (on
AWS, Lambda's own queue; locally the local runtime runs it in the background); the function
makes one attempt (`attempt`) and records it. A failed attempt leaves the delivery due at its
next time in the due index, which the sweep (every minute) reads, dispatching each due delivery
again; after the last step it is `failed`, and redeliverable.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from chalicelib import clock
from chalicelib.config import settings
from chalicelib.observability import logger
from chalicelib.store import webhooks as store
from chalicelib.webhooks import deliver, schedule, signing, urls

APP_NAME = "gamification"  # .chalice/config.json's app_name: Chalice names functions after it
DELIVERY_FUNCTION = "deliver_webhook"
REDELIVERABLE_FOR = schedule.REDELIVERABLE_FOR
SWEEP_LIMIT = 100  # deliveries dispatched per shard and sweep
# A delivery being attempted is due again this long after the attempt began (the attempt's 10 s
# and its recording are well inside): a worker that dies mid-attempt leaves it to the sweep.
IN_FLIGHT = dt.timedelta(seconds=60)


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
    moment = clock.iso(now or clock.now())
    due = store.due(moment, SWEEP_LIMIT)
    for item in due:
        dispatch(str(item["site"]), str(item["endpointId"]), str(item["deliveryId"]))
    return {"dispatched": len(due)}


def handle(event: dict[str, Any]) -> dict[str, Any]:
    """The delivery function: one delivery of `{site, endpointId, deliveryId}`."""
    status = attempt(str(event["site"]), str(event["endpointId"]), str(event["deliveryId"]))
    return {"deliveryId": event["deliveryId"], "status": status}
