"""The moto patches of the local runtime answer as DynamoDB does.

`key_range_queries` replaces moto's table Query (which walks the whole table) with a bisect
over each partition's sorted sort keys. The oracle here is DynamoDB's documented semantics
worked out in plain Python over the keys written: the items whose sort key satisfies the key
condition, in sort-key order (reversed when ScanIndexForward is false), paged by Limit.

The differential tests run the same requests with every speed-up on (`patches.speedups(True)`)
and with moto's own code (`patches.moto_own_paths()`, which puts moto's functions back; the fixes
stay on), whatever LOCAL_SPEEDUPS says, so they compare each speed-up with moto's real code.
"""

from __future__ import annotations

import contextlib
import itertools
import json
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


def _query(hash_attr: str, hash_value: str, sort_attr: str, condition: tuple[str, ...] | None, forward: bool,
           limit: int | None, odd_only: bool) -> dict[str, Any]:
    """A Query request: the key condition, the direction, a Limit and a filter on `n` if asked."""
    expression, values = f"{hash_attr} = :pk", {":pk": {"S": hash_value}}
    if condition is not None:
        op, *operands = condition
        for n, operand in enumerate(operands):
            values[f":v{n}"] = {"S": operand}
        expression += {"begins_with": f" AND begins_with({sort_attr}, :v0)",
                       "between": f" AND {sort_attr} BETWEEN :v0 AND :v1"}.get(op, f" AND {sort_attr} {op} :v0")
    request: dict[str, Any] = {"TableName": os.environ["TABLE_NAME"], "KeyConditionExpression": expression,
                               "ExpressionAttributeValues": values, "ScanIndexForward": forward}
    if limit is not None:
        request["Limit"] = limit
    if odd_only:
        request["FilterExpression"] = "n = :odd"
        values[":odd"] = {"N": "1"}
    return request


def _query_all(client: Any, pk: str, condition: tuple[str, ...] | None, forward: bool, limit: int | None,
               odd_only: bool) -> tuple[list[str], int]:
    """Every page of one Query, followed through LastEvaluatedKey; also how many pages."""
    request = _query("PK", pk, "SK", condition, forward, limit, odd_only)
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
        # Limit counts the items read before the filter, and a page that read Limit items hands
        # back LastEvaluatedKey even when nothing follows (`dynamodb_limit_rule`), as in DynamoDB:
        # the last page is the first that read fewer than Limit items, possibly none.
        assert pages == len(in_range) // limit + 1


# `fast_simple_updates`: the same update through the fast path and through moto's own
# expression machinery must leave the same item, or fail with the same error.
_conditions_on_a = st.sampled_from([None, "attribute_exists(a)", "attribute_not_exists(a)", "a = :c", "a < :c"])
_values = st.one_of(st.integers(-5, 5).map(lambda n: {"N": str(n)}), st.sampled_from([{"S": "x"}, {"S": "y"}]),
                    st.just({"M": {"k": {"N": "1"}}}))
_names = st.sampled_from(["a", "b", "m", "steps"])
_actions = st.one_of(
    st.tuples(st.just("set"), _names, _values),
    st.tuples(st.just("default"), _names, _values),
    st.tuples(st.just("nested"), st.sampled_from(["m", "steps", "a"]), _values),
    st.tuples(st.just("add"), _names, st.one_of(st.integers(-5, 5).map(lambda n: {"N": str(n)}), _values)),
    st.tuples(st.just("remove"), _names, st.none()),
    st.tuples(st.just("append"), st.sampled_from(["log", "a"]),
              st.sampled_from([{"L": [{"S": "x"}]}, {"L": []}, {"N": "1"}])),
)
_full_item = {"a": st.integers(0, 3).map(lambda n: {"N": str(n)}), "b": st.just({"S": "old"}),
              "m": st.just({"M": {"k": {"N": "2"}}}), "steps": st.just({"M": {}}),
              "log": st.just({"L": [{"S": "old"}, {"M": {"k": {"N": "1"}}}]})}
_start_items = st.one_of(st.none(), st.fixed_dictionaries(_full_item), st.fixed_dictionaries({}, optional=_full_item))


