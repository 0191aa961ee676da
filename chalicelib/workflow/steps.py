"""The Lambda handlers the state machine calls: one per activity type, doing its whole work.

Each takes the work's JSON (`site`, `uuid`, `activityId`, `type`, `job`, `gateId`, and usually
the activity's slim form as accepted) and returns it. A handler first checks, in one read,
that no earlier work of the same user is unfinished: if some is, it hands back at once
(`EarlierUnfinished`, carrying that work, which the consumer runs first). Nothing waits for
another activity. Then the type's own step, the rewards cascade when something could unlock,
and the finish, folded into the last commit. Rule failures are raised as `ActivityRuleBroken`
for the ASL's Catch; throttles as `TransientError` for its Retry; a condition that failed on
state is re-read and recomputed here (`StepConflict`), not by the ASL. An event with a `batch`
(several queued activities of one user and type, from the consumer) is processed one activity
after another in the same invocation (`_each`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from chalicelib import clock
from chalicelib.activities import behaviour, bounty, coupon, gift, lifecycle, point, rewards
from chalicelib.activities.effects import ActivityRuleBroken, Context, Effects, StepConflict, TransientError
from chalicelib.engine.errors import DomainError
from chalicelib.observability import count, logger
from chalicelib.store import activities, db, sites
from chalicelib.store import mechanics as mechanics_store
from chalicelib.workflow.definition import NOT_READY

Event = dict[str, Any]
# Re-reads after a condition failed on state (StepConflict): the only retry layer for it.
_CONFLICT_ATTEMPTS = 8


class EarlierUnfinished(Exception):
    """Earlier work of the same user has not ended: it must run first. The message is its JSON."""

    def __init__(self, work: dict[str, Any]) -> None:
        super().__init__(json.dumps(work, separators=(",", ":")))
        self.work = work


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

    The store's `Busy` becomes `TransientError`, the name the ASL's Retry matches; left as it
    is, the Catch would fail the activity with InternalError although nothing was wrong with it.
    """

    @_invocation
    @functools.wraps(handler)
    def wrapper(event: Event, context: Any = None) -> Event:
        try:
            return handler(event, context)
        except db.Busy as err:
            raise TransientError(str(err)) from err

    return wrapper


def _context(event: Event, *, stored: bool) -> Context:
    """The step's view: the activity as the work carries it, or (`stored`) as stored now."""
    site = sites.get_site(event["site"])
    if site is None:
        raise ActivityRuleBroken("SiteNotFound", f"site '{event['site']}' does not exist")
    activity = None if stored else event.get("activity")
    if activity is None:
        activity = activities.get(event["site"], event["uuid"], event["activityId"])
    if activity is None:
        raise ActivityRuleBroken("ActivityNotFound", f"activity '{event['activityId']}' does not exist")
    return Context(event["site"], site, mechanics_store.load(event["site"]).mechanics, activity, clock.now())


def _run(event: Event, work: Callable[[Context], Effects], *, stored: bool = False,
         last: bool | None = None, results: dict[str, Any] | None = None) -> Effects:
    """One step, re-read and recomputed on a conflict. `last`: a processing step, whose commit
    ends the activity when it is the last one (True: always; False: unless rewards follow)."""
    for attempt in range(_CONFLICT_ATTEMPTS):
        ctx = _context(event, stored=stored)
        if last is not None:
            ctx.closing = functools.partial(lifecycle.closing, last=last)
            ctx.results.update(results or {})
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


def _gate(event: Event) -> str:
    """The id of the work's ordering marker (an activity's own id; a reject job's id)."""
    return str(event.get("gateId") or event["activityId"])


def _its_turn(event: Event) -> bool:
    """True when this work is the user's earliest unfinished; False when it has ended already.

    Raises `EarlierUnfinished` when earlier work of the user has not ended (its hand-off was
    lost or is late): the consumer runs that first. Ids are time-ordered, so the earliest
    marker is the earliest accepted.
    """
    gate = _gate(event)
    earliest = activities.earliest_unfinished(event["site"], event["uuid"])
    if earliest is None or str(earliest["gateId"]) > gate:
        return False
    if str(earliest["gateId"]) < gate:
        logger.info("earlier work of this user is unfinished; handing back", extra={"earlier": earliest["gateId"]})
        raise EarlierUnfinished(earliest)
    return True


