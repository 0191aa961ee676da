"""Bodies of the operational routes: liveness, the document itself, a job run."""

from __future__ import annotations

from typing import Any, Literal

from chalicelib.models.base import ResponseModel


class Health(ResponseModel):
    status: Literal["ok"]  # 200 once ready; while starting, 503 with the error shape


class OpenApiDocument(ResponseModel):
    """This document (OpenAPI 3.1)."""

    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any]


class JobRunSummary(ResponseModel):
    """What one run did. `ranks`: `boards`, `written` and `busy` (boards another run of the job
    held: this one left them, run it again in a moment); `rollup` and `expiry`: `users`,
    `complete` and `bySite` (each site's run key and counts)."""

    job: Literal["rollup", "expiry", "ranks"]
    sites: int
