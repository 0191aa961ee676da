"""Lambda's SQS event source mapping, for the local runtime.

On AWS, an event source mapping polls the queue (long polling), invokes the function with a
batch of up to BatchSize messages in Lambda's SQS event shape, and deletes what the function
processed: the whole batch when it returns normally, every message but the ones it lists
when it answers a partial batch response (`FunctionResponseTypes: [ReportBatchItemFailures]`),
nothing when it fails (the batch becomes visible again after the queue's visibility timeout
and is retried; the queue's redrive policy moves a message to its dead-letter queue after
maxReceiveCount receives). On a FIFO queue, a message group's messages are delivered in order
and a group never has two batches in flight; several groups are processed in parallel.

moto's own event source mapping invokes the function inline, inside SendMessage, and deletes
the message whatever happened: no batches, no visibility, no retries. This module is the
poller the local runtime runs instead (docs/moto-patches.md, "SQS to Lambda"). It relies on
SQS itself for visibility, group order and redrive, as Lambda does: moto applies them on
ReceiveMessage (with the `sqs_receive_like_aws` fix of local/patches.py making a receive
atomic, so two pollers never take one group's messages at once).

    poller = sqs_poller.start(queue_url, invoke, batch_size=10, pollers=2, name="activity-consumer")
    ...
    poller.stop()   # joins every thread it started

`invoke(event, context)` is the function: it answers the handler's response (a partial batch
response, or anything else) or raises (a function error).
"""

from __future__ import annotations

import base64
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

LOG = logging.getLogger(__name__)

MAX_BATCH = 10          # what one ReceiveMessage answers (and a FIFO mapping's maximum BatchSize)
WAIT_SECONDS = 1        # long polling: a receive waits up to this long for a message (Lambda: 20 s;
#                         shorter here so that stop() returns promptly)
ERROR_PAUSE = 0.5       # after a failed SQS call, before the next one
EMPTY_PAUSE = 0.1       # after an empty receive that came back at once (no long polling): never spin
LAMBDA_ATTRIBUTES = ("ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp",
                     "SequenceNumber", "MessageGroupId", "MessageDeduplicationId", "AWSTraceHeader")

_QUEUE_URL = re.compile(r"^https?://(?:sqs\.)?(?P<region>[a-z]{2}(?:-[a-z]+)+-\d)\.")


class _Context:
    """The Lambda context a handler reads; a fresh request id per invoke, as on AWS."""

    def __init__(self, name: str, region: str, timeout_seconds: float = 30.0) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.aws_request_id = str(uuid.uuid4())
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = f"arn:aws:lambda:{region}:123456789012:function:{name}"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """SQS's MessageAttributeValue as Lambda writes it in the event (camelCase, binary as base64)."""
    def b64(raw: Any) -> str:
        return base64.b64encode(raw).decode() if isinstance(raw, bytes | bytearray) else str(raw)

    out: dict[str, Any] = {"stringListValues": list(value.get("StringListValues", [])),
                           "binaryListValues": [b64(v) for v in value.get("BinaryListValues", [])],
                           "dataType": value.get("DataType")}
    if "StringValue" in value:
        out["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        out["binaryValue"] = b64(value["BinaryValue"])
    return out


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """Lambda's event for a batch of received messages (the shape in "Using Lambda with Amazon SQS")."""
    records = []
    for message in messages:
        attributes = message.get("Attributes", {})
        record: dict[str, Any] = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message.get("Body", ""),
            "attributes": {k: str(attributes[k]) for k in LAMBDA_ATTRIBUTES if k in attributes},
            "messageAttributes": {k: _message_attribute(v) for k, v in message.get("MessageAttributes", {}).items()},
            "md5OfBody": message.get("MD5OfBody"),
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": region,
        }
        if message.get("MD5OfMessageAttributes"):
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        records.append(record)
    return {"Records": records}


class MalformedResponse(ValueError):
    """A partial batch response Lambda would treat as a failure of the whole batch."""


def failed_items(response: Any, message_ids: list[str]) -> set[str]:
    """The message ids a handler's response reports as failed, by Lambda's rules for
    `ReportBatchItemFailures`: no response, or no / an empty / a null `batchItemFailures`, is
    complete success; an entry without a non-empty `itemIdentifier` of a message in the batch
    (an empty or null identifier, a wrong key, an unknown id), or a response that is not an
    object, is a complete failure (raised as MalformedResponse)."""
    if response is None:
        return set()
    if not isinstance(response, dict):
        raise MalformedResponse(f"the response is not an object: {response!r:.200}")
    failures = response.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        raise MalformedResponse(f"batchItemFailures is not a list: {failures!r:.200}")
    known = set(message_ids)
    found = set()
    for entry in failures:
        identifier = entry.get("itemIdentifier") if isinstance(entry, dict) else None
        if not isinstance(identifier, str) or not identifier or identifier not in known:
            raise MalformedResponse(f"batchItemFailures entry {entry!r:.200} names no message of the batch")
        found.add(identifier)
    return found


