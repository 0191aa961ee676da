"""The Lambda handlers the state machine calls, one per state.

Each takes the execution's JSON (`site`, `uuid`, `activityId`, `type`, `job`, `gateId`) and
returns it; rule failures are raised as `ActivityRuleBroken` for the ASL's Catch, conflicts
and throttles as `TransientError`/`StepConflict` for its Retry.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from chalicelib import clock
from chalicelib.activities import behaviour, bounty, coupon, gift, lifecycle, point, rewards
from chalicelib.activities.effects import ActivityRuleBroken, Context, StepConflict
from chalicelib.engine.errors import DomainError
from chalicelib.observability import logger
from chalicelib.store import activities, sites
from chalicelib.store import mechanics as mechanics_store

Event = dict[str, Any]
GATE_WAIT_SECONDS = 5.0
_CONFLICT_ATTEMPTS = 5


class PredecessorPending(Exception):
    """An earlier activity of the same user is still being processed; the ASL retries."""


def _context(event: Event) -> Context:
    site = sites.get_site(event["site"])
    if site is None:
        raise ActivityRuleBroken("SiteNotFound", f"site '{event['site']}' does not exist")
    activity = activities.get(event["site"], event["uuid"], event["activityId"])
    if activity is None:
        raise ActivityRuleBroken("ActivityNotFound", f"activity '{event['activityId']}' does not exist")
    return Context(event["site"], site, mechanics_store.load(event["site"]).mechanics, activity, clock.now())


def _run(event: Event, work: Callable[[Context], bool]) -> Event:
    logger.append_keys(site=event.get("site"), user=event.get("uuid"), activity_id=event.get("activityId"))
    for attempt in range(_CONFLICT_ATTEMPTS):
        ctx = _context(event)
        try:
            applied = work(ctx)
        except StepConflict:
            if attempt == _CONFLICT_ATTEMPTS - 1:
                raise
            continue
        except DomainError as err:
            raise ActivityRuleBroken(err.type, err.message) from err
        if not applied:
            logger.info("step already applied; nothing to do")
        return event
    return event


def begin(event: Event, context: Any = None) -> Event:
    site, uuid, activity_id = event["site"], event["uuid"], event["activityId"]
    activity = activities.get(site, uuid, activity_id)
    if activity is None:
        raise ActivityRuleBroken("ActivityNotFound", f"activity '{activity_id}' does not exist")
    if event.get("job") == "reject":
        rejection = activity.get("rejection") or {}
        if activity["status"] != "SUCCEEDED" or not rejection.get("pending"):
            return {**event, "done": True}
    elif activity["status"] not in ("QUEUED", "PROCESSING"):
        return {**event, "done": True}
    gate = str(event.get("gateId") or activity_id)
    deadline = time.monotonic() + GATE_WAIT_SECONDS
    pause = 0.01
    while (earlier := activities.earlier_pending(site, uuid, gate)) is not None:
        if time.monotonic() >= deadline:
            raise PredecessorPending(f"waiting for {earlier}")
        time.sleep(pause)
        pause = min(pause * 1.5, 0.2)
    if event.get("job") != "reject":
        activities.mark_processing(site, uuid, activity_id, clock.now_iso())
    return {**event, "done": False}


def _by_type(module: Any) -> Callable[[Event, Any], Event]:
    def handler(event: Event, context: Any = None) -> Event:
        return _run(event, module.process)

    return handler


behaviour_step = _by_type(behaviour)
point_step = _by_type(point)
coupon_step = _by_type(coupon)
gift_step = _by_type(gift)
bounty_step = _by_type(bounty)


def rewards_step(event: Event, context: Any = None) -> Event:
    def work(ctx: Context) -> bool:
        record = (ctx.activity.get("effects") or {}).get(ctx.activity["type"]) or {}
        if (ctx.activity.get("results") or {}).get(ctx.activity["type"], {}).get("blocked"):
            return rewards.process(ctx, [], [], [], [])
        target = lifecycle.received_by(ctx.activity)
        uuids = [ctx.uuid] + ([target] if target else [])
        points = sorted({e["pointId"] for e in record.get("ledger", []) if e["bookedUnder"] == "earned"})
        verbs = [record["verb"]] if record.get("verb") else []
        gift_reward = (ctx.activity.get("attrs") or {}).get("rewardId")
        return rewards.process(ctx, uuids, verbs, points, [gift_reward] if gift_reward else [])

    return _run(event, work)


def finish_step(event: Event, context: Any = None) -> Event:
    return _run(event, lifecycle.finish)


def reject_step(event: Event, context: Any = None) -> Event:
    from chalicelib.activities import reject

    return _run(event, reject.process)


def mark_failed(event: Event, context: Any = None) -> Event:
    error = failure_of(event.get("error") or {})
    logger.info("activity failed", extra={"error_type": error["type"]})
    if event.get("job") == "reject":
        from chalicelib.activities import reject

        reject.abandon(event["site"], event["uuid"], event["activityId"], event.get("gateId", ""), error)
    else:
        lifecycle.fail(event["site"], event["uuid"], event["activityId"], error, clock.now_iso())
    return event


def failure_of(error: dict[str, Any]) -> dict[str, str]:
    """The `{type, message}` of a caught error: a rule's own, or an internal one."""
    name = str(error.get("Error", "InternalError"))
    cause_raw = error.get("Cause") or ""
    message = cause_raw
    try:
        cause = json.loads(cause_raw) if cause_raw else {}
        message = str(cause.get("errorMessage", cause_raw)) if isinstance(cause, dict) else cause_raw
    except ValueError:
        cause = {}
    if name == "ActivityRuleBroken":
        try:
            inner = json.loads(message)
            return {"type": str(inner["type"]), "message": str(inner["message"])}
        except (ValueError, KeyError, TypeError):
            pass
    if name == "PredecessorPending" or name == "States.Timeout":
        return {"type": "Timeout", "message": "an earlier activity of this user did not finish in time"}
    return {"type": "InternalError", "message": f"{name}: {message}"[:500]}
