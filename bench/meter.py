"""Metering of everything one process sends to AWS and every Lambda function it runs.

Used by bench/cost.py with the local stack in its own process (thread mode: the API, the state
machine interpreter and every Lambda function run here). Nothing here depends on the pipeline's
shape: every botocore request of every client is seen (the app's, the local runtime's and moto's
own Task clients: `BaseClient._make_api_call` is wrapped), every Lambda function the local
runtime registers is wrapped whatever its name (`local.patches.register_functions` and the
handlers already registered), and every API request is seen where the local gateway hands it to
the app (`chalice.local.LocalGateway.handle_request`).

Who made a request decides its phase: inside an API request, `accept` for a POST and `poll` for
a GET; inside a Lambda function (or outside both, e.g. a local queue poller), `processing`.

DynamoDB units come from item sizes (bench/ddb_units.py): before a write, the items it touches
are read straight from the stack's moto (unmetered), and again after it; a Query is evaluated
again without its projection and filter to get the size of what DynamoDB read.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import ddb_units as units

PLATFORM_LOG_BYTES = 310  # Lambda's own START / END / REPORT lines per invocation (about; not measured)
EMF_METRIC_BYTES = 330  # one powertools single_metric EMF line (about; metrics are off locally)
SQS_CHUNK = 64 * 1024

_WRITES = {"PutItem", "UpdateItem", "DeleteItem"}


@dataclass
class Frame:
    kind: str  # "api" or "function"
    name: str  # HTTP method + path, or the function's deployed name
    invocation: int


@dataclass
class Call:
    service: str
    op: str
    phase: str
    function: str | None
    invocation: int | None
    seconds: float
    rru: float = 0.0
    wru: int = 0  # table + indexes
    index_wru: int = 0
    # (key space: "table" or the index name, partition key value, RRU, WRU)
    parts: list[tuple[str, str, float, int]] = field(default_factory=list)
    sqs_requests: int = 0
    execution_arn: str | None = None
    queue_url: str | None = None
    error: str | None = None


@dataclass
class Invocation:
    id: int
    kind: str  # "api" or "function"
    name: str
    phase: str
    seconds: float = 0.0
    log_bytes: int = 0
    metrics: int = 0


def _phase_of(frame: Frame | None) -> str:
    if frame is None or frame.kind == "function":
        return "processing"
    return "accept" if frame.name.startswith("POST ") else "poll"


def _key_string(value: Any) -> str:
    if isinstance(value, dict) and len(value) == 1:
        return str(next(iter(value.values())))
    return str(value)


class Meter:
    def __init__(self, measure_units: bool = True) -> None:
        self.measure_units = measure_units
        self.lock = threading.Lock()
        self.calls: list[Call] = []
        self.invocations: list[Invocation] = []
        self._local = threading.local()
        self._next = 0
        self._tables: dict[str, units.TableSpec] = {}
        self._raw_client: Any = None
        self._pending_logs: dict[int, int] = {}
        self._pending_metrics: dict[int, int] = {}
        self._restore: list[tuple[Any, str, Any]] = []

    # --- context -------------------------------------------------------------------------
    def _stack(self) -> list[Frame]:
        stack = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack

    def _frame(self) -> Frame | None:
        stack = self._stack()
        return stack[-1] if stack else None

    @contextlib.contextmanager
    def unmetered(self) -> Iterator[None]:
        """Requests made inside are not counted (the bench's own waiting and measuring)."""
        previous = getattr(self._local, "raw", False)
        self._local.raw = True
        try:
            yield
        finally:
            self._local.raw = previous

    def _is_raw(self) -> bool:
        return bool(getattr(self._local, "raw", False))

    @contextlib.contextmanager
    def _invocation(self, kind: str, name: str) -> Iterator[Invocation]:
        with self.lock:
            self._next += 1
            inv = Invocation(self._next, kind, name, _phase_of(Frame(kind, name, 0)))
        stack = self._stack()
        stack.append(Frame(kind, name, inv.id))
        started = time.perf_counter()
        try:
            yield inv
        finally:
            inv.seconds = time.perf_counter() - started
            stack.pop()
            with self.lock:
                self.invocations.append(inv)

    def take(self) -> tuple[list[Call], list[Invocation]]:
        with self.lock:
            calls, self.calls = self.calls, []
            invocations, self.invocations = self.invocations, []
        return calls, invocations

    # --- installation --------------------------------------------------------------------
    def _swap(self, owner: Any, name: str, replacement: Any) -> None:
        self._restore.append((owner, name, getattr(owner, name)))
        setattr(owner, name, replacement)

    def install_botocore(self) -> None:
        """Meter every botocore request of this process (every client, whatever its session)."""
        import botocore.client

        meter = self
        original_call = botocore.client.BaseClient._make_api_call  # type: ignore[attr-defined]

        def _make_api_call(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
            if meter._is_raw():
                return original_call(client, operation_name, api_params)
            return meter._metered_call(client, operation_name, api_params, original_call)

        self._swap(botocore.client.BaseClient, "_make_api_call", _make_api_call)

    def install(self) -> None:
        """Wrap botocore, the local gateway and the function registry (before the stack starts)."""
        from chalice.local import LocalGateway

        from local import patches

        self.install_botocore()
        meter = self
        original_request = LocalGateway.handle_request

        def handle_request(gateway: Any, method: str, path: str, headers: Any, body: Any) -> Any:
            with meter._invocation("api", f"{method} {path}"):
                return original_request(gateway, method, path, headers, body)

        self._swap(LocalGateway, "handle_request", handle_request)
        original_register = patches.register_functions

        def register_functions(handlers: dict[str, Callable[[Any, Any], Any]]) -> None:
            # In place: a caller that hands the same dict to a queue poller afterwards hands the
            # metered handlers.
            for name, handler in list(handlers.items()):
                handlers[name] = meter.wrap_function(name, handler)
            original_register(handlers)

        self._swap(patches, "register_functions", register_functions)
        self.wrap_registered()

    def uninstall(self) -> None:
        while self._restore:
            owner, name, original = self._restore.pop()
            setattr(owner, name, original)

    def wrap_registered(self) -> None:
        """Wrap the handlers already registered (idempotent)."""
        from local import patches

        handlers = patches._handlers
        for name, handler in list(handlers.items()):
            handlers[name] = self.wrap_function(name, handler)

    def wrap_function(self, name: str, handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        if getattr(handler, "_metered", False):
            return handler
        meter = self

        def run(event: Any, context: Any) -> Any:
            with meter._invocation("function", name):
                return handler(event, context)

        run._metered = True  # type: ignore[attr-defined]
        return run

    def log_sink(self) -> Any:
        """A stream that counts the bytes written to it against the current invocation."""
        meter = self

        class Sink:
            def write(self, text: str) -> int:
                frame = meter._frame()
                size = len(text.encode("utf-8"))
                if frame is not None:
                    with meter.lock:
                        meter._pending_logs[frame.invocation] = meter._pending_logs.get(frame.invocation, 0) + size
                return len(text)

            def flush(self) -> None:
                return None

        return Sink()

    def count_metric(self) -> None:
        frame = self._frame()
        if frame is not None:
            with self.lock:
                self._pending_metrics[frame.invocation] = self._pending_metrics.get(frame.invocation, 0) + 1

    def settle_logs(self, invocations: list[Invocation]) -> None:
        logs, metrics = self._pending_logs, self._pending_metrics
        with self.lock:
            for inv in invocations:
                inv.log_bytes = logs.pop(inv.id, 0)
                inv.metrics = metrics.pop(inv.id, 0)

    # --- one request -----------------------------------------------------------------------
    def _metered_call(self, client: Any, op: str, params: dict[str, Any], original: Any) -> Any:
        service = client.meta.service_model.service_name
        frame = self._frame()
        call = Call(service, op, _phase_of(frame), frame.name if frame and frame.kind == "function" else None,
                    frame.invocation if frame else None, 0.0)
        before = self._before(client, op, params) if service == "dynamodb" and self.measure_units else None
        started = time.perf_counter()
        result: Any = None
        try:
            result = original(client, op, params)
            return result
        except Exception as exc:
            call.error = getattr(exc, "response", {}).get("Error", {}).get("Code") or type(exc).__name__
            raise
        finally:
            call.seconds = time.perf_counter() - started
            try:
                if service == "dynamodb" and self.measure_units:
                    self._dynamodb_units(call, client, params, before, result)
                elif service == "sqs":
                    call.sqs_requests = _sqs_requests(op, params, result)
                    call.queue_url = params.get("QueueUrl")
                elif service in ("stepfunctions", "sfn") and isinstance(result, dict):
                    call.execution_arn = result.get("executionArn")
            finally:
                with self.lock:
                    self.calls.append(call)

    # --- DynamoDB ----------------------------------------------------------------------------
    def _raw(self, client: Any) -> Any:
        if self._raw_client is None:
            import boto3

            with self.unmetered():
                self._raw_client = boto3.client("dynamodb", region_name=client.meta.region_name)
        return self._raw_client

    def table_spec(self, client: Any, name: str) -> units.TableSpec:
        spec = self._tables.get(name)
        if spec is None:
            with self.unmetered():
                described = self._raw(client).describe_table(TableName=name)["Table"]
            spec = self._tables[name] = table_spec_of(described)
        return spec

    def _get(self, client: Any, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        with self.unmetered():
            found = self._raw(client).get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        return dict(found) if found else None

    def _key_of(self, client: Any, table: str, item: dict[str, Any]) -> dict[str, Any]:
        spec = self.table_spec(client, table)
        return {a: item[a] for a in spec.key_attributes if a in item}

    def _targets(self, client: Any, op: str, params: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
        """(action, table, key) of every item a write request touches."""
        if op in ("PutItem",):
            return [("Put", params["TableName"], self._key_of(client, params["TableName"], params["Item"]))]
        if op in ("UpdateItem", "DeleteItem"):
            return [(op.removesuffix("Item"), params["TableName"], params["Key"])]
        if op == "BatchWriteItem":
            out = []
            for table, requests in params.get("RequestItems", {}).items():
                for request in requests:
                    if "PutRequest" in request:
                        out.append(("Put", table, self._key_of(client, table, request["PutRequest"]["Item"])))
                    else:
                        out.append(("Delete", table, request["DeleteRequest"]["Key"]))
            return out
        if op == "TransactWriteItems":
            out = []
            for entry in params.get("TransactItems", []):
                (action, body), = entry.items()
                key = body.get("Key") or self._key_of(client, body["TableName"], body.get("Item", {}))
                out.append((action, body["TableName"], key))
            return out
        return []

    def _before(self, client: Any, op: str, params: dict[str, Any]) -> list[dict[str, Any] | None]:
        return [self._get(client, table, key) for _, table, key in self._targets(client, op, params)]

    def _dynamodb_units(self, call: Call, client: Any, params: dict[str, Any],
                        before: list[dict[str, Any] | None] | None, result: Any) -> None:
        op = call.op
        if op in _WRITES or op in ("BatchWriteItem", "TransactWriteItems"):
            targets = self._targets(client, op, params)
            transactional = op == "TransactWriteItems"
            cancelled = call.error in ("ConditionalCheckFailedException", "TransactionCanceledException")
            for (action, table, key), old in zip(targets, before or [], strict=False):
                spec = self.table_spec(client, table)
                new = None if action == "Delete" else (old if action == "ConditionCheck" else self._get(client, table, key))
                if cancelled:
                    new = old
                cost = units.write_cost(spec, old, new, transactional=transactional,
                                        condition_check=action == "ConditionCheck", failed=cancelled)
                pk = _key_string(key.get(spec.hash_key))
                call.wru += cost.total
                call.index_wru += sum(cost.indexes.values())
                call.parts.append(("table", pk, 0.0, cost.table))
                if not cancelled and action != "ConditionCheck":
                    for ix in spec.indexes:
                        for partition, wru in units.index_write_parts(spec, ix, old, new):
                            call.parts.append((ix.name, _key_string(partition), 0.0, wru))
            return
        if call.error:
            return
        if op == "GetItem":
            table = params["TableName"]
            item = self._get(client, table, params["Key"])
            rru = units.read_units(units.item_size(item), consistent=bool(params.get("ConsistentRead")))
            spec = self.table_spec(client, table)
            call.rru += rru
            call.parts.append(("table", _key_string(params["Key"].get(spec.hash_key)), rru, 0))
        elif op == "BatchGetItem":
            for table, request in params.get("RequestItems", {}).items():
                spec = self.table_spec(client, table)
                for key in request.get("Keys", []):
                    rru = units.read_units(units.item_size(self._get(client, table, key)),
                                           consistent=bool(request.get("ConsistentRead")))
                    call.rru += rru
                    call.parts.append(("table", _key_string(key.get(spec.hash_key)), rru, 0))
        elif op == "TransactGetItems":
            for entry in params.get("TransactItems", []):
                body = entry["Get"]
                spec = self.table_spec(client, body["TableName"])
                rru = units.read_units(units.item_size(self._get(client, body["TableName"], body["Key"])),
                                       consistent=True, transactional=True)
                call.rru += rru
                call.parts.append(("table", _key_string(body["Key"].get(spec.hash_key)), rru, 0))
        elif op in ("Query", "Scan"):
            space, partition, size = self._evaluated(client, op, params)
            rru = units.read_units(size, consistent=bool(params.get("ConsistentRead")))
            call.rru += rru
            call.parts.append((space, partition, rru, 0))

    def _evaluated(self, client: Any, op: str, params: dict[str, Any]) -> tuple[str, str, int]:
        """(key space, partition, bytes) a Query or Scan read: the same page without projection or filter."""
        table = params["TableName"]
        spec = self.table_spec(client, table)
        index = params.get("IndexName")
        request: dict[str, Any] = {k: v for k, v in params.items() if k in (
            "TableName", "IndexName", "KeyConditionExpression", "Limit", "ExclusiveStartKey", "ScanIndexForward",
            "ConsistentRead")}
        expression = params.get("KeyConditionExpression", "")
        names = {k: v for k, v in params.get("ExpressionAttributeNames", {}).items() if k in expression}
        values = {k: v for k, v in params.get("ExpressionAttributeValues", {}).items()
                  if re.search(re.escape(k) + r"\b", expression)}
        if names:
            request["ExpressionAttributeNames"] = names
        if values:
            request["ExpressionAttributeValues"] = values
        with self.unmetered():
            raw = self._raw(client)
            items = (raw.query(**request) if op == "Query" else raw.scan(**request)).get("Items", [])
        hash_key = spec.hash_key
        if index:
            hash_key = next(ix.hash_key for ix in spec.indexes if ix.name == index)
        partition = "?"
        if items:
            partition = _key_string(items[0].get(hash_key))
        else:
            alias = [k for k, v in names.items() if v == hash_key] + [hash_key]
            for name in alias:
                found = re.search(re.escape(name) + r"\s*=\s*(:\w+)", expression)
                if found and found.group(1) in values:
                    partition = _key_string(values[found.group(1)])
                    break
        return index or "table", partition, sum(units.item_size(i) for i in items)


def table_spec_of(described: dict[str, Any]) -> units.TableSpec:
    """A TableSpec from DescribeTable's answer."""

    def keys(schema: list[dict[str, str]]) -> tuple[str, str | None]:
        hash_key = next(k["AttributeName"] for k in schema if k["KeyType"] == "HASH")
        range_key = next((k["AttributeName"] for k in schema if k["KeyType"] == "RANGE"), None)
        return hash_key, range_key

    indexes = []
    for ix in described.get("GlobalSecondaryIndexes", []):
        h, r = keys(ix["KeySchema"])
        projection = ix.get("Projection", {})
        indexes.append(units.IndexSpec(ix["IndexName"], h, r, projection.get("ProjectionType", "ALL"),
                                       tuple(projection.get("NonKeyAttributes", ()))))
    h, r = keys(described["KeySchema"])
    return units.TableSpec(h, r, tuple(indexes))


def _sqs_requests(op: str, params: dict[str, Any], result: Any) -> int:
    """Billed SQS requests of one call: every 64 KB chunk of its payload is a request."""
    if op in ("SendMessage", "SendMessageBatch"):
        payload = json.dumps(params, default=str)
        return max(1, math.ceil(len(payload.encode()) / SQS_CHUNK))
    if op == "ReceiveMessage":
        messages = (result or {}).get("Messages", [])
        if not messages:
            # An empty receive is a poller's idle cost (Lambda's event source mapping polls all the
            # time, activities or not): a fixed monthly cost, not a cost per activity.
            return 0
        payload = json.dumps(messages, default=str)
        return max(1, math.ceil(len(payload.encode()) / SQS_CHUNK))
    if op in ("DeleteMessage", "DeleteMessageBatch", "ChangeMessageVisibility", "ChangeMessageVisibilityBatch"):
        return 1
    return 0  # control plane (GetQueueUrl, CreateQueue...) is not billed per request here
