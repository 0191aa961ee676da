"""The Lambda handlers the state machine calls, one per state.

Each takes the execution's JSON (`site`, `uuid`, `activityId`, `type`, `job`, `gateId`) and
returns it; rule failures are raised as `ActivityRuleBroken` for the ASL's Catch, conflicts
and throttles as `TransientError`/`StepConflict` for its Retry.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from chalicelib import clock
from chalicelib.activities import behaviour, bounty, coupon, gift, lifecycle, point, rewards
from chalicelib.activities.effects import ActivityRuleBroken, Context, Effects, StepConflict, transient_from
from chalicelib.engine.errors import DomainError
from chalicelib.observability import count, logger
from chalicelib.store import activities, sites
from chalicelib.store import mechanics as mechanics_store
from chalicelib.workflow import gate

Event = dict[str, Any]
GATE_WAIT_SECONDS = 5.0
_CONFLICT_ATTEMPTS = 5


class PredecessorPending(Exception):
    """An earlier activity of the same user is still being processed; the ASL retries."""


def _invocation(handler: Callable[[Event, Any], Event]) -> Callable[[Event, Any], Event]:
    """Every invocation logs with its own context, never the previous activity's.

    A warm environment keeps the logger between invocations; the keys are set anew (in
    thread-local storage, since the local runtime runs several invocations at once in one
    process) before the handler logs anything.
    """

    @functools.wraps(handler)
    def wrapper(event: Event, context: Any = None) -> Event:
        logger.thread_safe_clear_keys()
        logger.thread_safe_append_keys(step=handler.__name__, site=event.get("site"), user=event.get("uuid"),
                                       activity_id=event.get("activityId"), job=event.get("job"),
                                       request_id=getattr(context, "aws_request_id", None))
        return handler(event, context)

    return wrapper


def _retryable(handler: Callable[[Event, Any], Event]) -> Callable[[Event, Any], Event]:
    """A throttle or conflict on any DynamoDB call of a step (not only its commit) is retried.

    Left as a bare ClientError, its `errorType` would match no Retry and the Catch would fail
    the activity with InternalError although nothing was wrong with it.
    """

    @_invocation
    @functools.wraps(handler)
    def wrapper(event: Event, context: Any = None) -> Event:
        try:
            return handler(event, context)
        except ClientError as err:
            transient = transient_from(err)
            if transient is None:
                raise
            raise transient from err

    return wrapper


def _context(event: Event, *, stored: bool) -> Context:
    """The step's view: the activity as `begin` passed it along, or (`stored`) as stored now."""
    site = sites.get_site(event["site"])
    if site is None:
        raise ActivityRuleBroken("SiteNotFound", f"site '{event['site']}' does not exist")
    activity = None if stored else event.get("activity")
    if activity is None:
        activity = activities.get(event["site"], event["uuid"], event["activityId"])
    if activity is None:
        raise ActivityRuleBroken("ActivityNotFound", f"activity '{event['activityId']}' does not exist")
    return Context(event["site"], site, mechanics_store.load(event["site"]).mechanics, activity, clock.now())


def _run(event: Event, work: Callable[[Context], Effects], *, stored: bool = False) -> Effects:
    for attempt in range(_CONFLICT_ATTEMPTS):
        ctx = _context(event, stored=stored)
        try:
            effects = work(ctx)
        except StepConflict:
            if attempt == _CONFLICT_ATTEMPTS - 1:
                raise
            continue
        except DomainError as err:
            raise ActivityRuleBroken(err.type, err.message) from err
        if not effects.applied:
            logger.info("step already applied; nothing to do")
        return effects
    raise StepConflict("unreachable")


def _slim(activity: dict[str, Any]) -> dict[str, Any]:
    """What the steps need of the activity, carried in the execution instead of re-read."""
    return {k: activity.get(k) for k in ("id", "uuid", "type", "attrs", "reason", "createdAt", "by", "targetUuid",
                                         "verb")}