class Poller:
    """Threads that poll one queue and invoke one function; `stop()` ends and joins them."""

    def __init__(self, queue_url: str, invoke: Callable[[dict[str, Any], Any], Any], *, batch_size: int,
                 pollers: int, name: str, client_factory: Callable[[], Any], timeout_seconds: float = 30.0) -> None:
        self.queue_url = queue_url
        self.timeout_seconds = timeout_seconds
        self.name = name
        self._invoke = invoke
        self._batch_size = batch_size
        self._client_factory = client_factory
        self._stopping = threading.Event()
        client = client_factory()
        self.queue_arn = str(client.get_queue_attributes(QueueUrl=queue_url,
                                                         AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])
        self.region = self.queue_arn.split(":")[3]
        self.invocations = 0  # batches handed to the function (for logs and tests)
        self._count_lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, name=f"{name}-poller-{i}", daemon=True)
                         for i in range(pollers)]
        for thread in self._threads:
            thread.start()

    @property
    def threads(self) -> list[threading.Thread]:
        return list(self._threads)

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop polling and join every thread (a batch being processed is finished first; a
        receive in progress ends within WAIT_SECONDS). Logs a warning naming any thread still
        running after `timeout` seconds."""
        self._stopping.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        alive = [thread.name for thread in self._threads if thread.is_alive()]
        if alive:
            LOG.warning("sqs poller %s: threads still running after %.1f s: %s", self.name, timeout, alive)

    def _run(self) -> None:
        client = None
        while not self._stopping.is_set():
            try:
                if client is None:
                    client = self._client_factory()
                self._poll_once(client)
            except Exception:  # a poller survives anything: log, pause, go on
                LOG.exception("sqs poller %s: polling %s failed", self.name, self.queue_url)
                client = None  # a fresh client next time (a broken connection, a restarted endpoint)
                self._stopping.wait(ERROR_PAUSE)

    def _poll_once(self, client: Any) -> None:
        asked = time.monotonic()
        received = client.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=self._batch_size,
                                          WaitTimeSeconds=WAIT_SECONDS, AttributeNames=["All"],
                                          MessageSystemAttributeNames=["All"], MessageAttributeNames=["All"])
        messages = received.get("Messages", [])
        if not messages:
            if time.monotonic() - asked < EMPTY_PAUSE / 2:
                self._stopping.wait(EMPTY_PAUSE)
            return
        # Received: processed even while stopping (it would only come back after the visibility timeout).
        event = sqs_event(messages, self.queue_arn, self.region)
        ids = [message["MessageId"] for message in messages]
        with self._count_lock:
            self.invocations += 1
        try:
            response = self._invoke(event, _Context(self.name, self.region, self.timeout_seconds))
            failed = failed_items(response, ids)
        except MalformedResponse as exc:
            LOG.error("sqs poller %s: malformed partial batch response, the batch of %d is retried: %s",
                      self.name, len(ids), exc)
            return
        except Exception as exc:
            LOG.warning("sqs poller %s: function error, the batch of %d is retried after the visibility "
                        "timeout: %s: %s", self.name, len(ids), type(exc).__name__, exc)
            return
        done = [(i, m) for i, m in enumerate(messages) if m["MessageId"] not in failed]
        if failed:
            LOG.info("sqs poller %s: %d of %d messages reported failed, kept for a retry",
                     self.name, len(failed), len(ids))
        if done:
            answer = client.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                {"Id": f"m{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in done])
            for failure in answer.get("Failed", []):
                LOG.warning("sqs poller %s: could not delete a processed message (it will be delivered again): %s",
                            self.name, failure)


def _region_of(queue_url: str) -> str | None:
    match = _QUEUE_URL.match(queue_url)
    return match.group("region") if match else None


def start(queue_url: str, invoke: Callable[[dict[str, Any], Any], Any], *, batch_size: int = 10, pollers: int = 2,
          name: str = "sqs-event-source", client_factory: Callable[[], Any] | None = None,
          timeout_seconds: float = 30.0) -> Poller:
    """Poll `queue_url` with `pollers` threads and hand each batch of up to `batch_size` messages to
    `invoke(event, context)`, as Lambda's SQS event source mapping with ReportBatchItemFailures does.

    `client_factory` makes the SQS client each thread uses; by default `boto3.client("sqs")`
    in the queue URL's region (AWS_ENDPOINT_URL, when set, points it at a local endpoint).
    `timeout_seconds`: the function's configured timeout, which its context counts down from.
    """
    if not 1 <= batch_size <= MAX_BATCH:
        raise ValueError(f"batch_size must be 1 to {MAX_BATCH} (one ReceiveMessage), not {batch_size}")
    if pollers < 1:
        raise ValueError(f"pollers must be at least 1, not {pollers}")
    if client_factory is None:
        region = _region_of(queue_url)

        def client_factory() -> Any:
            import boto3

            return boto3.client("sqs", region_name=region) if region else boto3.client("sqs")

    return Poller(queue_url, invoke, batch_size=batch_size, pollers=pollers, name=name, client_factory=client_factory,
                  timeout_seconds=timeout_seconds)