def _changed(effects: Effects, stored: dict[str, Any] | None) -> tuple[dict[str, list[str]], bool, dict[str, Any]]:
    """What the type step changed (verbs, earned points), whether it was blocked, its results;
    for a redelivery (`stored`: the activity as stored), what its first run recorded."""
    if stored is None:
        return effects.changed(), bool(effects.result_blocked), dict(effects.ctx.results)
    record = (stored.get("effects") or {}).get(stored["type"]) or {}
    changed = {"verbs": [record["verb"]] if record.get("verb") else [],
               "points": sorted({e["pointId"] for e in record.get("ledger", []) if e["bookedUnder"] == "earned"})}
    results = stored.get("results") or {}
    return changed, bool((results.get(stored["type"]) or {}).get("blocked")), results


def _ended_already(event: Event) -> None:
    """Work whose activity has ended while its marker is still there (its run died between the
    finish's commit and the marker's removal, which follows it): the marker goes, and the
    scores are set again (they follow the commit too)."""
    logger.info("work had ended; its ordering marker is cleared")
    count("EndedWorkMarkerCleared", activity_type=event.get("type"))
    activities.clear_marker(event["site"], event["uuid"], _gate(event))
    _scores_again(event)


def _unaccepted(event: Event) -> bool:
    """Work whose activity is not there: its accept died between the marker and the activity
    (the marker is cleared: True, nothing to run), or is still writing it (False: not ready)."""
    if activities.settle_unaccepted(event["site"], event["uuid"], _gate(event), clock.now()):
        logger.warning("marker of an accept that never committed cleared")
        count("UnacceptedMarkerCleared")
        return True
    return False


def _scores_again(event: Event) -> None:
    """Every board period of the work's user (and of a gift's or award's target) from the state
    items as stored: absolute and conditional on their versions, so harmless when nothing died."""
    ctx = _context(event, stored=False)
    if not ctx.mechanics.leaderboards:
        return
    target = lifecycle.received_by(ctx.activity)
    Effects(ctx, "scores").keep_scores(everything=True, users=[event["uuid"]] + ([target] if target else []))


def _by_type(module: Any) -> Callable[[Event, Any], Event]:
    def one(event: Event) -> bool:
        """The work's whole run; False when it is not ready (its accept is still writing it)."""
        if not _its_turn(event):
            # A redelivery of ended work: its first run may have died after its last commit,
            # before the scores it moved were set (they follow the commit): set them again.
            logger.info("work already ended; only its scores are set again")
            _scores_again(event)
            return True
        if event.get("activity") is None:
            # Work from a marker (handed back, or the reconciler's): the activity read once here.
            stored = activities.get(event["site"], event["uuid"], event["activityId"])
            if stored is None:
                return _unaccepted(event)
            if stored.get("status") in activities.ENDED_STATUSES:
                _ended_already(event)
                return True
            event = {**event, "activity": stored}
        effects = _run(event, module.process, last=False)
        if effects.finished:
            return True
        redelivered = None if effects.applied else _context(event, stored=True).activity
        if redelivered is not None and redelivered.get("status") in activities.ENDED_STATUSES:
            _ended_already(event)
            return True
        changed, blocked, results = _changed(effects, redelivered)
        # The activity the step ran with (the work's slim form, or as read above): what the next
        # steps go on with.
        activity = effects.ctx.activity
        event = {**event, "activity": activity}
        if lifecycle.rewards_pending(activity, changed, blocked):
            target = lifecycle.received_by(activity)
            gift_reward = (activity.get("attrs") or {}).get("rewardId")
            uuids = [event["uuid"]] + ([target] if target else [])

            def unlock(ctx: Context) -> Effects:
                return rewards.process(ctx, uuids, changed.get("verbs", []), changed.get("points", []),
                                       [gift_reward] if gift_reward else [])

            if _run(event, unlock, last=True, results=results).finished:
                return True
        _run(event, lifecycle.finish, last=True, results=results)
        return True

    def handler(event: Event, context: Any = None) -> Event:
        batch = event.get("batch")
        if not batch:
            return _out(event) if one(event) else {**_out(event), NOT_READY: True}
        processed = _each(batch, one)
        out = {**_out({k: v for k, v in event.items() if k != "batch"}), "processed": processed}
        return out if processed else {**out, NOT_READY: True}

    handler.__name__ = handler.__qualname__ = f"{module.__name__.rsplit('.', 1)[-1]}_step"
    return _retryable(handler)