@_retryable
def begin(event: Event, context: Any = None) -> Event:
    """Wait for the user's earlier activities, then QUEUED -> PROCESSING.

    The gate comes first so that the status update can hand back the activity itself
    (ReturnValues): two requests on the common path. A redelivered execution of a finished
    activity finds the update's condition false and has nothing left to do.
    """
    site, uuid, activity_id = event["site"], event["uuid"], event["activityId"]
    gate_id = str(event.get("gateId") or activity_id)
    deadline = time.monotonic() + GATE_WAIT_SECONDS
    pause = 0.05
    while (earlier := activities.earlier_pending(site, uuid, gate_id)) is not None:
        if time.monotonic() >= deadline:
            raise PredecessorPending(f"waiting for {earlier}")
        gate.wait_for(earlier, pause)
        pause = min(pause * 1.5, 0.5)
    if event.get("job") == "reject":
        activity = activities.get(site, uuid, activity_id)
        rejection = (activity or {}).get("rejection") or {}
        if activity is None or activity["status"] != "SUCCEEDED" or not rejection.get("pending"):
            return {**event, "done": True}
    else:
        activity = activities.mark_processing(site, uuid, activity_id, clock.now_iso())
        if activity is None:
            return {**event, "done": True}
    return {**event, "done": False, "activity": _slim(activity)}


def _by_type(module: Any) -> Callable[[Event, Any], Event]:
    def handler(event: Event, context: Any = None) -> Event:
        effects = _run(event, module.process)
        if effects.applied:
            changed = effects.changed()
            blocked = bool(effects.result_blocked)
        else:  # a redelivery: what the first run changed is recorded on the activity
            stored = _context(event, stored=True).activity
            record = (stored.get("effects") or {}).get(stored["type"]) or {}
            changed = {"verbs": [record["verb"]] if record.get("verb") else [],
                       "points": sorted({e["pointId"] for e in record.get("ledger", [])
                                         if e["bookedUnder"] == "earned"})}
            blocked = bool(((stored.get("results") or {}).get(stored["type"]) or {}).get("blocked"))
        return {**event, "changed": changed, "blocked": blocked}

    handler.__name__ = handler.__qualname__ = f"{module.__name__.rsplit('.', 1)[-1]}_step"
    return _retryable(handler)


behaviour_step = _by_type(behaviour)
point_step = _by_type(point)
coupon_step = _by_type(coupon)
gift_step = _by_type(gift)
bounty_step = _by_type(bounty)


@_retryable
def rewards_step(event: Event, context: Any = None) -> Event:
    changed = event.get("changed") or {}
    gift_reward = ((event.get("activity") or {}).get("attrs") or {}).get("rewardId")
    if event.get("blocked") or not (changed.get("verbs") or changed.get("points") or gift_reward):
        return event  # nothing that could unlock a reward moved: no reads, no writes

    def work(ctx: Context) -> Effects:
        target = lifecycle.received_by(ctx.activity)
        uuids = [ctx.uuid] + ([target] if target else [])
        return rewards.process(ctx, uuids, changed.get("verbs", []), changed.get("points", []),
                               [gift_reward] if gift_reward else [])

    _run(event, work)
    return event


@_retryable
def finish_step(event: Event, context: Any = None) -> Event:
    _run(event, lifecycle.finish)
    gate.finished(str(event.get("gateId") or event["activityId"]))
    return {k: v for k, v in event.items() if k not in ("activity", "changed")}


@_retryable
def reject_step(event: Event, context: Any = None) -> Event:
    from chalicelib.activities import reject

    _run(event, reject.process, stored=True)
    gate.finished(str(event.get("gateId") or event["activityId"]))
    return {k: v for k, v in event.items() if k != "activity"}


@_invocation
def mark_failed(event: Event, context: Any = None) -> Event:
    error = failure_of(event.get("error") or {})
    if event.get("job") == "reject":
        from chalicelib.activities import reject

        # The activity stays SUCCEEDED: the reject is refused, not the activity failed.
        logger.info("reject refused", extra={"error_type": error["type"], "error_message": error["message"]})
        count("RejectRefused" if error["type"] != "InternalError" else "ActivityErrored",
              activity_type=event.get("type"))
        reject.abandon(event["site"], event["uuid"], event["activityId"], event.get("gateId", ""), error)
    else:
        logger.info("activity failed", extra={"error_type": error["type"], "error_message": error["message"]})
        count("ActivityFailed" if error["type"] != "InternalError" else "ActivityErrored",
              activity_type=event.get("type"))
        from chalicelib.activities import reject

        stored = activities.get(event["site"], event["uuid"], event["activityId"]) or {}
        if reject.applied_steps(stored) and stored.get("status") in ("QUEUED", "PROCESSING"):
            # Some steps committed before the failure: undo them, so FAILED means no effect.
            _run(event, lambda ctx: reject.compensate(ctx, error), stored=True)
        else:
            lifecycle.fail(event["site"], event["uuid"], event["activityId"], error, clock.now_iso())
    gate.finished(str(event.get("gateId") or event["activityId"]))
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
