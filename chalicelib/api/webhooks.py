"""Webhook endpoints and their deliveries (admin only, reads included)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.routing import Call, Reply, page_args, paging_query, resource, route

M = "chalicelib.models.webhooks"
WebhookCreate, WebhookPatch, Webhook, WebhookCreated, WebhookList, DeliveryAccepted, DeliveryList = (
    f"{M}:{n}" for n in ("WebhookCreate", "WebhookPatch", "Webhook", "WebhookCreated", "WebhookList",
                         "DeliveryAccepted", "DeliveryList"))

bp = Blueprint(__name__)


def _webhook_exists(call: Call, endpoint_id: str) -> None:
    from chalicelib.domain import webhooks

    webhooks.require(call.params["site"], endpoint_id)


def _delivery_exists(call: Call, delivery_id: str) -> None:
    from chalicelib import errors
    from chalicelib.store import webhooks as store

    if store.get_delivery(call.params["site"], call.params["id"], delivery_id) is None:
        raise errors.NotFound(f"delivery '{delivery_id[:64]}' does not exist")


resource("webhooks", _webhook_exists)
resource("deliveries", _delivery_exists)


@route(bp, "/sites/{site}/webhooks", "POST", role="admin", summary="Create a webhook endpoint (the secret is shown once)",
       tag="webhooks", body=WebhookCreate, response=WebhookCreated, status=201)
def create_webhook(call: Call) -> Any:
    """Events of the types in `events` (`["*"]`: all) are delivered to `url`, signed with the
    secret in this answer (Standard Webhooks). In AWS stages the URL must be https and resolve to
    public addresses only; locally http to 127.0.0.1 and localhost is allowed too."""
    from chalicelib.domain import webhooks

    assert call.principal is not None
    return webhooks.create(call.params["site"], call.body, call.principal.by)


@route(bp, "/sites/{site}/webhooks", "GET", role="admin", summary="List webhook endpoints (no secrets)",
       tag="webhooks", response=WebhookList, query=paging_query())
def list_webhooks(call: Call) -> Any:
    from chalicelib.domain import webhooks
    from chalicelib.store import webhooks as store

    limit, cursor = page_args(call)
    items, next_cursor = store.list_endpoints(call.params["site"], limit, cursor)
    return {"items": [webhooks.view(i) for i in items], "nextCursor": next_cursor}


@route(bp, "/sites/{site}/webhooks/{id}", "GET", role="admin", summary="Get a webhook endpoint", tag="webhooks",
       response=Webhook)
def get_webhook(call: Call) -> Any:
    from chalicelib.domain import webhooks

    return webhooks.view(webhooks.require(call.params["site"], call.params["id"]))


@route(bp, "/sites/{site}/webhooks/{id}", "PATCH", role="admin", summary="Change a webhook endpoint", tag="webhooks",
       body=WebhookPatch, response=Webhook)
def patch_webhook(call: Call) -> Any:
    from chalicelib.domain import webhooks

    return webhooks.patch(call.params["site"], call.params["id"], call.body)


@route(bp, "/sites/{site}/webhooks/{id}", "DELETE", role="admin", summary="Delete a webhook endpoint", tag="webhooks")
def delete_webhook(call: Call) -> Any:
    """Its pending deliveries end `failed` at their next attempt."""
    from chalicelib.domain import webhooks

    webhooks.delete(call.params["site"], call.params["id"])
    return Reply(None, status=204)


@route(bp, "/sites/{site}/webhooks/{id}/rotate-secret", "POST", role="admin",
       summary="A new secret (shown once); the old one signs too for 24 hours", tag="webhooks", response=WebhookCreated)
def rotate_webhook_secret(call: Call) -> Any:
    from chalicelib.domain import webhooks

    return webhooks.rotate_secret(call.params["site"], call.params["id"])


@route(bp, "/sites/{site}/webhooks/{id}/test", "POST", role="admin", summary="Send a webhook.test event now",
       tag="webhooks", response=DeliveryAccepted, status=202)
def test_webhook(call: Call) -> Any:
    from chalicelib.domain import webhooks

    return webhooks.send_test(call.params["site"], call.params["id"])


@route(bp, "/sites/{site}/webhooks/{id}/deliveries", "GET", role="admin",
       summary="The endpoint's deliveries, newest first", tag="webhooks", response=DeliveryList,
       query={**paging_query(), "status": {"type": "string", "enum": ["pending", "succeeded", "failed"]}})
def list_webhook_deliveries(call: Call) -> Any:
    from chalicelib.domain import webhooks

    limit, cursor = page_args(call)
    return webhooks.deliveries(call.params["site"], call.params["id"], call.arg("status"), limit, cursor)


@route(bp, "/sites/{site}/webhooks/{id}/deliveries/{deliveryId}/redeliver", "POST", role="admin",
       summary="Deliver again now (the retry schedule from the start)", tag="webhooks", response=DeliveryAccepted,
       status=202)
def redeliver_webhook(call: Call) -> Any:
    from chalicelib.domain import webhooks

    return webhooks.redeliver(call.params["site"], call.params["id"], call.params["deliveryId"])
