"""The reconciler: no accepted work is ever stranded.

Every minute it reads the sparse index of unfinished work (the ordering markers, sharded
`UNFINISHED#nn` keys of GSI1: one Query per shard, never a Scan) for markers accepted more
than `HAND_OVER_AFTER` ago, and:
- hands the work over again while it is younger than `GIVE_UP_AFTER` (its first hand-off
  failed or was lost, its consumer crashed and the message is not back yet, ...): a second
  delivery of work that is running or has ended changes nothing, the steps are idempotent;
- fails it (`Timeout`, with its committed steps compensated, as MarkFailed does) once older,
  so that every accepted activity ends within five minutes under any single fault (a
  MarkFailed that could not write included). A reject job that old is refused instead: the
  activity stays SUCCEEDED with `rejection.refused` set.

A marker with no activity behind it (an accept that died between its marker and its activity:
no client was told of it) is cleared by whoever runs its work once the accept's grace has
passed (`store.activities.settle_unaccepted`), and a marker left after its activity ended by
the handler that finds it ended (`workflow.steps`): a hand-over or a give-up reaches both.

What it did is counted (`WorkHandedOver`, `WorkTimedOut`) and logged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from chalicelib import clock
from chalicelib.observability import count, logger
from chalicelib.store import activities
from chalicelib.store.userstate import parse_time

HAND_OVER_AFTER = dt.timedelta(seconds=60)
GIVE_UP_AFTER = dt.timedelta(seconds=180)
TIMEOUT_ERROR = {"Error": "States.Timeout", "Cause": "processing did not end in time"}


def _unfinished(cutoff: str) -> Iterator[tuple[dict[str, Any], dt.datetime]]:
    """Each unfinished work's hand-off and acceptance time, for markers accepted before `cutoff`."""
    for shard in activities.SHARDS:
        for marker in activities.unfinished(shard, cutoff):
            work = marker.get("todo")
            accepted = parse_time(marker.get("createdAt"))
            if work and accepted is not None:
                yield work, accepted


def run(event: Any = None, context: Any = None) -> dict[str, int]:
    from chalicelib.workflow import starter, steps

    now = clock.now()
    handed_over = timed_out = 0
    for work, accepted in _unfinished(clock.iso(now - HAND_OVER_AFTER)):
        if now - accepted >= GIVE_UP_AFTER:
            logger.warning("work did not end in time; failing it",
                           extra={"activity_id": work.get("activityId"), "job": work.get("job")})
            steps.mark_failed({**work, "error": TIMEOUT_ERROR}, None)
            timed_out += 1
        else:
            minute = now.strftime("%Y%m%d%H%M")
            if starter.hand_off(work, dedup=f"{work['gateId']}:{minute}"):
                handed_over += 1
    if handed_over:
        count("WorkHandedOver", value=handed_over)
        logger.info("unfinished work handed over again", extra={"work": handed_over})
    if timed_out:
        count("WorkTimedOut", value=timed_out)
    return {"handedOver": handed_over, "timedOut": timed_out}


def resume() -> int:
    """The local runtime restarted with its data but not its queue: hand every unfinished work
    over at once, whatever its age (the stack was down, not the work stuck). Each user's
    earliest unfinished work runs first, as always (the consumer's turn check)."""
    from chalicelib.workflow import starter

    now = clock.now()
    handed_over = cleared = 0
    for work, _ in _unfinished(clock.iso(now)):
        if work.get("job") == "process" and activities.get(work["site"], work["uuid"], work["activityId"]) is None:
            # An accept the stop cut between its marker and its activity: no one can still be
            # writing it, so its marker goes now rather than after the grace.
            activities.clear_marker(work["site"], work["uuid"], str(work["gateId"]))
            cleared += 1
            continue
        handed_over += starter.hand_off(work, dedup=f"{work['gateId']}:resume:{now.strftime('%Y%m%d%H%M%S')}")
    if handed_over or cleared:
        logger.info("unfinished work handed over after a restart",
                    extra={"work": handed_over, "unaccepted_markers_cleared": cleared})
    return handed_over