def _expression(actions: list[tuple[str, str, Any]]) -> tuple[str, dict[str, str], dict[str, Any]]:
    sets, adds, removes = [], [], []
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    for n, (kind, name, value) in enumerate(actions):
        names[f"#n{n}"] = name
        if value is not None:
            values[f":v{n}"] = value
        if kind == "set":
            sets.append(f"#n{n} = :v{n}")
        elif kind == "default":
            sets.append(f"#n{n} = if_not_exists(#n{n}, :v{n})")
        elif kind == "nested":
            sets.append(f"#n{n}.inner{n} = :v{n}")
        elif kind == "append":
            values[f":e{n}"] = {"L": [{"S": "first"}]}
            sets.append(f"#n{n} = list_append(if_not_exists(#n{n}, :e{n}), :v{n})")
        elif kind == "add":
            adds.append(f"#n{n} :v{n}")
        else:
            removes.append(f"#n{n}")
    clauses = [f"{verb} {', '.join(parts)}" for verb, parts in (("SET", sets), ("ADD", adds), ("REMOVE", removes))
               if parts]
    return " ".join(clauses), names, values


def _update(client: Any, pk: str, expression: str, names: dict[str, str], values: dict[str, Any],
            condition: str | None) -> tuple[str | None, dict[str, Any] | None]:
    from botocore.exceptions import ClientError

    request: dict[str, Any] = {"TableName": os.environ["TABLE_NAME"], "Key": {"PK": {"S": pk}, "SK": {"S": "I"}},
                               "UpdateExpression": expression, "ExpressionAttributeNames": names}
    if condition:
        request["ConditionExpression"] = condition
        if ":c" in condition:
            values = {**values, ":c": {"N": "2"}}
    if values:
        request["ExpressionAttributeValues"] = values
    try:
        client.update_item(**request)
    except ClientError as err:
        return err.response["Error"]["Code"], None
    item = client.get_item(TableName=request["TableName"], Key=request["Key"]).get("Item")
    return None, {k: v for k, v in (item or {}).items() if k != "PK"}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=_start_items, actions=st.lists(_actions, min_size=1, max_size=4), condition=_conditions_on_a)
def test_plain_updates_match_moto_own_path(aws: None, start: dict[str, Any] | None,
                                           actions: list[tuple[str, str, Any]], condition: str | None) -> None:
    import boto3

    from local import patches

    client = boto3.client("dynamodb")
    table = os.environ["TABLE_NAME"]
    fast, slow = f"F#{next(_partition)}", f"S#{next(_partition)}"
    if start is not None:
        for pk in (fast, slow):
            client.put_item(TableName=table, Item={"PK": {"S": pk}, "SK": {"S": "I"}, **start})
    expression, names, values = _expression(actions)

    with patches.speedups(True):
        fast_answer = _update(client, fast, expression, names, values, condition)
    with patches.moto_own_paths():
        slow_answer = _update(client, slow, expression, names, values, condition)

    assert fast_answer == slow_answer


# Index queries: the patched read of an index partition against moto's own walk of the table,
# with equal index sort keys (ordered by the table's keys), items missing the sort key (not in
# the index), conditions, both directions, limits with paging, and a filter.
_index_items = st.lists(st.tuples(st.sampled_from(["G#1", "G#2"]), st.one_of(st.none(), _sort_keys),
                                  st.integers(0, 1)), max_size=20)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_index_items, condition=_conditions, forward=st.booleans(), limit=st.one_of(st.none(), st.integers(1, 5)),
       odd_only=st.booleans())
def test_index_query_matches_moto_own_path(aws: None, rows: list[tuple[str, str | None, int]],
                                           condition: tuple[str, ...] | None, forward: bool, limit: int | None,
                                           odd_only: bool) -> None:
    import boto3

    from local import patches

    client = boto3.client("dynamodb")
    table = os.environ["TABLE_NAME"]
    run = next(_partition)
    for n, (index_pk, index_sk, odd) in enumerate(rows):
        item = {"PK": {"S": f"I#{run}#{n % 3}"}, "SK": {"S": f"{n:02d}"}, "GSI1PK": {"S": f"{index_pk}#{run}"},
                "n": {"N": str(odd)}}
        if index_sk is not None:
            item["GSI1SK"] = {"S": index_sk}
        client.put_item(TableName=table, Item=item)

    def read_all() -> list[Any]:
        request = {**_query("GSI1PK", f"G#1#{run}", "GSI1SK", condition, forward, limit, odd_only), "IndexName": "GSI1"}
        pages: list[Any] = []
        for _ in range(60):
            answer = client.query(**request)
            pages.append((answer["Items"], answer["Count"], answer["ScannedCount"], answer.get("LastEvaluatedKey")))
            if "LastEvaluatedKey" not in answer:
                return pages
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        raise AssertionError("paging never ended")

    with patches.speedups(True):
        fast = read_all()
    with patches.moto_own_paths():
        slow = read_all()

    # The same pages: items, counts and where each page ends (moto's own Query under the
    # Limit fix hands back LastEvaluatedKey at the Limit, as DynamoDB and the speed-up do).
    assert fast == slow


