"""The one place that talks to DynamoDB.

A low-level client (not the resource API: it imports faster and its calls map one to one to
the requests we count) plus plain-dict (de)serialization. Every other store module builds
keys and expressions and calls these helpers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import ClientError

from chalicelib.config import settings

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
_client: Any = None

Item = dict[str, Any]


def client() -> Any:
    global _client
    if _client is None:
        # Requests are built here from typed items and DynamoDB validates every one of them
        # itself; botocore's client-side walk of each request's shape was a tenth of a step's CPU.
        _client = boto3.client(
            "dynamodb",
            config=Config(retries={"max_attempts": 5, "mode": "standard"}, tcp_keepalive=True,
                          parameter_validation=False),
        )
    return _client


def reset_client() -> None:
    """Tests and the local runtime switch endpoints; drop the cached client."""
    global _client
    _client = None


def table() -> str:
    return settings().table_name


def _to_dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_dynamo(v) for v in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    if isinstance(value, set):
        return sorted(_from_dynamo(v) for v in value)
    return value


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(_to_dynamo(v)) for k, v in item.items()}


def serialize_value(value: Any) -> Any:
    return _serializer.serialize(_to_dynamo(value))


def deserialize(raw: Mapping[str, Any]) -> Item:
    return {k: plain_value(v) for k, v in raw.items()}


def _number(text: str) -> int | float:
    if text.isdigit() or (text[:1] == "-" and text[1:].isdigit()):
        return int(text)
    return _from_dynamo(_deserializer.deserialize({"N": text}))


def plain_value(value: Mapping[str, Any]) -> Any:
    """One attribute value in DynamoDB's JSON as the app's plain value, in one pass: what boto3's
    TypeDeserializer and `_from_dynamo` make of it (numbers int or float, sets sorted lists),
    without a Decimal per number. Every read goes through it: most of an item's decoding time."""
    ((kind, v),) = value.items()
    if kind == "S" or kind == "BOOL":
        return v
    if kind == "N":
        return _number(v)
    if kind == "M":
        return {k: plain_value(x) for k, x in v.items()}
    if kind == "L":
        return [plain_value(x) for x in v]
    if kind == "NULL":
        return None
    if kind == "SS":
        return sorted(v)
    if kind == "NS":
        return sorted(_number(x) for x in v)
    return _from_dynamo(_deserializer.deserialize(dict(value)))  # type: ignore[arg-type]  # binary values


def key(pk: str, sk: str) -> dict[str, Any]:
    return {"PK": {"S": pk}, "SK": {"S": sk}}


def get(pk: str, sk: str, consistent: bool = True, attributes: Sequence[str] = ()) -> Item | None:
    """One item; only `attributes` of it when named (the rest is neither sent nor parsed)."""
    request: dict[str, Any] = {"TableName": table(), "Key": key(pk, sk), "ConsistentRead": consistent}
    if attributes:
        names = {f"#a{n}": name for n, name in enumerate(attributes)}
        request["ProjectionExpression"] = ", ".join(names)
        request["ExpressionAttributeNames"] = names
    raw = call("get_item", **request).get("Item")
    return deserialize(raw) if raw else None


class StoreError(Exception):
    """DynamoDB refused a request, in the store's words (nothing above `store/` sees botocore).

    `code` is DynamoDB's error code, for logs; an unexpected refusal (a request this code built
    wrongly) is a plain StoreError, which the workflow's Catch turns into FAILED InternalError.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class ConditionFailed(StoreError):
    """A single-item write's condition did not hold: nothing was written."""


class TransactionCancelled(StoreError):
    """A transaction was cancelled because a condition failed: nothing was written.

    `reasons` has one code per operation, in the order given ('None' where the operation was
    fine); callers find what failed by the positions of the operations they built.
    """

    def __init__(self, code: str, message: str, reasons: list[str]) -> None:
        super().__init__(code, message)
        self.reasons = reasons

    def failed(self) -> list[int]:
        """The positions of the operations whose condition failed."""
        return [i for i, reason in enumerate(self.reasons) if reason == "ConditionalCheckFailed"]

    def failed_at(self, position: int) -> bool:
        return position < len(self.reasons) and self.reasons[position] == "ConditionalCheckFailed"


