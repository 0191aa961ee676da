"""The hand-off of accepted work to processing, and running one piece of work.

Accept commits the activity and its ordering marker first; the hand-off is a SendMessage to a
FIFO queue with one message group per user (so one user's work reaches the consumer in
acceptance order, different users' in parallel), deduplicated by the work's id. A hand-off that
fails is not the client's problem: the marker is in the reconciler's index, which hands the
work over again (`chalicelib.jobs.reconcile`).

The consumer runs each piece of work as a synchronous Express execution of the activity state
machine. Synchronous Express executions run at most once and do not restart, so redelivery
comes from the queue, and the steps are idempotent.
"""

from __future__ import annotations

import json
import os
import uuid as uuids
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.config import settings
from chalicelib.observability import count, logger

Work = dict[str, Any]
_clients: dict[str, Any] = {}


def _client(service: str) -> Any:
    found = _clients.get(service)
    if found is None:
        config = None
        if service == "stepfunctions" and (os.environ.get("AWS_ENDPOINT_URL_SFN") or os.environ.get("AWS_ENDPOINT_URL")):
            # StartSyncExecution's host is `sync-states.<region>`: botocore prefixes the endpoint's
            # host with `sync-`, which a local endpoint (127.0.0.1) does not have.
            config = Config(inject_host_prefix=False)
        found = _clients[service] = boto3.client(service, config=config)  # type: ignore[call-overload]
    return found


def reset_client() -> None:
    _clients.clear()


def slim(activity: dict[str, Any]) -> dict[str, Any]:
    """What the steps need of the activity, carried in the work instead of re-read."""
    return {k: activity.get(k) for k in ("id", "uuid", "type", "attrs", "reason", "createdAt", "by", "targetUuid",
                                         "verb")}


def group_of(work: Work) -> str:
    """One message group per user: FIFO delivers a group's messages in order, one batch at a time."""
    return f"{work['site']}#{work['uuid']}"


def hand_off(work: Work, *, dedup: str | None = None) -> bool:
    """Queue `work` for processing; False (logged, counted) when the queue could not take it.

    `dedup` defaults to the work's id, so a repeated hand-off within SQS's five-minute window
    is dropped; the reconciler passes its own, since it hands over what may have been lost.
    """
    try:
        _client("sqs").send_message(
            QueueUrl=settings().activity_queue_url, MessageBody=json.dumps(work, separators=(",", ":")),
            MessageGroupId=group_of(work), MessageDeduplicationId=dedup or str(work["gateId"]))
    except (ClientError, BotoCoreError) as err:
        logger.warning("hand-off failed; the reconciler will hand the work over",
                       extra={"activity_id": work.get("activityId"), "job": work.get("job"), "error": str(err)})
        count("HandOffFailed", activity_type=work.get("type"))
        return False
    return True


def retry_later(visibility: dict[str, int]) -> None:
    """Received messages back to the queue: receipt handle -> seconds until they are visible.

    Best effort: a message whose visibility could not be changed comes back after the queue's
    own visibility timeout, which is later but equally safe.
    """
    handles = list(visibility.items())
    for start in range(0, len(handles), 10):
        entries = [{"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": seconds}
                   for i, (handle, seconds) in enumerate(handles[start:start + 10])]
        try:
            _client("sqs").change_message_visibility_batch(QueueUrl=settings().activity_queue_url, Entries=entries)
        except (ClientError, BotoCoreError) as err:
            logger.warning("could not hand messages back early", extra={"error": str(err)})


def run(work: Work) -> dict[str, Any]:
    """Run one piece of work through the state machine and wait for it: the execution's outcome.

    `{"status": SUCCEEDED|FAILED|TIMED_OUT, "output": {...} | None, "error": str | None}`.
    """
    name = f"{str(work['gateId'])[:40]}-{uuids.uuid4().hex[:12]}"
    out = _client("stepfunctions").start_sync_execution(
        stateMachineArn=settings().state_machine_arn, name=name, input=json.dumps(work, separators=(",", ":")))
    output = out.get("output")
    return {"status": out.get("status"), "output": json.loads(output) if output else None,
            "error": out.get("error"), "cause": out.get("cause")}
