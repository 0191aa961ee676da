"""The activity queue's consumer: each message's work, in order, as a synchronous Express execution.

Lambda's SQS event source hands over up to ten messages of a FIFO queue; the messages of one
message group (one user) arrive in acceptance order and never two batches of one group at
once. The consumer runs them one after another, so one user's activities take effect in
order while other users' batches run in other invocations; nothing waits for anything.

When a handler finds earlier work of the user unfinished (its hand-off was lost or is late),
the execution ends in `HandedBack` with that work: the consumer runs it first, then the
message's own work again. Earlier work whose activity is not written yet (its accept is under
way) is not ready: the message goes back to the queue and is tried again a moment later. A
message whose execution did not end (FAILED, TIMED_OUT, a start that failed) is reported in
`batchItemFailures` together with the later messages of its group, so SQS redelivers them, in
order, after the visibility timeout; other groups go on. AWS's guide asks a FIFO consumer to
give back everything after the first failure; giving back only the failed group keeps the
order it protects, without holding up other users.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.observability import count, logger
from chalicelib.workflow import starter
from chalicelib.workflow.definition import NOT_READY

# Earlier work found unfinished is run first; a chain this long means something is wrong with
# the user's markers, and the message goes back to the queue instead.
MAX_HAND_BACKS = 5
# A message is not started with less time left than this: the execution's own limit
# (TimeoutSeconds in the ASL) plus a margin, so that the invocation never dies mid-batch.
MIN_REMAINING_MS = 25_000


def consume(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """The SQS batch -> `{"batchItemFailures": [...]}` (ReportBatchItemFailures)."""
    failed_groups: dict[str, int] = {}  # group -> seconds until its messages are tried again
    failures: list[dict[str, str]] = []
    again: dict[str, int] = {}  # receipt handle -> visibility (seconds) of what goes back
    for group, run in _runs(event.get("Records") or []):
        if group not in failed_groups and _out_of_time(context):
            failed_groups[group] = 0  # not failed, only not started: back at once
        ended = 0 if group in failed_groups else process_run([work for _, work in run])
        if ended < len(run):
            if group not in failed_groups:
                receives = (run[ended][0].get("attributes") or {}).get("ApproximateReceiveCount") or 1
                failed_groups[group] = _backoff(int(receives))
            for record, _ in run[ended:]:
                failures.append({"itemIdentifier": record["messageId"]})
                again[record["receiptHandle"]] = failed_groups[group]
    if again:
        # What goes back is tried again after its backoff, not after the queue's whole visibility
        # timeout (90 s); the later messages of a failed group stay behind it (FIFO).
        starter.retry_later(again)
    return {"batchItemFailures": failures}


Run = list[tuple[dict[str, Any], dict[str, Any]]]  # (SQS record, its work), consecutive


def _runs(records: list[dict[str, Any]]) -> list[tuple[str, Run]]:
    """Consecutive messages of one user and one activity type, which one execution can process
    together; a reject job, or another type, starts a new run. Malformed messages are dropped."""
    runs: list[tuple[str, Run]] = []
    for record in records:
        group = (record.get("attributes") or {}).get("MessageGroupId", "")
        try:
            work = json.loads(record["body"])
            kind = (str(work["type"]), str(work["job"]))
        except (ValueError, KeyError, TypeError) as err:
            # A message nobody could ever process: dropped (and logged), never retried forever.
            logger.error("malformed work message dropped", extra={"message_id": record.get("messageId"),
                                                                  "error": str(err)})
            count("WorkMessageDropped")
            continue
        last = runs[-1] if runs else None
        if (last is not None and last[0] == group and kind[1] == "process"
                and (last[1][-1][1]["type"], last[1][-1][1]["job"]) == kind):
            last[1].append((record, work))
        else:
            runs.append((group, [(record, work)]))
    return runs


def process_run(works: list[dict[str, Any]]) -> int:
    """Several queued activities of one user and type, in order: how many ended (from the first).

    One execution, one invocation of the type's Lambda for all of them (`steps._each`), which
    ends them one after another; it may stop early, and the rest then runs in a new execution.
    """
    ended = 0
    while ended < len(works):
        rest = works[ended:]
        if len(rest) == 1:
            return ended + (1 if process(rest[0]) else 0)
        output = _run_handing_back({**rest[0], "batch": rest})
        if output is None:
            return ended
        ended += max(1, int(output.get("processed", 1)))
    return ended


def process(work: dict[str, Any]) -> bool:
    """Run `work` (and any earlier work of its user found unfinished first); True when it ended."""
    return _run_handing_back(work) is not None


def _run_handing_back(work: dict[str, Any]) -> dict[str, Any] | None:
    """The execution's output once it ran (earlier work handed back is run first); None if not."""
    for _ in range(MAX_HAND_BACKS + 1):
        outcome = _execute(work)
        if outcome is None:
            return None
        earlier = _handed_back(outcome)
        if earlier is None:
            return outcome
        logger.info("running the user's earlier work first",
                    extra={"activity_id": work.get("activityId"), "earlier": earlier.get("gateId")})
        count("EarlierWorkRunFirst")
        if _execute(earlier) is None:
            return None
    logger.warning("hand-back chain too long; the message goes back to the queue",
                   extra={"activity_id": work.get("activityId")})
    return None


def _backoff(receives: int) -> int:
    """Seconds before a failed message is tried again: 2, 4, 8, ... at most 30."""
    return min(30, 2 ** receives)


def _execute(work: dict[str, Any]) -> dict[str, Any] | None:
    """The execution's output when it ended SUCCEEDED; None (logged) otherwise."""
    try:
        outcome = starter.run(work)
    except (ClientError, BotoCoreError) as err:
        logger.warning("could not start the execution", extra={"activity_id": work.get("activityId"),
                                                               "error": str(err)})
        count("ExecutionNotStarted", activity_type=work.get("type"))
        return None
    if outcome["status"] != "SUCCEEDED":
        logger.warning("execution did not succeed", extra={
            "activity_id": work.get("activityId"), "job": work.get("job"), "status": outcome["status"],
            "error": outcome.get("error"), "cause": (outcome.get("cause") or "")[:500]})
        count("ExecutionFailed" if outcome["status"] == "FAILED" else "ExecutionTimedOut",
              activity_type=work.get("type"))
        return None
    output = outcome.get("output")
    if isinstance(output, dict) and output.get(NOT_READY):
        # Its activity is not written yet (an accept under way): neither ended nor failed.
        logger.info("work not ready; tried again later", extra={"activity_id": work.get("activityId")})
        count("WorkNotReady", activity_type=work.get("type"))
        return None
    return output if isinstance(output, dict) else {}


def _handed_back(output: dict[str, Any]) -> dict[str, Any] | None:
    """The earlier work a handler handed back (the ASL's `HandedBack` carries its error)."""
    caught = output.get("handBack")
    if not caught:
        return None
    cause = json.loads(caught.get("Cause") or "{}")
    work = json.loads(cause.get("errorMessage") or "{}")
    return work if isinstance(work, dict) and work.get("gateId") else None


def _out_of_time(context: Any) -> bool:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return remaining is not None and remaining() < MIN_REMAINING_MS