class Busy(StoreError):
    """Throttled or contended (another transaction held an item): the same request may succeed
    a moment later. Nothing was written. botocore has retried what it retries already; the
    one layer above it is the ASL's Retry (steps) or the caller's answer (503 on the API)."""


# Error codes that mean "try the same request again later". botocore retries most of them itself
# (standard mode, 5 attempts); those that still surface are Busy.
_BUSY_CODES = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
    "TransactionInProgressException", "TransactionConflictException", "InternalServerError",
    "ServiceUnavailable", "LimitExceededException",
})
_BUSY_REASONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})


def refusal(err: ClientError) -> StoreError:
    """The typed error a DynamoDB ClientError stands for."""
    error = err.response.get("Error", {})
    code, message = str(error.get("Code", "Unknown")), str(error.get("Message", ""))
    if code == "ConditionalCheckFailedException":
        return ConditionFailed(code, message)
    if code == "TransactionCanceledException":
        reasons = [str(r.get("Code", "None")) for r in err.response.get("CancellationReasons", [])]
        if "ConditionalCheckFailed" not in reasons and _BUSY_REASONS.intersection(reasons):
            # Nothing we read was wrong: the same transaction may go through a moment later.
            return Busy(code, f"{message} {reasons}")
        return TransactionCancelled(code, message, reasons)
    if code in _BUSY_CODES:
        return Busy(code, message)
    return StoreError(code, message)


def call(operation: str, **request: Any) -> Any:
    """One DynamoDB request; a refusal raised as the store's typed error."""
    try:
        return getattr(client(), operation)(**request)
    except ClientError as err:
        raise refusal(err) from err


class InvalidCursor(Exception):
    """A cursor this API did not issue for this listing: forged, truncated, or borrowed from
    another route, site or set of filters. The client's mistake (a 400 on `cursor`)."""


# A cursor is `v1` + SIV-style authenticated encryption of the last key DynamoDB returned,
# bound to the listing that issued it:
#   tag    = HMAC-SHA256(auth key, scope digest || position)[:16]
#   cipher = position XOR HMAC-SHA256(encryption key, tag || block counter) keystream
# where the scope digest is SHA-256 over the Query itself (table, index, key condition and its
# values, filter and its values, names, direction, projection) plus the caller's own scope
# label. A cursor therefore only opens for the same Query: the site, the partition and the
# filters are bound without listing them, and neither key names nor values are readable.
_CURSOR_VERSION = b"\x01"
_TAG_BYTES = 16
MAX_CURSOR_CHARS = 4096


def _cursor_keys() -> tuple[bytes, bytes]:
    master = settings().cursor_key
    return (hmac.new(master, b"cursor-auth", hashlib.sha256).digest(),
            hmac.new(master, b"cursor-encrypt", hashlib.sha256).digest())


def _keystream_xor(key: bytes, tag: bytes, data: bytes) -> bytes:
    out = bytearray()
    for block in range(0, len(data), 32):
        pad = hmac.new(key, tag + block.to_bytes(4, "big"), hashlib.sha256).digest()
        out.extend(a ^ b for a, b in zip(data[block:block + 32], pad, strict=False))
    return bytes(out)


def scope_digest(scope: Any) -> bytes:
    """SHA-256 of a canonical JSON rendering of what a cursor is valid for."""
    return hashlib.sha256(json.dumps(scope, sort_keys=True, separators=(",", ":"),
                                     ensure_ascii=False).encode()).digest()


