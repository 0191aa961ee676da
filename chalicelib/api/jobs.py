"""Operator-only: run a scheduled job now, synchronously, in this process (`make rollup`).

In AWS the jobs run on their schedules (app.py) and, for big sites, fan out by segment
(docs/jobs.md); this route is for the local stack and for operators who need a run now.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from chalice import Blueprint

from chalicelib import errors
from chalicelib.api.routing import Call, parse_json_body, parse_model, resource, route

bp = Blueprint(__name__)

JOBS = ("rollup", "expiry", "ranks")


def _job_exists(call: Call, job: str) -> None:
    if job not in JOBS:
        raise errors.NotFound(f"no job '{job[:64]}'; the jobs are {', '.join(JOBS)}")


resource("jobs", _job_exists)


def _body() -> Any:
    """The optional body `{site?, now?, segments?, workers?}`; an empty body runs with defaults."""
    from pydantic import Field

    from chalicelib.models.base import RequestModel

    class JobRun(RequestModel):
        site: str | None = None
        now: str | None = None
        segments: int = Field(default=1, ge=1, le=62)
        workers: int = Field(default=1, ge=1, le=8)

    parsed = parse_json_body(bp.current_request.raw_body, required=False)
    if parsed is None:
        return JobRun()
    return parse_model(JobRun, parsed)


def _instant(raw: str | None) -> dt.datetime | None:
    if raw is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise errors.field_error("now", "must be an ISO-8601 date-time with Z or an offset") from None
    if moment.tzinfo is None:
        raise errors.field_error("now", "must carry a time zone (Z or an offset)")
    return moment.astimezone(dt.UTC)


@route(bp, "/jobs/{job}/run", "POST", role="operator", tag="operations", response="chalicelib.models.meta:JobRunSummary",
       summary="Run a scheduled job now (rollup, expiry or ranks); optional body {site, now, segments, workers}")
def run_job(call: Call) -> Any:
    """Runs a scheduled job at once (operators only): `rollup` closes finished KPI periods,
    `expiry` expires due credits, `ranks` refreshes leaderboard ranks and closes ended periods.
    Idempotent: running it twice changes nothing more."""
    job = call.params["job"]
    _job_exists(call, job)
    body = _body()
    now = _instant(body.now)
    sites = None
    if body.site is not None:
        from chalicelib.store import sites as sites_store

        if sites_store.get_site(body.site) is None:
            raise errors.SiteNotFound(f"site '{body.site[:64]}' does not exist")
        sites = [body.site]
    if job == "ranks":
        from chalicelib.jobs import ranks

        return {"job": job, **ranks.run(now, sites)}
    if job == "rollup":
        from chalicelib.jobs import rollup

        return rollup.run(now, sites, segments=body.segments, workers=body.workers)
    from chalicelib.jobs import expiry

    return expiry.run(now, sites, segments=body.segments, workers=body.workers)