def test_projection_of_top_level_attributes_matches_moto_own_path(aws: None) -> None:
    import boto3

    from local import patches

    client = boto3.client("dynamodb")
    table = os.environ["TABLE_NAME"]
    key = {"PK": {"S": f"P#{next(_partition)}"}, "SK": {"S": "I"}}
    client.put_item(TableName=table, Item={**key, "status": {"S": "SUCCEEDED"}, "n": {"N": "3"},
                                           "effects": {"M": {"a": {"L": [{"N": "1"}]}}}, "tags": {"SS": ["x"]}})
    cases = [("#s", {"#s": "status"}), ("#s, n, absent", {"#s": "status"}), ("effects, tags", {}),
             ("effects.a", {}), ("effects.a[0]", {})]  # the last two: nested, moto's own projection
    for expression, names in cases:
        request: dict[str, Any] = {"TableName": table, "Key": key, "ProjectionExpression": expression}
        if names:
            request["ExpressionAttributeNames"] = names
        with patches.speedups(True):
            fast = client.get_item(**request).get("Item")
        with patches.moto_own_paths():
            slow = client.get_item(**request).get("Item")
        assert fast == slow, expression


# `direct_dynamodb_dispatch` and `plain_json_responses`: every item operation, its errors
# included, answers the same whether it takes the direct route or moto's own (URL matching,
# request rebuilt, body parsed through the operation's model, results converted up front).
def _dispatch_cases(table: str, pk: str) -> list[tuple[str, dict[str, Any]]]:
    key = {"PK": {"S": pk}, "SK": {"S": "I"}}
    item = {**key, "n": {"N": "3"}, "flag": {"BOOL": True}, "none": {"NULL": True}, "tags": {"SS": ["a", "b"]},
            "nums": {"NS": ["1", "2"]}, "m": {"M": {"l": {"L": [{"S": "x"}, {"N": "1"}, {"M": {}}]}}},
            "Body": {"S": "a \"B\": lookalike"}}
    return [
        ("put_item", {"TableName": table, "Item": item, "ReturnValues": "ALL_OLD"}),
        ("put_item", {"TableName": table, "Item": item, "ReturnValues": "ALL_OLD"}),  # answers the old item
        ("get_item", {"TableName": table, "Key": key}),
        ("get_item", {"TableName": table, "Key": key, "ProjectionExpression": "m.l[2], #f", "ExpressionAttributeNames": {"#f": "flag"}}),
        ("get_item", {"TableName": table, "Key": key, "ReturnConsumedCapacity": "TOTAL"}),
        ("get_item", {"TableName": table, "Key": {"PK": {"S": pk}, "SK": {"S": "absent"}}}),
        ("get_item", {"TableName": table, "Key": key, "ProjectionExpression": "n, n"}),  # invalid: duplicate
        ("get_item", {"TableName": "no-such-table", "Key": key}),
        ("update_item", {"TableName": table, "Key": key, "UpdateExpression": "ADD n :one",
                         "ExpressionAttributeValues": {":one": {"N": "1"}}, "ReturnValues": "UPDATED_NEW"}),
        ("update_item", {"TableName": table, "Key": key, "UpdateExpression": "SET n = :v", "ConditionExpression": "n = :c",
                         "ExpressionAttributeValues": {":v": {"N": "0"}, ":c": {"N": "99"}},
                         "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}),
        ("update_item", {"TableName": table, "Key": key, "UpdateExpression": "SET = broken"}),
        ("query", {"TableName": table, "KeyConditionExpression": "PK = :pk", "ExpressionAttributeValues": {":pk": {"S": pk}},
                   "ReturnConsumedCapacity": "INDEXES", "Limit": 5}),
        ("transact_write_items", {"TransactItems": [
            {"ConditionCheck": {"TableName": table, "Key": key, "ConditionExpression": "attribute_not_exists(PK)"}},
            {"Put": {"TableName": table, "Item": {"PK": {"S": pk}, "SK": {"S": "J"}}}}]}),
        ("transact_write_items", {"TransactItems": [
            {"Update": {"TableName": table, "Key": key, "UpdateExpression": "SET flag = :f",
                        "ExpressionAttributeValues": {":f": {"BOOL": False}}}},
            {"Put": {"TableName": table, "Item": {"PK": {"S": pk}, "SK": {"S": "J"}, "bin": {"B": b"\x00\xff"}}}}]}),
        ("get_item", {"TableName": table, "Key": {"PK": {"S": pk}, "SK": {"S": "J"}}}),  # binary: moto's own route
        # Fails while applying (a number added to a string set), after its Put: rolled back whole.
        ("transact_write_items", {"TransactItems": [
            {"Put": {"TableName": table, "Item": {"PK": {"S": pk}, "SK": {"S": "K"}}}},
            {"Update": {"TableName": table, "Key": key, "UpdateExpression": "ADD tags :n",
                        "ExpressionAttributeValues": {":n": {"N": "1"}}}}]}),
        ("get_item", {"TableName": table, "Key": {"PK": {"S": pk}, "SK": {"S": "K"}}}),
        ("batch_get_item", {"RequestItems": {table: {"Keys": [key, {"PK": {"S": pk}, "SK": {"S": "J"}}]}}}),
        ("delete_item", {"TableName": table, "Key": key, "ReturnValues": "ALL_OLD"}),
    ]


def test_item_operations_answer_as_on_moto_own_route(aws: None) -> None:
    import boto3
    from botocore.exceptions import ClientError

    from local import patches

    client = boto3.client("dynamodb")
    table = os.environ["TABLE_NAME"]

    def answers(pk: str) -> list[Any]:
        out: list[Any] = []
        for operation, request in _dispatch_cases(table, pk):
            try:
                answer = getattr(client, operation)(**request)
            except ClientError as err:
                answer = {"error": err.response}
            answer = {k: v for k, v in answer.items() if k != "ResponseMetadata"}
            answer.get("error", {}).pop("ResponseMetadata", None)
            out.append(json.loads(json.dumps(answer, default=repr).replace(pk, "PK")))
        return out

    with patches.speedups(True):
        fast = answers(f"D#{next(_partition)}")
    with patches.moto_own_paths():
        slow = answers(f"D#{next(_partition)}")
    for step, (mine, theirs) in enumerate(zip(fast, slow, strict=True)):
        assert mine == theirs, _dispatch_cases(table, "PK")[step]
    assert sum("error" in answer for answer in fast) == 6  # the error answers were compared too
    # Nothing of the transaction that failed while applying was kept, and what it touched is back.
    assert fast[-3] == {}
    assert len(fast[-2]["Responses"][table]) == 2


# `item_level_transactions` against moto's own TransactWriteItems (which deep-copies every table
# it touches to roll back): the same answer (success, or the error with its cancellation
# reasons) and the same items afterwards, for transactions whose conditions hold or fail, that
# touch one item twice, fail while applying (a number added to a string set, a nested path
# under a missing map), ask for ALL_OLD, or put, update, delete and check items that exist or not.
_tx_keys = st.sampled_from(["a", "b", "c"])
_tx_conditions = st.sampled_from([None, "attribute_exists(PK)", "attribute_not_exists(PK)", "n = :one", "n < :one"])
_tx_updates = st.sampled_from(["SET n = :one", "ADD n :one", "ADD s :one", "SET m.x = :one", "REMOVE s",
                               "SET n = n + :one"])
_tx_entries = st.tuples(st.sampled_from(["Put", "Update", "Delete", "ConditionCheck"]), _tx_keys, _tx_conditions,
                        _tx_updates, st.booleans())
_tx_start = st.dictionaries(_tx_keys, st.fixed_dictionaries({"n": st.integers(0, 2).map(lambda n: {"N": str(n)})},
                                                            optional={"s": st.just({"SS": ["x"]})}), max_size=3)


def _tx_request(table: str, pk: str, entries: list[tuple[str, str, str | None, str, bool]]) -> list[dict[str, Any]]:
    items = []
    for op_type, sk, condition, update, all_old in entries:
        key = {"PK": {"S": pk}, "SK": {"S": sk}}
        op: dict[str, Any] = {"TableName": table}
        if op_type == "ConditionCheck":
            condition = condition or "attribute_exists(PK)"  # a check must have a condition
        if op_type == "Put":
            op["Item"] = {**key, "n": {"N": "7"}}
        else:
            op["Key"] = key
        uses_one = op_type == "Update" or (condition is not None and ":one" in condition)
        if op_type == "Update":
            op["UpdateExpression"] = update
        if condition is not None:
            op["ConditionExpression"] = condition
            if all_old:
                op["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        if uses_one:
            op["ExpressionAttributeValues"] = {":one": {"N": "1"}}
        items.append({op_type: op})
    return items


def _tx_outcome(client: Any, table: str, pk: str, start: dict[str, Any],
                entries: list[tuple[str, str, str | None, str, bool]]) -> tuple[Any, Any]:
    from botocore.exceptions import ClientError

    for sk, attrs in start.items():
        client.put_item(TableName=table, Item={"PK": {"S": pk}, "SK": {"S": sk}, **attrs})
    try:
        client.transact_write_items(TransactItems=_tx_request(table, pk, entries))
        answer: Any = "ok"
    except ClientError as err:
        answer = {k: v for k, v in err.response.items() if k != "ResponseMetadata"}
    after = client.query(TableName=table, KeyConditionExpression="PK = :pk",
                         ExpressionAttributeValues={":pk": {"S": pk}}, ConsistentRead=True)["Items"]
    return json.loads(json.dumps(answer).replace(pk, "PK")), json.loads(json.dumps(after).replace(pk, "PK"))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=_tx_start, entries=st.lists(_tx_entries, min_size=1, max_size=4))
def test_transactions_match_moto_own_transact_write_items(
        aws: None, start: dict[str, Any], entries: list[tuple[str, str, str | None, str, bool]]) -> None:
    import boto3

    from local import patches

    client = boto3.client("dynamodb")
    table = os.environ["TABLE_NAME"]
    with patches.speedups(True):
        fast = _tx_outcome(client, table, f"X#{next(_partition)}", start, entries)
    with patches.moto_own_paths():
        slow = _tx_outcome(client, table, f"X#{next(_partition)}", start, entries)
    assert fast == slow


def test_transactions_cover_what_the_differential_test_compares(aws: None) -> None:
    """The generated transactions above reach success, cancellation and validation errors; and
    where a failed condition meets an error while applying, moto's order decides (the error,
    not the cancellation: the earlier rewrite, which checked every condition first, answered
    the cancellation), with speed-ups on and off alike."""
    import boto3

    client = boto3.client("dynamodb")
    table = os.environ["TABLE_NAME"]
    with_set = {"a": {"n": {"N": "1"}, "s": {"SS": ["x"]}}}
    ok = _tx_outcome(client, table, f"X#{next(_partition)}", {}, [("Put", "a", None, "", False)])
    cancelled = _tx_outcome(client, table, f"X#{next(_partition)}", {"a": {"n": {"N": "1"}}},
                            [("Put", "b", None, "", False), ("Update", "a", "n = :one", "ADD n :one", False),
                             ("ConditionCheck", "c", "attribute_exists(PK)", "", True)])
    invalid = _tx_outcome(client, table, f"X#{next(_partition)}", with_set,
                          [("Put", "b", None, "", False), ("Update", "a", None, "ADD s :one", False)])
    failed_then_invalid = _tx_outcome(client, table, f"X#{next(_partition)}", with_set,
                                      [("ConditionCheck", "c", "attribute_exists(PK)", "", False),
                                       ("Update", "a", None, "ADD s :one", False)])
    twice = _tx_outcome(client, table, f"X#{next(_partition)}", {},
                        [("Put", "a", None, "", False), ("Delete", "a", None, "", False)])
    assert ok == ("ok", [{"PK": {"S": "PK"}, "SK": {"S": "a"}, "n": {"N": "7"}}])
    assert cancelled[0]["Error"]["Code"] == "TransactionCanceledException"
    assert [r["Code"] for r in cancelled[0]["CancellationReasons"]] == ["None", "None", "ConditionalCheckFailed"]
    assert cancelled[1] == [{"PK": {"S": "PK"}, "SK": {"S": "a"}, "n": {"N": "1"}}]  # b and n+1 rolled back
    for answer, items in (invalid, failed_then_invalid):
        assert answer["Error"]["Code"] == "ValidationException"
        assert [item["SK"]["S"] for item in items] == ["a"] and items[0]["s"] == {"SS": ["x"]}
    assert twice[0]["Error"]["Code"] == "ValidationException" and twice[1] == []


def test_a_two_operation_entry_is_refused_before_any_write(aws: None) -> None:
    """`transactions_all_or_nothing`: moto's own code writes the entries before a two-operation
    entry and keeps them; with the fix (speed-ups on or off) nothing is written."""
    import boto3
    from botocore.exceptions import ClientError
    from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends

    from local import patches

    client = boto3.client("dynamodb")
    table = os.environ["TABLE_NAME"]
    pk = f"W#{next(_partition)}"

    def request(sk: str) -> list[dict[str, Any]]:
        first = {"Put": {"TableName": table, "Item": {"PK": {"S": pk}, "SK": {"S": sk}}}}
        both = {"Put": {"TableName": table, "Item": {"PK": {"S": pk}, "SK": {"S": sk + "2"}}},
                "Delete": {"TableName": table, "Key": {"PK": {"S": pk}, "SK": {"S": sk + "3"}}}}
        return [first, both]

    def written() -> list[str]:
        items = client.query(TableName=table, KeyConditionExpression="PK = :pk",
                             ExpressionAttributeValues={":pk": {"S": pk}})["Items"]
        return [item["SK"]["S"] for item in items]

    for on in (True, False):
        with patches.speedups(on):
            try:
                client.transact_write_items(TransactItems=request("a"))
            except ClientError as err:
                assert err.response["Error"]["Code"] == "ValidationException"
                assert "only contain one of" in err.response["Error"]["Message"]
            else:
                raise AssertionError("a two-operation entry was accepted")
            assert written() == []

    # moto's own function, as it is under the fix: the first entry stays written.
    moto_own = next(s.original for s in patches._fix_swaps if s.name == "transact_write_items")
    assert moto_own.__module__.startswith("moto.")
    backend = dynamodb_backends["123456789012"]["us-east-1"]
    assert isinstance(backend, DynamoDBBackend)
    try:
        moto_own(backend, request("b"))  # the request as moto's handler passes it on
    except Exception as exc:
        assert type(exc).__name__ == "TransactWriteSingleOpException"
    else:
        raise AssertionError("moto accepted a two-operation entry")
    assert written() == ["b"]  # what the fix prevents


def test_limit_rule_is_a_fix_over_moto_own_query(aws: None) -> None:
    """`dynamodb_limit_rule`: a page that read Limit items hands back LastEvaluatedKey even when
    nothing follows; moto's own Query, under the fix, does too (with speed-ups off)."""
    import boto3

    from local import patches

    client = boto3.client("dynamodb")
    table = os.environ["TABLE_NAME"]
    pk = f"L#{next(_partition)}"
    for sk in ("a", "b"):
        client.put_item(TableName=table, Item={"PK": {"S": pk}, "SK": {"S": sk}, "n": {"N": "1"}})
    request: dict[str, Any] = {"TableName": table, "KeyConditionExpression": "PK = :pk",
                               "ExpressionAttributeValues": {":pk": {"S": pk}}, "Limit": 2}
    for on in (True, False):
        with patches.speedups(on):
            page = client.query(**request)
            assert page["Count"] == 2 and page["LastEvaluatedKey"] == {"PK": {"S": pk}, "SK": {"S": "b"}}, on
            # Filtered out and projected away: where it stopped is still the last item read.
            filtered = client.query(**{**request, "FilterExpression": "n = :no", "ProjectionExpression": "n",
                                       "ExpressionAttributeValues": {":pk": {"S": pk}, ":no": {"N": "2"}}})
            assert filtered["Count"] == 0 and filtered["LastEvaluatedKey"] == page["LastEvaluatedKey"], on
            rest = client.query(**request, ExclusiveStartKey=page["LastEvaluatedKey"])
            assert rest["Count"] == 0 and "LastEvaluatedKey" not in rest, on


# `key_range_queries` keeps each partition's sort keys in a sorted list, updated by its
# `Table.put_item`/`Table.delete_item`. Every write path moto has goes through those two: each is
# taken here (put, update of a new and of an existing item on the fast and on moto's own path,
# delete, transactions applied and rolled back, batch writes, a deleted and re-created table,
# writes made while the speed-ups were off), and after each the index equals the partition and
# a Query with the speed-ups answers as moto's own.
def test_sorted_key_index_follows_every_write_path(aws: None) -> None:
    import boto3
    from botocore.exceptions import ClientError
    from moto.dynamodb.models import dynamodb_backends

    from local import patches, provision

    client = boto3.client("dynamodb")
    table = os.environ["TABLE_NAME"]
    pk = f"K#{next(_partition)}"
    backend = dynamodb_backends["123456789012"]["us-east-1"]

    def key(sk: str) -> dict[str, Any]:
        return {"PK": {"S": pk}, "SK": {"S": sk}}

    def check(step: str) -> None:
        request = {"TableName": table, "KeyConditionExpression": "PK = :pk AND SK >= :from",
                   "ExpressionAttributeValues": {":pk": {"S": pk}, ":from": {"S": "0"}}}
        with patches.speedups(True):
            fast = client.query(**request)["Items"]
            assert patches.sorted_key_index_problems(backend.get_table(table)) == [], step
        with patches.moto_own_paths():
            slow = client.query(**request)["Items"]
        assert fast == slow, step

    def transact(*entries: dict[str, Any]) -> None:
        with contextlib.suppress(ClientError):
            client.transact_write_items(TransactItems=list(entries))

    check("empty")  # builds the partition's index
    with patches.speedups(True):
        client.put_item(TableName=table, Item={**key("p"), "n": {"N": "1"}})
        check("put")
        client.update_item(TableName=table, Key=key("u"), UpdateExpression="SET n = :v",
                           ExpressionAttributeValues={":v": {"N": "1"}})
        check("update creating an item, fast path")
        client.update_item(TableName=table, Key=key("v"), UpdateExpression="SET n = if_not_exists(n, :v) + :v",
                           ExpressionAttributeValues={":v": {"N": "1"}})
        check("update creating an item, moto's own update path")
        client.update_item(TableName=table, Key=key("p"), UpdateExpression="ADD n :v",
                           ExpressionAttributeValues={":v": {"N": "1"}})
        check("update of an existing item")
        client.delete_item(TableName=table, Key=key("u"))
        check("delete")
        for on in (True, False):
            with patches.speedups(on):
                transact({"Put": {"TableName": table, "Item": key(f"t{on}")}},
                         {"Delete": {"TableName": table, "Key": key("v")}},
                         {"Update": {"TableName": table, "Key": key(f"w{on}"), "UpdateExpression": "SET n = :v",
                                     "ExpressionAttributeValues": {":v": {"N": "1"}}}})
            check(f"transaction applied, speed-ups {on}")
            with patches.speedups(on):
                transact({"Put": {"TableName": table, "Item": key(f"r{on}")}},
                         {"Delete": {"TableName": table, "Key": key("p")}},
                         {"ConditionCheck": {"TableName": table, "Key": key("absent"),
                                             "ConditionExpression": "attribute_exists(PK)"}})
            check(f"transaction rolled back, speed-ups {on}")
        client.batch_write_item(RequestItems={table: [
            {"PutRequest": {"Item": key("b1")}}, {"PutRequest": {"Item": key("b2")}},
            {"DeleteRequest": {"Key": key("tTrue")}}]})
        check("batch write")
    with patches.moto_own_paths():  # writes the index's upkeep does not see
        client.put_item(TableName=table, Item=key("off1"))
        client.delete_item(TableName=table, Key=key("b1"))
    check("writes while the speed-ups were off")
    # A write behind every API's back (none of moto's does this): the length check rebuilds.
    moto_table = backend.get_table(table)
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    moto_table.items[DynamoType({"S": pk})][DynamoType({"S": "raw"})] = Item(
        DynamoType({"S": pk}), DynamoType({"S": "raw"}), key("raw"))
    check("an item set in moto's dictionary directly")
    client.delete_table(TableName=table)
    provision.create_table(client, table)
    check("table deleted and created again")
    with patches.speedups(True):
        client.put_item(TableName=table, Item=key("new"))
    check("put into the new table")


def _queue_state(sqs: Any, url: str) -> dict[str, Any]:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]


def test_queue_attributes_and_retention_answer_as_moto_own_code(aws: None) -> None:
    """`count_queue_messages_once`: the same attributes as moto's own code, for queues with
    messages ready, delayed and in flight (standard and FIFO), and the same retention rule
    (a message past the retention period is not handed out)."""
    import boto3
    from moto.sqs.models import sqs_backends

    from local import patches

    sqs = boto3.client("sqs")
    for fifo in (False, True):
        name = f"counted-{fifo}" + (".fifo" if fifo else "")
        url = sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
                               if fifo else {"RedrivePolicy": "", "MessageRetentionPeriod": "600"})["QueueUrl"]
        for i in range(6):
            extra = {"MessageGroupId": f"g{i % 3}"} if fifo else {"DelaySeconds": 60 if i == 5 else 0}
            sqs.send_message(QueueUrl=url, MessageBody=f"m{i}", **extra)
        taken = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, VisibilityTimeout=60)["Messages"]
        assert len(taken) == 2
        with patches.speedups(True):
            fast = _queue_state(sqs, url)
        with patches.moto_own_paths():
            slow = _queue_state(sqs, url)
        assert fast == slow
        ready, delayed = (4, 0) if fifo else (3, 1)
        assert (fast["ApproximateNumberOfMessages"], fast["ApproximateNumberOfMessagesDelayed"],
                fast["ApproximateNumberOfMessagesNotVisible"]) == (str(ready), str(delayed), "2")

    # Past the retention period: neither receive hands the message out (moto stops at it).
    for on in (True, False):
        url = sqs.create_queue(QueueName=f"retained-{on}", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="old")
        sqs.send_message(QueueUrl=url, MessageBody="new")
        queue = sqs_backends[os.environ.get("AWS_ACCOUNT_ID", "123456789012")]["us-east-1"].queues[f"retained-{on}"]
        with patches.speedups(on):
            assert [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]] == ["old"]
            queue._messages[1].sent_timestamp -= 61_000
            assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)