def encode_cursor(position: Mapping[str, Any] | None, scope: Any) -> str | None:
    """The opaque cursor of `position` (a last key, or any small JSON object) for `scope`."""
    if not position:
        return None
    plain = json.dumps(position, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    auth, enc = _cursor_keys()
    tag = hmac.new(auth, scope_digest(scope) + plain, hashlib.sha256).digest()[:_TAG_BYTES]
    token = _CURSOR_VERSION + tag + _keystream_xor(enc, tag, plain)
    return base64.urlsafe_b64encode(token).decode().rstrip("=")


def decode_cursor(cursor: str, scope: Any) -> dict[str, Any]:
    """The position sealed in `cursor`, if this API issued it for `scope`; else InvalidCursor."""
    if not cursor or len(cursor) > MAX_CURSOR_CHARS:
        raise InvalidCursor("is not a cursor this API issued")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (ValueError, TypeError):
        raise InvalidCursor("is not a cursor this API issued") from None
    if len(raw) <= 1 + _TAG_BYTES or raw[:1] != _CURSOR_VERSION:
        raise InvalidCursor("is not a cursor this API issued")
    tag, cipher = raw[1:1 + _TAG_BYTES], raw[1 + _TAG_BYTES:]
    auth, enc = _cursor_keys()
    plain = _keystream_xor(enc, tag, cipher)
    expected = hmac.new(auth, scope_digest(scope) + plain, hashlib.sha256).digest()[:_TAG_BYTES]
    if not hmac.compare_digest(tag, expected):
        raise InvalidCursor("is not a cursor this API issued for this listing (route, site and filters)")
    value = json.loads(plain)
    if not isinstance(value, dict) or not value:
        raise InvalidCursor("is not a cursor this API issued")
    return value


def _query_scope(kwargs: Mapping[str, Any], scope: str) -> dict[str, Any]:
    """Everything that decides which items a Query walks, and in which order (not `Limit`)."""
    return {"scope": scope, **{k: v for k, v in kwargs.items() if k not in ("Limit", "ConsistentRead")}}


def _query_request(*, key_condition: str, values: Mapping[str, Any], names: Mapping[str, str] | None = None,
                   index: str | None = None, limit: int | None = None, forward: bool = True,
                   filter_expression: str | None = None, consistent: bool = False,
                   projection: str | None = None) -> dict[str, Any]:
    """The Query request every reader below sends (strong consistency only on the table)."""
    kwargs: dict[str, Any] = {
        "TableName": table(),
        "KeyConditionExpression": key_condition,
        "ExpressionAttributeValues": {k: serialize_value(v) for k, v in values.items()},
        "ScanIndexForward": forward,
    }
    if limit is not None:
        kwargs["Limit"] = limit
    if names:
        kwargs["ExpressionAttributeNames"] = dict(names)
    if index:
        kwargs["IndexName"] = index
    elif consistent:
        kwargs["ConsistentRead"] = True
    if filter_expression:
        kwargs["FilterExpression"] = filter_expression
    if projection:
        kwargs["ProjectionExpression"] = projection
    return kwargs


def query_page(
    *,
    key_condition: str,
    values: Mapping[str, Any],
    names: Mapping[str, str] | None = None,
    index: str | None = None,
    limit: int = 25,
    cursor: str | None = None,
    scope: str = "",
    forward: bool = True,
    filter_expression: str | None = None,
    consistent: bool = False,
    projection: str | None = None,
) -> tuple[list[Item], str | None]:
    """Exactly one Query request: one page of items and the cursor of the next.

    `cursor` is a client's: opaque, sealed to this very Query and `scope` (InvalidCursor
    otherwise). Internal callers that build a start key themselves use `query_window`.
    """
    kwargs = _query_request(key_condition=key_condition, values=values, names=names, index=index, limit=limit,
                            forward=forward, filter_expression=filter_expression, consistent=consistent,
                            projection=projection)
    bound = _query_scope(kwargs, scope)
    if cursor is not None:
        start = decode_cursor(cursor, bound)
        if not all(isinstance(v, dict) and len(v) == 1 and next(iter(v)) in ("S", "N")
                   for v in start.values()):
            raise InvalidCursor("is not a cursor this API issued")
        kwargs["ExclusiveStartKey"] = start
    out = call("query", **kwargs)
    return [deserialize(i) for i in out.get("Items", [])], encode_cursor(out.get("LastEvaluatedKey"), bound)


def query_window(
    *,
    key_condition: str,
    values: Mapping[str, Any],
    index: str | None = None,
    limit: int,
    start_key: Mapping[str, Any] | None = None,
    filter_expression: str | None = None,
    consistent: bool = False,
) -> tuple[list[Item], dict[str, Any] | None]:
    """Internal paging: one Query from an exclusive start key the caller built (or the last
    key it got back); returns the items and DynamoDB's last evaluated key (None at the end).
    Jobs and tools page this way; a client's cursor never reaches it."""
    kwargs = _query_request(key_condition=key_condition, values=values, index=index, limit=limit,
                            filter_expression=filter_expression, consistent=consistent)
    if start_key:
        kwargs["ExclusiveStartKey"] = dict(start_key)
    out = call("query", **kwargs)
    return [deserialize(i) for i in out.get("Items", [])], out.get("LastEvaluatedKey") or None


def _merge_page(partitions: Sequence[str], request: Callable[[str], dict[str, Any]], index: str, *,
                limit: int, forward: bool, done: frozenset[int] = frozenset()) -> tuple[list[Item], str | None,
                                                                                    frozenset[int]]:
    """One page of several partitions of an index, merged in the index's sort order.

    One Query per partition not in `done`, each for up to `limit` items; the page is the first
    `limit` by the index's sort key (unique per item: the users index's sort keys end with the
    uuid), none past the nearest key where a partition's Query stopped (its Limit counts items
    its filter then dropped, so nothing beyond is known yet). Returns the page, the sort key
    every partition resumes after (None when the page read everything), and the partitions
    read to their end. Every partition has been read at least up to that key, so one key and
    the set of finished partitions are the whole position: a small cursor however many shards.
    """
    sort_attr = f"{index}SK"
    offered: list[tuple[str, int]] = []
    raws: dict[str, dict[str, Any]] = {}
    stops: list[str] = []
    ended: set[int] = set(done)
    for n, partition in enumerate(partitions):
        if n in done:
            continue
        out = call("query", **request(partition))
        for raw in out.get("Items", []):
            value = raw[sort_attr]["S"]
            offered.append((value, n))
            raws[value] = raw
        last = out.get("LastEvaluatedKey")
        if last:
            stops.append(last[sort_attr]["S"])
        else:
            ended.add(n)
    offered.sort(reverse=not forward)
    bound = (min(stops) if forward else max(stops)) if stops else None
    certain = offered if bound is None else [e for e in offered if (e[0] <= bound if forward else e[0] >= bound)]
    page = certain[:limit]
    # What was read but is not on the page comes again next time: its partitions are not done.
    ended -= {n for _, n in offered[len(page):]}
    resume = page[-1][0] if len(page) < len(certain) else bound  # a full page, or all up to the bound
    return [deserialize(raws[v]) for v, _ in page], resume, frozenset(ended)


def merged_window(*, partitions: Sequence[str], index: str, sort_condition: str, values: Mapping[str, Any],
                  limit: int) -> tuple[list[Item], bool]:
    """Internal paging over a sharded index: the first `limit` items of every partition together
    in sort order, and whether more may follow (jobs express where they are in the condition)."""
    def request(partition: str) -> dict[str, Any]:
        return _query_request(key_condition=f"{index}PK = :partition AND {sort_condition}",
                              values={**values, ":partition": partition}, index=index, limit=limit)

    items, resume, _ = _merge_page(partitions, request, index, limit=limit, forward=True)
    return items, resume is not None


def merged_page(*, partitions: Sequence[str], index: str, values: Mapping[str, Any],
                names: Mapping[str, str] | None = None, limit: int = 25, after: str | None = None,
                done: frozenset[int] = frozenset(), forward: bool = True,
                filter_expression: str | None = None) -> tuple[list[Item], str | None, frozenset[int]]:
    """One page over every partition of a sharded index (`{index}PK` one of `partitions`) after
    the sort key `after`, in the index's sort order: the page, the sort key the next page starts
    after (None when this one read everything) and the partitions read to their end."""
    condition = f"{index}PK = :partition" + (f" AND {index}SK {'>' if forward else '<'} :after" if after else "")
    extra = {":after": after} if after else {}

    def request(partition: str) -> dict[str, Any]:
        return _query_request(key_condition=condition, values={**values, **extra, ":partition": partition},
                              names=names, index=index, limit=limit, forward=forward,
                              filter_expression=filter_expression)
    items, resume, ended = _merge_page(partitions, request, index, limit=limit, forward=forward, done=done)
    return items, (None if len(ended) == len(partitions) else resume), ended


def query_merged_page(
    *,
    partitions: Sequence[str],
    index: str,
    values: Mapping[str, Any],
    names: Mapping[str, str] | None = None,
    limit: int = 25,
    cursor: str | None = None,
    scope: str = "",
    forward: bool = True,
    filter_expression: str | None = None,
) -> tuple[list[Item], str | None]:
    """`merged_page` with the cursor of the next: it seals the sort key the next page starts
    after and the partitions read to their end, to this listing, as `query_page`'s does."""
    bound = {"partitions": list(partitions),
             **_query_scope(_query_request(key_condition=f"{index}PK = :partition", values={**values, ":partition": ""},
                                           names=names, index=index, limit=limit, forward=forward,
                                           filter_expression=filter_expression), scope)}
    after, done = None, frozenset[int]()
    if cursor is not None:
        sealed = decode_cursor(cursor, bound)
        after, finished = sealed.get("after"), sealed.get("done")
        if (not isinstance(after, str) or not isinstance(finished, list)
                or not all(isinstance(n, int) and 0 <= n < len(partitions) for n in finished)):
            raise InvalidCursor("is not a cursor this API issued")
        done = frozenset(finished)
    items, resume, ended = merged_page(partitions=partitions, index=index, values=values, names=names, limit=limit,
                                       after=after, done=done, forward=forward, filter_expression=filter_expression)
    if resume is None:
        return items, None
    return items, encode_cursor({"after": resume, "done": sorted(ended)}, bound)


def query_all(
    *,
    key_condition: str,
    values: Mapping[str, Any],
    names: Mapping[str, str] | None = None,
    consistent: bool = True,
    forward: bool = True,
    index: str | None = None,
) -> list[Item]:
    """Every item of a bounded collection (a site's mechanics, one user's small sets)."""
    items: list[Item] = []
    start: dict[str, Any] | None = None
    while True:
        kwargs = _query_request(key_condition=key_condition, values=values, names=names, index=index,
                                forward=forward, consistent=consistent)
        if start:
            kwargs["ExclusiveStartKey"] = start
        out = call("query", **kwargs)
        items.extend(deserialize(i) for i in out.get("Items", []))
        start = out.get("LastEvaluatedKey")
        if not start:
            return items


def put(item: Mapping[str, Any], condition: str | None = None, names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None) -> None:
    kwargs: dict[str, Any] = {"TableName": table(), "Item": serialize(item)}
    if condition:
        kwargs["ConditionExpression"] = condition
    if names:
        kwargs["ExpressionAttributeNames"] = dict(names)
    if values:
        kwargs["ExpressionAttributeValues"] = {k: serialize_value(v) for k, v in values.items()}
    call("put_item", **kwargs)


BATCH_WRITE_MAX = 25
# Rounds of a BatchWriteItem's unprocessed items (each one a request botocore itself retries).
BATCH_WRITE_ATTEMPTS = 3


def batch_put(items: Sequence[Mapping[str, Any]]) -> None:
    """Plain puts in one BatchWriteItem (each item costs what its own PutItem would; no
    conditions, no atomicity). What DynamoDB leaves unprocessed (throttled) is sent again, at
    most `BATCH_WRITE_ATTEMPTS` rounds in all; still unprocessed after that is `Busy`."""
    if len(items) > BATCH_WRITE_MAX:
        raise ValueError(f"at most {BATCH_WRITE_MAX} items per BatchWriteItem, got {len(items)}")
    pending: dict[str, Any] = {table(): [{"PutRequest": {"Item": serialize(item)}} for item in items]}
    for _ in range(BATCH_WRITE_ATTEMPTS):
        if not pending:
            return
        pending = call("batch_write_item", RequestItems=pending).get("UnprocessedItems") or {}
    if pending:
        raise Busy("UnprocessedItems", f"{sum(len(v) for v in pending.values())} items not written")


def update(
    pk: str,
    sk: str,
    expression: str,
    values: Mapping[str, Any] | None = None,
    names: Mapping[str, str] | None = None,
    condition: str | None = None,
    return_new: bool = True,
) -> Item | None:
    kwargs: dict[str, Any] = {
        "TableName": table(),
        "Key": key(pk, sk),
        "UpdateExpression": expression,
    }
    if values:
        kwargs["ExpressionAttributeValues"] = {k: serialize_value(v) for k, v in values.items()}
    if names:
        kwargs["ExpressionAttributeNames"] = dict(names)
    if condition:
        kwargs["ConditionExpression"] = condition
    if return_new:
        kwargs["ReturnValues"] = "ALL_NEW"
    out = call("update_item", **kwargs)
    raw = out.get("Attributes")
    return deserialize(raw) if raw else None


def delete(pk: str, sk: str, condition: str | None = None) -> None:
    kwargs: dict[str, Any] = {"TableName": table(), "Key": key(pk, sk)}
    if condition:
        kwargs["ConditionExpression"] = condition
    call("delete_item", **kwargs)


def transact(operations: Sequence[Mapping[str, Any]], token: str | None = None) -> None:
    """One TransactWriteItems. `operations` are in the low-level shape, table filled in here."""
    items = []
    for op in operations:
        ((kind, body),) = op.items()
        items.append({kind: {"TableName": table(), **body}})
    kwargs: dict[str, Any] = {"TransactItems": items}
    if token:
        kwargs["ClientRequestToken"] = token[:36]
    call("transact_write_items", **kwargs)


# AWS allows 100 items since 2022; moto still holds to the former 25, which both accept.
TRANSACT_GET_MAX = 25


def transact_get(keys: Sequence[tuple[str, str]]) -> list[Item | None]:
    """One TransactGetItems: the items of up to 25 keys as one serializable snapshot, in order
    (None where absent)."""
    if not keys:
        return []
    if len(keys) > TRANSACT_GET_MAX:
        raise ValueError(f"at most {TRANSACT_GET_MAX} keys per TransactGetItems, got {len(keys)}")
    out = call("transact_get_items", TransactItems=[{"Get": {"TableName": table(), "Key": key(pk, sk)}}
                                                     for pk, sk in keys])
    return [deserialize(r["Item"]) if r.get("Item") else None for r in out.get("Responses", [])]


def tx_put(item: Mapping[str, Any], condition: str | None = None,
           names: Mapping[str, str] | None = None, values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"Item": serialize(item)}
    if condition:
        body["ConditionExpression"] = condition
    if names:
        body["ExpressionAttributeNames"] = dict(names)
    if values:
        body["ExpressionAttributeValues"] = {k: serialize_value(v) for k, v in values.items()}
    return {"Put": body}


def tx_update(pk: str, sk: str, expression: str, values: Mapping[str, Any] | None = None,
              names: Mapping[str, str] | None = None, condition: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"Key": key(pk, sk), "UpdateExpression": expression}
    if values:
        body["ExpressionAttributeValues"] = {k: serialize_value(v) for k, v in values.items()}
    if names:
        body["ExpressionAttributeNames"] = dict(names)
    if condition:
        body["ConditionExpression"] = condition
    return {"Update": body}


def tx_delete(pk: str, sk: str, condition: str | None = None,
              values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"Key": key(pk, sk)}
    if condition:
        body["ConditionExpression"] = condition
    if values:
        body["ExpressionAttributeValues"] = {k: serialize_value(v) for k, v in values.items()}
    return {"Delete": body}


def tx_check(pk: str, sk: str, condition: str, values: Mapping[str, Any] | None = None,
             names: Mapping[str, str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"Key": key(pk, sk), "ConditionExpression": condition}
    if values:
        body["ExpressionAttributeValues"] = {k: serialize_value(v) for k, v in values.items()}
    if names:
        body["ExpressionAttributeNames"] = dict(names)
    return {"ConditionCheck": body}