def _each(batch: list[Event], one: Callable[[Event], bool]) -> int:
    """Several queued activities of one user and type, in order, in one invocation: how many ended.

    A broken rule ends its activity FAILED here (what MarkFailed would do) and the batch goes on;
    work that is not ready stops it.
    Anything else stops the batch: raised when nothing ended yet (the ASL's Retry and Catch take
    it, as for a single activity, whose fields the batch's event carries), else the count so far,
    and the consumer runs the rest in a new execution.
    """
    for done, work in enumerate(batch):
        logger.thread_safe_append_keys(activity_id=work.get("activityId"))
        try:
            if not one(work):
                return done
        except ActivityRuleBroken as broken:
            end_failed(work, {"type": broken.type, "message": broken.message})
        except Exception:
            if done == 0:
                raise
            logger.info("batch stopped; the rest runs in a new execution", extra={"processed": done})
            return done
    return len(batch)


def _out(event: Event) -> Event:
    return {k: v for k, v in event.items() if k != "activity"}


behaviour_step = _by_type(behaviour)
point_step = _by_type(point)
coupon_step = _by_type(coupon)
gift_step = _by_type(gift)
bounty_step = _by_type(bounty)


@_retryable
def reject_step(event: Event, context: Any = None) -> Event:
    from chalicelib.activities import reject

    if not _its_turn(event):
        return _out(event)
    activity = activities.get(event["site"], event["uuid"], event["activityId"])
    rejection = (activity or {}).get("rejection") or {}
    if activity is None or activity["status"] != "SUCCEEDED" or not rejection.get("pending") \
            or activity.get("rejectJob") != event.get("gateId"):
        # The job's marker outlived its reject (ended by another delivery): clear it.
        activities.clear_marker(event["site"], event["uuid"], _gate(event))
        return _out(event)
    _run({**event, "activity": activity}, reject.process)
    return _out(event)


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
        end_failed(event, error)
    return _out({k: v for k, v in event.items() if k != "batch"})


def end_failed(event: Event, error: dict[str, str]) -> None:
    """The activity -> FAILED with `{type, message}`; steps it had committed are undone first."""
    from chalicelib.activities import reject

    logger.info("activity failed", extra={"error_type": error["type"], "error_message": error["message"]})
    count("ActivityFailed" if error["type"] != "InternalError" else "ActivityErrored",
          activity_type=event.get("type"))
    stored = activities.get(event["site"], event["uuid"], event["activityId"])
    if stored is None:
        _unaccepted(event)  # nothing to fail: an accept that never committed (its marker goes)
    elif stored.get("status") in activities.ENDED_STATUSES:
        _ended_already(event)  # ended meanwhile (or long ago, its marker left behind)
    elif reject.applied_steps(stored):
        # Some steps committed before the failure: undo them, so FAILED means no effect.
        _run(event, lambda ctx: reject.compensate(ctx, error), stored=True)
    else:
        lifecycle.fail(event["site"], event["uuid"], event["activityId"], error, clock.now_iso())


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
    if name == "States.Timeout":
        return {"type": "Timeout", "message": "processing did not finish in time"}
    return {"type": "InternalError", "message": f"{name}: {message}"[:500]}
