"""Webhook endpoints: create, change, rotate the secret, send a test event, the deliveries log."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, get_args

from chalicelib import clock, errors, ids
from chalicelib.config import settings
from chalicelib.models.webhooks import DeliveryStatus, WebhookCreate, WebhookPatch
from chalicelib.store import webhooks as store
from chalicelib.webhooks import signing, urls, worker

# After a rotation the old secret signs too, for receivers still holding it (api.md).
PREVIOUS_SECRET_SIGNS_FOR = dt.timedelta(hours=24)
DELIVERY_STATUSES: tuple[str, ...] = get_args(DeliveryStatus)


def recount(site: str) -> None:
    """The site's number of active endpoints, on the site item: what processing reads (through
    the site cache, so within its 30 s) to decide whether a commit records its events."""
    from chalicelib.store import sites as sites_store

    sites_store.update_site(site, {"webhookEndpoints": store.count_active(site)})


def local_stage() -> bool:
    """The local stack allows receivers on the developer's machine (urls.check)."""
    return settings().stage == "local"


def checked_url(url: str) -> str:
    try:
        urls.check(url, local=local_stage())
    except urls.UrlRefused as err:
        raise errors.field_error("url", str(err)) from None
    return url


def view(item: dict[str, Any]) -> dict[str, Any]:
    return {"id": item["id"], "url": item["url"], "events": list(item["events"]),
            "description": item.get("description", ""), "active": bool(item.get("active", True)),
            "respectUserPreferences": bool(item.get("respectUserPreferences", True)), "createdAt": item["createdAt"]}


def require(site: str, endpoint_id: str) -> dict[str, Any]:
    item = store.get_endpoint(site, endpoint_id)
    if item is None:
        raise errors.NotFound(f"webhook '{endpoint_id[:64]}' does not exist")
    return item


def create(site: str, body: WebhookCreate, by: str) -> dict[str, Any]:
    item = {"id": "wh_" + ids.new_id().lower(), "url": checked_url(body.url), "events": list(dict.fromkeys(body.events)),
            "description": body.description, "active": body.active,
            "respectUserPreferences": body.respect_user_preferences, "createdAt": clock.now_iso(), "createdBy": by,
            "secret": signing.new_secret()}
    store.put_endpoint(site, item)
    recount(site)
    return {**view(item), "secret": item["secret"]}


def patch(site: str, endpoint_id: str, body: WebhookPatch) -> dict[str, Any]:
    changes = body.model_dump(by_alias=True, exclude_unset=True)
    nulls = [k for k, v in changes.items() if v is None]
    if nulls:
        raise errors.ValidationError("fields cannot be null", [{"field": k, "message": "must not be null"} for k in nulls])
    if "url" in changes:
        checked_url(changes["url"])
    if "events" in changes:
        changes["events"] = list(dict.fromkeys(changes["events"]))
    item = store.update_endpoint(site, endpoint_id, changes) if changes else require(site, endpoint_id)
    if item is None:
        raise errors.NotFound(f"webhook '{endpoint_id[:64]}' does not exist")
    if "active" in changes:
        recount(site)
    return view(item)


def delete(site: str, endpoint_id: str) -> None:
    if not store.delete_endpoint(site, endpoint_id):
        raise errors.NotFound(f"webhook '{endpoint_id[:64]}' does not exist")
    recount(site)


def rotate_secret(site: str, endpoint_id: str) -> dict[str, Any]:
    current = require(site, endpoint_id)
    secret = signing.new_secret()
    until = clock.iso(clock.now() + PREVIOUS_SECRET_SIGNS_FOR)
    item = store.update_endpoint(site, endpoint_id, {"secret": secret, "previousSecret": current["secret"],
                                                     "previousUntil": until})
    if item is None:
        raise errors.NotFound(f"webhook '{endpoint_id[:64]}' does not exist")
    return {**view(item), "secret": secret}


def event(site: str, event_type: str, data: dict[str, Any], at: dt.datetime | None = None) -> dict[str, Any]:
    """An event as delivered (api.md): its id is what receivers de-duplicate by."""
    moment = at or clock.now()
    return {"id": "evt_" + ids.new_id(moment).lower(), "type": event_type, "createdAt": clock.iso(moment),
            "site": site, "data": data}


def queue_delivery(site: str, endpoint_id: str, payload: dict[str, Any]) -> str:
    """A delivery of one event to one endpoint, due now and handed to the delivery function."""
    now = clock.now_iso()
    delivery_id = "dlv_" + ids.new_id().lower()
    store.put_delivery(site, {"endpointId": endpoint_id, "deliveryId": delivery_id, "eventId": payload["id"],
                              "eventType": payload["type"], "body": json.dumps(payload, separators=(",", ":")),
                              "status": "pending", "attempts": 0, "lastStatusCode": None, "lastError": None,
                              "lastAttemptAt": None, "nextAttemptAt": now, "createdAt": now})
    worker.dispatch(site, endpoint_id, delivery_id)
    return delivery_id


def send_test(site: str, endpoint_id: str) -> dict[str, Any]:
    require(site, endpoint_id)
    return {"deliveryId": queue_delivery(site, endpoint_id, event(site, "webhook.test", {}))}


def delivery_view(item: dict[str, Any]) -> dict[str, Any]:
    return {"deliveryId": item["deliveryId"], "eventId": item["eventId"], "eventType": item["eventType"],
            "status": item["status"], "attempts": int(item.get("attempts", 0)),
            "lastStatusCode": None if item.get("lastStatusCode") is None else int(item["lastStatusCode"]),
            "lastError": item.get("lastError"), "lastAttemptAt": item.get("lastAttemptAt"),
            "nextAttemptAt": item.get("nextAttemptAt"), "createdAt": item["createdAt"]}


def deliveries(site: str, endpoint_id: str, status: str | None, limit: int, cursor: str | None) -> dict[str, Any]:
    if status is not None and status not in DELIVERY_STATUSES:
        raise errors.field_error("status", f"must be one of {', '.join(DELIVERY_STATUSES)}")
    require(site, endpoint_id)
    items, next_cursor = store.deliveries_page(site, endpoint_id, status, limit, cursor)
    return {"items": [delivery_view(i) for i in items], "nextCursor": next_cursor}


def redeliver(site: str, endpoint_id: str, delivery_id: str) -> dict[str, Any]:
    """Attempted again at once, the schedule from the start; a delivery still being retried
    is simply attempted now."""
    require(site, endpoint_id)
    found = store.get_delivery(site, endpoint_id, delivery_id)
    if found is None or not store.redeliver(site, endpoint_id, delivery_id, clock.now_iso()):
        raise errors.NotFound(f"delivery '{delivery_id[:64]}' does not exist")
    worker.dispatch(site, endpoint_id, delivery_id)
    return {"deliveryId": delivery_id}
