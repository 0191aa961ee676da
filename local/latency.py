"""AWS-like latencies per call for the local runtime: one table, off by default.

`LOCAL_LATENCY=aws` (or `1`) adds, to every call the local runtime makes, the time the same call
takes on AWS inside one region; a number scales the whole table (`LOCAL_LATENCY=0.5`, `=2`);
unset, `0` or `off` adds nothing. The figures and where they come from are in
docs/architecture.md ("Lambda-like environments"); change them there and here together.

Where each figure is paid:
- DynamoDB, Step Functions API calls and SQS: a botocore `before-send` hook on the default
  boto3 session of every process that runs app code (the API's process and every Lambda-like
  environment), so every client the app creates pays it, without touching the app.
- Lambda invoke and the Step Functions transition into a Task: in the local runtime's proxy,
  before the event reaches the function (`local.lambda_env`, or the in-process wrapper).
- Lambda cold start: when an environment is created for a function (process mode only).

The table travels with every invoke to the Lambda-like environments, so a test or bench that
changes the scale in the stack's process changes it everywhere from the next invoke on.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

ENV = "LOCAL_LATENCY"

# Seconds per call, p50 inside one AWS region (us-east-1), warm connections. Sources and
# reasoning: docs/architecture.md, "AWS-like latencies (`LOCAL_LATENCY`)".
TABLE: dict[str, float] = {
    "dynamodb.read": 0.004,          # GetItem, Query, BatchGetItem, TransactGetItems, Scan
    "dynamodb.write": 0.006,         # PutItem, UpdateItem, DeleteItem, BatchWriteItem
    "dynamodb.transaction": 0.015,   # TransactWriteItems (two phases inside DynamoDB)
    "lambda.invoke": 0.015,          # warm synchronous invoke, as a Step Functions Task does
    "lambda.cold_start": 0.450,      # a new execution environment: Init of a Python 3.11 zip
    "stepfunctions.transition": 0.010,  # Step Functions' own time per Task state entered
    "stepfunctions.request": 0.020,  # StartExecution / StartSyncExecution request overhead
    "sqs.request": 0.020,            # SendMessage / ReceiveMessage (non-empty) / DeleteMessage
}

_READS = frozenset({"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"})
_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"})

_lock = threading.Lock()
_scale: float | None = None  # None: not read from the environment yet
_installed: set[int] = set()


def parse(raw: str | None) -> float:
    """`LOCAL_LATENCY`'s value as a scale of the table (0 = off)."""
    text = (raw or "").strip().lower()
    if text in ("", "0", "off", "false", "no", "none"):
        return 0.0
    if text in ("aws", "on", "true", "yes"):
        return 1.0
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{ENV} must be 'aws', 'off' or a scale such as 0.5 (got {raw!r})") from None
    if value < 0:
        raise ValueError(f"{ENV} must not be negative (got {raw!r})")
    return value


def scale() -> float:
    """The scale in force in this process (read from `LOCAL_LATENCY` at first use)."""
    global _scale
    if _scale is None:
        with _lock:
            if _scale is None:
                _scale = parse(os.environ.get(ENV))
    return _scale


def set_scale(value: float) -> None:
    """Switch the table on (1.0), off (0.0) or scale it, for this process from now on."""
    global _scale
    if value < 0:
        raise ValueError("a latency scale cannot be negative")
    _scale = float(value)


def delay(key: str) -> float:
    """Seconds to add for one call of kind `key` (a key of TABLE) at the current scale."""
    factor = scale()
    return TABLE[key] * factor if factor else 0.0


def pause(key: str) -> None:
    seconds = delay(key)
    if seconds:
        time.sleep(seconds)


def key_for(service: str, operation: str) -> str | None:
    """The table's key for one AWS request, or None (Lambda's invoke is paid by the proxy)."""
    if service == "dynamodb":
        if operation == "TransactWriteItems":
            return "dynamodb.transaction"
        if operation in _READS:
            return "dynamodb.read"
        if operation in _WRITES:
            return "dynamodb.write"
        return None  # control plane (CreateTable, DescribeTable...): not on a request path
    if service == "sfn" and operation.startswith("Start"):
        return "stepfunctions.request"
    if service == "sqs":
        return "sqs.request"
    return None


def _before_send(event_name: str = "", **_: Any) -> None:
    # event_name: before-send.<service>.<Operation>
    parts = event_name.split(".")
    if len(parts) >= 3 and scale():
        key = key_for(parts[1], parts[2])
        if key is not None:
            time.sleep(delay(key))
    return None  # never a response: the request goes on as usual


def install(events: Any = None) -> None:
    """Hook the table into `events` (default: the default boto3 session's, which every client
    created afterwards copies). Runs before anything else on `before-send`, so moto's in-process
    stub (which answers there) is delayed too. Idempotent per emitter; free while the scale is 0.
    """
    if events is None:
        import boto3

        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        assert boto3.DEFAULT_SESSION is not None
        events = boto3.DEFAULT_SESSION.events
    with _lock:
        if id(events) in _installed:
            return
        _installed.add(id(events))
    events.register_first("before-send", _before_send, unique_id="local-latency")
