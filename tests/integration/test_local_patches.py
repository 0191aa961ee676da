"""The moto patches of the local runtime answer as DynamoDB does.

`key_range_queries` replaces moto's table Query (which walks the whole table) with a bisect
over each partition's sorted sort keys. The oracle here is DynamoDB's documented semantics
worked out in plain Python over the keys written: the items whose sort key satisfies the key
condition, in sort-key order (reversed when ScanIndexForward is false), paged by Limit.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

_sort_keys = st.text(alphabet="AB#", min_size=1, max_size=3)  # small: operands often equal keys
_conditions = st.one_of(
    st.none(),
    st.tuples(st.sampled_from(["=", "<", "<=", ">", ">=", "begins_with"]), _sort_keys),
    st.tuples(st.just("between"), _sort_keys, _sort_keys),
)
_partition = itertools.count()


def _matches(key: str, condition: tuple[str, ...] | None) -> bool:
    if condition is None:
        return True
    op, *values = condition
    checks = {"=": key == values[0], "<": key < values[0], "<=": key <= values[0], ">": key > values[0],
              ">=": key >= values[0]}
    if op in checks:
        return checks[op]
    if op == "begins_with":
        return key.startswith(values[0])
    return values[0] <= key <= values[1]


def _query_all(client: Any, pk: str, condition: tuple[str, ...] | None, forward: bool, limit: int | None,
               odd_only: bool) -> tuple[list[str], int]:
    """Every page of one Query, followed through LastEvaluatedKey; also how many pages."""
    expression, values = "PK = :pk", {":pk": {"S": pk}}
    if condition is not None:
        op, *operands = condition
        for n, operand in enumerate(operands):
            values[f":v{n}"] = {"S": operand}
        expression += {"begins_with": " AND begins_with(SK, :v0)", "between": " AND SK BETWEEN :v0 AND :v1"}.get(
            op, f" AND SK {op} :v0")
    request: dict[str, Any] = {"TableName": os.environ["TABLE_NAME"], "KeyConditionExpression": expression,
                               "ExpressionAttributeValues": values, "ScanIndexForward": forward}
    if limit is not None:
        request["Limit"] = limit
    if odd_only:
        request["FilterExpression"] = "n = :odd"
        values[":odd"] = {"N": "1"}
    keys: list[str] = []
    for pages in range(1, 60):
        answer = client.query(**request)
        keys += [item["SK"]["S"] for item in answer["Items"]]
        if "LastEvaluatedKey" not in answer:
            return keys, pages
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
    raise AssertionError(f"paging never ended: {keys}")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(written=st.lists(_sort_keys, max_size=25), deleted=st.lists(_sort_keys, max_size=6),
       condition=_conditions, forward=st.booleans(), limit=st.one_of(st.none(), st.integers(1, 7)),
       odd_only=st.booleans())
def test_query_reads_the_key_range_like_dynamodb(aws: None, written: list[str], deleted: list[str],
                                                 condition: tuple[str, ...] | None, forward: bool,
                                                 limit: int | None, odd_only: bool) -> None:
    import boto3

    client = boto3.client("dynamodb")
    table = os.environ["TABLE_NAME"]
    pk, neighbour = f"P#{next(_partition)}", f"P#{next(_partition)}"
    # A query first builds the partition's sorted keys; the writes after it must keep them right.
    client.query(TableName=table, KeyConditionExpression="PK = :pk", ExpressionAttributeValues={":pk": {"S": pk}})
    for position, key in enumerate(written):
        client.put_item(TableName=table, Item={"PK": {"S": pk}, "SK": {"S": key}, "n": {"N": str(position % 2)}})
        client.put_item(TableName=table, Item={"PK": {"S": neighbour}, "SK": {"S": key}, "n": {"N": "1"}})
    for key in deleted:
        client.delete_item(TableName=table, Key={"PK": {"S": pk}, "SK": {"S": key}})

    stored: dict[str, int] = {}
    for position, key in enumerate(written):
        stored[key] = position % 2
    for key in deleted:
        stored.pop(key, None)
    in_range = sorted(key for key in stored if _matches(key, condition))
    if not forward:
        in_range.reverse()
    expected = [key for key in in_range if stored[key] == 1] if odd_only else in_range

    keys, pages = _query_all(client, pk, condition, forward, limit, odd_only)

    assert keys == expected
    if limit is not None:
        # Limit counts the items read before the filter, as in DynamoDB.
        assert pages >= -(-len(in_range) // limit)
