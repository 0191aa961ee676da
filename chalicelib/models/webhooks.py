"""Webhook endpoints and their deliveries (api.md, "Webhooks and notifications")."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from chalicelib.models.base import RequestModel, ResponseModel, Timestamp
from chalicelib.webhooks.events import EVENT_TYPES

EventType = Literal[EVENT_TYPES]  # type: ignore[valid-type]
EventFilter = EventType | Literal["*"]
WebhookUrl = Annotated[str, Field(min_length=1, max_length=2048)]
Description = Annotated[str, Field(max_length=500)]
DeliveryStatus = Literal["pending", "succeeded", "failed"]


class WebhookCreate(RequestModel):
    url: WebhookUrl
    events: Annotated[list[EventFilter], Field(min_length=1, max_length=len(EVENT_TYPES) + 1)]
    description: Description = ""
    active: bool = True
    respect_user_preferences: bool = True


class WebhookPatch(RequestModel):
    url: WebhookUrl | None = None
    events: Annotated[list[EventFilter], Field(min_length=1, max_length=len(EVENT_TYPES) + 1)] | None = None
    description: Description | None = None
    active: bool | None = None
    respect_user_preferences: bool | None = None


class Webhook(ResponseModel):
    id: str
    url: str
    events: list[str]
    description: str
    active: bool
    respect_user_preferences: bool
    created_at: Timestamp


class WebhookCreated(Webhook):
    secret: str


class WebhookList(ResponseModel):
    items: list[Webhook]
    next_cursor: str | None


class DeliveryAccepted(ResponseModel):
    delivery_id: str


class Delivery(ResponseModel):
    delivery_id: str
    event_id: str
    event_type: str
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    last_attempt_at: Timestamp | None
    next_attempt_at: Timestamp | None
    created_at: Timestamp


class DeliveryList(ResponseModel):
    items: list[Delivery]
    next_cursor: str | None