def test_json_paths_compiled_once_answer_as_moto_own_code(aws: None) -> None:
    """`parse_json_paths_once`: the same values (and the same error) from a compiled path kept
    across uses as from moto's parse-per-use, for the path shapes the state machine uses."""
    from moto.stepfunctions.parser.asl.utils import json_path

    from local import patches

    data = {"activity": {"id": "a1", "steps": [{"n": 1}, {"n": 2}]}, "work": [{"kind": "x"}]}
    paths = ["$", "$.activity", "$.activity.id", "$.activity.steps[1]", "$.activity.steps[*].n", "$.work[0].kind",
             "$.missing"]

    def answers() -> list[Any]:
        out: list[Any] = []
        for path in paths * 2:  # the second round reads the kept compilation
            try:
                out.append(json_path.extract_json(path, data))
            except json_path.NoSuchJsonPathError as err:
                out.append(str(err))
        return out

    with patches.speedups(True):
        fast = answers()
        assert json_path.parse("$.activity") is json_path.parse("$.activity")
    with patches.moto_own_paths():
        slow = answers()
        assert json_path.parse("$.activity") is not json_path.parse("$.activity")
    assert fast == slow


def test_unchecked_signatures_keep_what_moto_reads(aws: None) -> None:
    """With speed-ups on, an in-process request carries its credential scope and no signature;
    moto still reads the access key and the region from it. Off, botocore signs as it would for AWS."""
    import boto3

    from local import patches

    def sent(region: str) -> tuple[str, str]:
        headers: dict[str, str] = {}
        client = boto3.client("sqs", region_name=region, aws_access_key_id="AKIDLOCALTEST",
                              aws_secret_access_key="secret")
        client.meta.events.register("before-send.sqs.*", lambda request, **_: headers.update(request.headers))
        url = client.create_queue(QueueName=f"signed-{next(_partition)}")["QueueUrl"]
        return headers["Authorization"].decode() if isinstance(headers["Authorization"], bytes) \
            else headers["Authorization"], url

    with patches.speedups(True):
        fast, fast_url = sent("eu-west-1")
    with patches.moto_own_paths():
        slow, slow_url = sent("eu-west-1")
    scope = f"Credential=AKIDLOCALTEST/{fast.split('/')[1]}/eu-west-1/sqs/aws4_request"
    assert scope in fast and scope in slow
    assert fast.endswith(f"Signature={patches.UNCHECKED_SIGNATURE}")
    assert not slow.endswith(f"Signature={patches.UNCHECKED_SIGNATURE}")
    # The queue lands in the region and account the credential scope names, either way.
    assert fast_url.split("/")[2:4] == slow_url.split("/")[2:4]
    assert "eu-west-1" in fast_url
