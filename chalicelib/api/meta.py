"""Unauthenticated operational routes."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.routing import Call, route

bp = Blueprint(__name__)


@route(bp, "/health", "GET", role=None, summary="Liveness", tag="operations",
       response="chalicelib.models.meta:Health")
def get_health(call: Call) -> Any:
    return {"status": "ok"}


@route(bp, "/openapi.json", "GET", role=None, summary="This API's OpenAPI 3 document", tag="operations",
       response="chalicelib.models.meta:OpenApiDocument")
def get_openapi_document(call: Call) -> Any:
    from chalicelib.api.openapi import document

    return document()
