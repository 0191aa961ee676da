"""The one place that talks to DynamoDB.

A low-level client (not the resource API: it imports faster and its calls map one to one to
the requests we count) plus plain-dict (de)serialization. Every other store module builds
keys and expressions and calls these helpers.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
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
    return {k: _from_dynamo(_deserializer.deserialize(v)) for k, v in raw.items()}


def key(pk: str, sk: str) -> dict[str, Any]:
    return {"PK": {"S": pk}, "SK": {"S": sk}}


def get(pk: str, sk: str, consistent: bool = True, attributes: Sequence[str] = ()) -> Item | None:
    """One item; only `attributes` of it when named (the rest is neither sent nor parsed)."""
    request: dict[str, Any] = {"TableName": table(), "Key": key(pk, sk), "ConsistentRead": consistent}
    if attributes:
        names = {f"#a{n}": name for n, name in enumerate(attributes)}
        request["ProjectionExpression"] = ", ".join(names)
        request["ExpressionAttributeNames"] = names
    raw = client().get_item(**request).get("Item")
    return deserialize(raw) if raw else None


def is_condition_failure(err: ClientError) -> bool:
    return err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def cancellation_reasons(err: ClientError) -> list[str]:
    """The per-item codes of a cancelled transaction ('None' for items that were fine)."""
    return [r.get("Code", "None") for r in err.response.get("CancellationReasons", [])]


def encode_cursor(last_key: Mapping[str, Any] | None) -> str | None:
    if not last_key:
        return None
    plain = {k: v for k, v in last_key.items()}
    return base64.urlsafe_b64encode(json.dumps(plain, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    """Cursors are opaque to clients; a forged or truncated one is their 400, not our 500."""
    if not cursor:
        return None
    from chalicelib.errors import field_error

    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError) as exc:
        raise field_error("cursor", "is not a cursor this API issued") from exc
    if not isinstance(value, dict) or not all(
        isinstance(v, dict) and len(v) == 1 and next(iter(v)) in ("S", "N") for v in value.values()
    ):
        raise field_error("cursor", "is not a cursor this API issued")
    return value


def query_page(
    *,
    key_condition: str,
    values: Mapping[str, Any],
    names: Mapping[str, str] | None = None,
    index: str | None = None,
    limit: int = 25,
    cursor: str | None = None,
    forward: bool = True,
    filter_expression: str | None = None,
    consistent: bool = False,
    projection: str | None = None,
) -> tuple[list[Item], str | None]:
    """Exactly one Query request: one page of items and the cursor of the next."""
    kwargs: dict[str, Any] = {
        "TableName": table(),
        "KeyConditionExpression": key_condition,
        "ExpressionAttributeValues": {k: serialize_value(v) for k, v in values.items()},
        "Limit": limit,
        "ScanIndexForward": forward,
    }
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
    start = decode_cursor(cursor)
    if start:
        kwargs["ExclusiveStartKey"] = start
    try:
        out = client().query(**kwargs)
    except ClientError as err:
        # A cursor from another listing (other index or partition) is the client's mistake.
        if start and err.response.get("Error", {}).get("Code") == "ValidationException":
            from chalicelib.errors import field_error

            raise field_error("cursor", "does not belong to this listing") from err
        raise
    return [deserialize(i) for i in out.get("Items", [])], encode_cursor(out.get("LastEvaluatedKey"))


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
        kwargs: dict[str, Any] = {
            "TableName": table(),
            "KeyConditionExpression": key_condition,
            "ExpressionAttributeValues": {k: serialize_value(v) for k, v in values.items()},
            "ScanIndexForward": forward,
        }
        if names:
            kwargs["ExpressionAttributeNames"] = dict(names)
        if index:
            kwargs["IndexName"] = index
        elif consistent:
            kwargs["ConsistentRead"] = True
        if start:
            kwargs["ExclusiveStartKey"] = start
        out = client().query(**kwargs)
        items.extend(deserialize(i) for i in out.get("Items", []))
        start = out.get("LastEvaluatedKey")
        if not start:
            return items


def put(item: Mapping[str, Any], condition: str | None = None, names: Mapping[str, str] | None = None) -> None:
    kwargs: dict[str, Any] = {"TableName": table(), "Item": serialize(item)}
    if condition:
        kwargs["ConditionExpression"] = condition
    if names:
        kwargs["ExpressionAttributeNames"] = dict(names)
    client().put_item(**kwargs)


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
    out = client().update_item(**kwargs)
    raw = out.get("Attributes")
    return deserialize(raw) if raw else None


def delete(pk: str, sk: str, condition: str | None = None) -> None:
    kwargs: dict[str, Any] = {"TableName": table(), "Key": key(pk, sk)}
    if condition:
        kwargs["ConditionExpression"] = condition
    client().delete_item(**kwargs)


def transact(operations: Sequence[Mapping[str, Any]], token: str | None = None) -> None:
    """One TransactWriteItems. `operations` are in the low-level shape, table filled in here."""
    items = []
    for op in operations:
        ((kind, body),) = op.items()
        items.append({kind: {"TableName": table(), **body}})
    kwargs: dict[str, Any] = {"TransactItems": items}
    if token:
        kwargs["ClientRequestToken"] = token[:36]
    client().transact_write_items(**kwargs)


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
