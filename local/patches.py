"""Patches that make moto behave like AWS for this app.

- DynamoDB request handling is serialized: moto evaluates a condition and applies the write
  without a lock, so two racing conditional writes could both succeed. Only DynamoDB is
  locked: a Step Functions execution invokes Lambda, whose handler calls DynamoDB, so a lock
  held across an invoke would deadlock.
- Lambda invokes call the app's own functions in this process, so the real state machine
  definition runs the real handlers. An exception becomes a function error whose
  `errorType` is the exception's class name, which is what the ASL's Retry/Catch match.
"""

from __future__ import annotations

import functools
import json
import re
import threading
import traceback
from collections.abc import Callable
from typing import Any

from moto.core import config as moto_config

_dynamodb_lock = threading.RLock()
_patched: set[str] = set()
_handlers: dict[str, Callable[[Any, Any], Any]] = {}


def behave_like_aws() -> None:
    """Every patch below, once: the local stack, the tests and the benches run the same moto."""
    serialize_dynamodb()
    route_lambda_invokes()
    reuse_task_clients()
    item_level_transactions()
    plain_json_responses()
    parse_definitions_once()
    fast_counter_updates()
    key_range_queries()
    parse_update_expressions_once()


def configure_moto() -> None:
    """Step Functions executes definitions; Lambda runs without Docker (our patch runs it)."""
    moto_config.default_user_config["stepfunctions"] = {"execute_state_machine": True}
    moto_config.default_user_config["lambda"] = {"use_docker": False}


def serialize_dynamodb() -> None:
    if "dynamodb" in _patched:
        return
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.call_action

    @functools.wraps(original)
    def locked(self: Any) -> Any:
        with _dynamodb_lock:
            return original(self)

    DynamoHandler.call_action = locked  # type: ignore[method-assign]
    _patched.add("dynamodb")


def parse_definitions_once() -> None:
    """moto lexes and parses the state machine definition on every execution (antlr, ~0.4 s
    of CPU each); AWS compiles a definition once. The parse tree is kept per definition and
    only turned into fresh evaluation components per execution, so no state is shared.
    """
    if "asl" in _patched:
        return
    from moto.stepfunctions.parser.asl.parse import asl_parser
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    trees: dict[str, Any] = {}
    lock = threading.Lock()
    original = asl_parser.AmazonStateLanguageParser.parse

    def parse(definition: str) -> Any:
        with lock:
            tree = trees.get(definition)
        if tree is None:
            program, tree = original(definition)
            with lock:
                trees[definition] = tree
            return program, tree
        return Preprocessor().visit(tree), tree

    asl_parser.AmazonStateLanguageParser.parse = staticmethod(parse)  # type: ignore[method-assign]
    _patched.add("asl")


_DATA_PLANE = frozenset({"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "BatchGetItem",
                         "BatchWriteItem", "TransactWriteItems", "TransactGetItems"})


def _without_nones(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nones(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nones(v) for v in value]
    return value


def plain_json_responses() -> None:
    """Item operations answered with json.dumps instead of moto's shape-walking serializer.

    Their results are already in DynamoDB's JSON form (typed attribute values), which the
    generic serializer re-walks attribute by attribute: most of a local request's time went
    there. Errors and control-plane operations keep moto's own serializer.
    """
    if "json" in _patched:
        return
    from moto.dynamodb.responses import DynamoHandler, DynamoResult

    original = DynamoHandler.serialized

    def serialized(self: Any, action_result: Any) -> Any:
        if type(action_result) is DynamoResult and self._get_action() in _DATA_PLANE:
            headers = {**self.response_headers, "Content-Type": "application/x-amz-json-1.0"}
            return 200, headers, json.dumps(_without_nones(action_result.result))
        return original(self, action_result)

    DynamoHandler.serialized = serialized  # type: ignore[method-assign]
    _patched.add("json")


_PLAIN_ADD = re.compile(r"^ADD (#\w+ :\w+)(, #\w+ :\w+)*$")


def fast_counter_updates() -> None:
    """`ADD #a :x, #b :y` on numbers, applied directly instead of through moto's expression
    machinery (a parser and ten tree walks per update, ~15 ms of CPU). KPI buckets and stats
    counters are most of a step's updates and have exactly this shape; any other update (a
    condition, SET, REMOVE, a non-number) takes moto's own path.
    """
    if "counters" in _patched:
        return
    from decimal import Decimal

    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    original = DynamoDBBackend.update_item

    def update_item(self: Any, table_name: str, key: dict[str, Any], update_expression: str,
                    expression_attribute_names: dict[str, Any], expression_attribute_values: dict[str, Any],
                    attribute_updates: Any = None, expected: Any = None, condition_expression: str | None = None,
                    return_values_on_condition_check_failure: str | None = None) -> Any:
        table = self.get_table(table_name)
        plain = (update_expression and not condition_expression and not expected and not attribute_updates
                 and _PLAIN_ADD.match(update_expression) and table.stream_shard is None)
        pairs = []
        if plain:
            for part in update_expression[4:].split(", "):
                name_ref, value_ref = part.split(" ")
                name = (expression_attribute_names or {}).get(name_ref)
                value = (expression_attribute_values or {}).get(value_ref)
                if name is None or not isinstance(value, dict) or list(value) != ["N"] or name in key:
                    plain = False
                    break
                pairs.append((name, Decimal(value["N"])))
        if not plain:
            return original(self, table_name, key, update_expression, expression_attribute_names,
                            expression_attribute_values, attribute_updates, expected, condition_expression,
                            return_values_on_condition_check_failure)
        hash_value = DynamoType(key[table.hash_key_attr])
        range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        item = table.get_item(hash_value, range_value)
        if item is None:
            table.put_item(dict(key))
            item = table.get_item(hash_value, range_value)
        for name, _ in pairs:
            current = item.attrs.get(name)
            if current is not None and current.type != "N":
                return original(self, table_name, key, update_expression, expression_attribute_names,
                                expression_attribute_values, attribute_updates, expected, condition_expression,
                                return_values_on_condition_check_failure)
        for name, amount in pairs:
            current = item.attrs.get(name)
            total = amount + (Decimal(current.value) if current is not None else 0)
            item.attrs[name] = DynamoType({"N": str(total)})
        assert isinstance(item, Item)
        return item

    DynamoDBBackend.update_item = update_item  # type: ignore[method-assign]
    _patched.add("counters")


def parse_update_expressions_once() -> None:
    """Each distinct UpdateExpression is parsed once, as a compiled expression would be.

    moto parses an update expression twice per transaction item (once to validate the request,
    once to apply it) with a tokenizer and recursive-descent parser in Python; the app sends a
    handful of distinct expressions over and over. moto never changes a parsed tree in place
    (its validator works on a deep copy), so the tree is shared; the validator's copy is made
    from the tree's pickled form, several times faster than `copy.deepcopy`.
    """
    if "update-expressions" in _patched:
        return
    import copy
    import pickle

    from moto.dynamodb.parsing import validators
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    original_make = UpdateExpressionParser.make
    trees: dict[str, Any] = {}
    pickled: dict[int, bytes] = {}
    lock = threading.Lock()

    def make(cls: Any, expression_str: str) -> Any:
        tree = trees.get(expression_str)
        if tree is None:
            tree = original_make.__func__(cls, expression_str)  # type: ignore[attr-defined]
            with lock:
                trees[expression_str] = tree
                pickled[id(tree)] = pickle.dumps(tree)
        return tree

    def fresh_copy(value: Any, memo: Any = None) -> Any:
        frozen = pickled.get(id(value))
        return pickle.loads(frozen) if frozen is not None else copy.deepcopy(value, memo)

    UpdateExpressionParser.make = classmethod(make)  # type: ignore[method-assign,assignment]
    validators.deepcopy = fresh_copy  # type: ignore[attr-defined]
    _patched.add("update-expressions")


def key_range_queries() -> None:
    """A table Query reads the partition's key range, as DynamoDB does.

    moto answers a Query by walking every item of the whole table, sorting the partition and
    sizing each item up to the page: a user's tab, or a workflow step's read, cost time in
    proportion to everything ever written. Each partition's string sort keys are kept in a
    sorted list (maintained as items are put and deleted), so a Query bisects to its range and
    touches only the page it returns. Index queries, number or binary sort keys and the legacy
    KeyConditions/QueryFilter parameters keep moto's own path.
    """
    if "queries" in _patched:
        return
    import bisect
    import copy

    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import RESULT_SIZE_LIMIT, Table

    original_query, original_put, original_delete = Table.query, Table.put_item, Table.delete_item

    def sort_keys(table: Any, hash_key: Any) -> list[str]:
        index: dict[Any, list[str]] = table.__dict__.setdefault("_sorted_sort_keys", {})
        keys = index.get(hash_key)
        if keys is None:
            keys = index[hash_key] = sorted(k.value for k in table.items.get(hash_key, {}))
        return keys

    def known_keys(table: Any, item: Any) -> list[str] | None:
        if item is None or item.range_key is None:
            return None
        keys: list[str] | None = table.__dict__.get("_sorted_sort_keys", {}).get(item.hash_key)
        return keys

    def put_item(self: Any, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        item = original_put(self, item_attrs, *args, **kwargs)
        keys = known_keys(self, item)
        if keys is not None:
            at = bisect.bisect_left(keys, item.range_key.value)
            if at == len(keys) or keys[at] != item.range_key.value:
                keys.insert(at, item.range_key.value)
        return item

    def delete_item(self: Any, hash_key: Any, range_key: Any) -> Any:
        item = original_delete(self, hash_key, range_key)
        keys = known_keys(self, item)
        if keys is not None:
            at = bisect.bisect_left(keys, item.range_key.value)
            if at < len(keys) and keys[at] == item.range_key.value:
                del keys[at]
        return item

    def key_range(keys: list[str], comparison: str | None, values: list[Any]) -> tuple[int, int]:
        """The slice of sorted keys a key condition selects (code point order is UTF-8 order)."""
        if comparison is None:
            return 0, len(keys)
        v = [x.value for x in values]
        if comparison in ("=", "EQ"):
            return bisect.bisect_left(keys, v[0]), bisect.bisect_right(keys, v[0])
        if comparison in ("<", "LT"):
            return 0, bisect.bisect_left(keys, v[0])
        if comparison in ("<=", "LE"):
            return 0, bisect.bisect_right(keys, v[0])
        if comparison in (">", "GT"):
            return bisect.bisect_right(keys, v[0]), len(keys)
        if comparison in (">=", "GE"):
            return bisect.bisect_left(keys, v[0]), len(keys)
        if comparison == "BETWEEN":
            return bisect.bisect_left(keys, v[0]), bisect.bisect_right(keys, v[1])
        # BEGINS_WITH: every key from the prefix up to the first key that no longer starts with it.
        start = bisect.bisect_left(keys, v[0])
        end = start
        while end < len(keys) and keys[end].startswith(v[0]):
            end += 1
        return start, end

    supported = {None, "=", "EQ", "<", "LT", "<=", "LE", ">", "GT", ">=", "GE", "BETWEEN", "BEGINS_WITH"}

    def query(self: Any, hash_key: Any, range_comparison: str | None, range_objs: list[Any], limit: int,
              exclusive_start_key: dict[str, Any], scan_index_forward: bool,
              projection_expressions: list[list[str]] | None, index_name: str | None = None,
              consistent_read: bool = False, filter_expression: Any = None, **kwargs: Any) -> Any:
        comparison = range_comparison.upper() if range_comparison else None
        extra = {k: v for k, v in kwargs.items() if v and k not in ("hash_key_conditions", "range_key_conditions")}
        if (index_name or hash_key is None or extra or self.range_key_type != "S" or comparison not in supported
                or len(kwargs.get("range_key_conditions") or []) > 1
                or any(x.type != "S" for x in range_objs)):
            return original_query(self, hash_key, range_comparison, range_objs, limit, exclusive_start_key,
                                  scan_index_forward, projection_expressions, index_name, consistent_read,
                                  filter_expression, **kwargs)
        partition = self.items.get(hash_key, {})
        keys = sort_keys(self, hash_key)
        start, end = key_range(keys, comparison, range_objs)
        if exclusive_start_key is not None:
            after = exclusive_start_key[self.range_key_attr]["S"]
            if scan_index_forward:
                start = max(start, bisect.bisect_right(keys, after))
            else:
                end = min(end, bisect.bisect_left(keys, after))
        order = range(start, end) if scan_index_forward else range(end - 1, start - 1, -1)
        page: list[Any] = []
        size = 0
        last_evaluated_key = None
        for position in order:
            item = partition[DynamoType({"S": keys[position]})]
            item_size = item.size()
            if len(page) == limit or size + item_size > RESULT_SIZE_LIMIT:
                last_evaluated_key = self._get_last_evaluated_key(page[-1], None)
                break
            page.append(item)
            size += item_size
        results = copy.deepcopy(page)
        if filter_expression is not None:
            results = [item for item in results if filter_expression.expr(item)]
        if projection_expressions:
            results = [r.project(projection_expressions) for r in results]
        return results, len(page), last_evaluated_key

    Table.query = query  # type: ignore[method-assign]
    Table.put_item = put_item  # type: ignore[method-assign]
    Table.delete_item = delete_item  # type: ignore[method-assign]
    _patched.add("queries")


def item_level_transactions() -> None:
    """TransactWriteItems without copying the whole table.

    moto backs up every table a transaction touches with a deep copy (once per item of the
    transaction) so that it can roll back: the cost grows with the table, and a long local
    session slows to seconds per activity. DynamoDB's semantics are kept by checking every
    condition first (DynamoDB requests are serialized, so nothing changes in between), then
    applying, with only the touched items saved for the rollback of an unexpected error.
    """
    if "transactions" in _patched:
        return
    import copy

    from moto.dynamodb import exceptions as dx
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.models import DynamoDBBackend

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        if len(transact_items) > 100:
            raise dx.TooManyTransactionsException()
        seen: set[tuple[str, str]] = set()
        planned: list[tuple[str, dict[str, Any], str, dict[str, Any]]] = []
        errors: list[Any] = []
        for entry in transact_items:
            if len(entry) > 1:
                raise dx.TransactWriteSingleOpException
            op_type, op = next(iter(entry.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            table = self.get_table(table_name)
            if op_type == "Put":
                attrs = op["Item"]
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]
            marker = (str(table_name), str(dict(sorted(key.items()))))
            if marker in seen:
                raise dx.MultipleTransactionsException()
            seen.add(marker)
            current = self.get_item(table_name, key)
            condition = op.get("ConditionExpression")
            error: Any = (None, None, None)
            if condition is not None:
                test = get_filter_expression(condition, op.get("ExpressionAttributeNames"),
                                             op.get("ExpressionAttributeValues"))
                if not test.expr(current):
                    old = None
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        old = current.to_json()["Attributes"]
                    error = ("ConditionalCheckFailed", "The conditional request failed", old)
            errors.append(error)
            planned.append((op_type, op, table_name, key))
        if any(code is not None for code, _, _ in errors):
            raise dx.TransactionCanceledException(errors)
        saved = [(name, key, copy.deepcopy(self.get_item(name, key))) for _, _, name, key in planned]
        try:
            for op_type, op, table_name, key in planned:
                names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                if op_type == "Put":
                    self.put_item(table_name, op["Item"], expression_attribute_names=names,
                                  expression_attribute_values=values)
                elif op_type == "Delete":
                    self.delete_item(table_name, key, expression_attribute_names=names,
                                     expression_attribute_values=values)
                elif op_type == "Update":
                    self.update_item(table_name, key, update_expression=op["UpdateExpression"],
                                     expression_attribute_names=names, expression_attribute_values=values)
        except Exception:
            for table_name, key, before in saved:
                if before is None:
                    self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, before.to_json()["Attributes"])
            raise

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    _patched.add("transactions")


class _Context:
    """The bits of a Lambda context our handlers read."""

    def __init__(self, name: str) -> None:
        self.function_name = name
        self.aws_request_id = "local"
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


def reuse_task_clients() -> None:
    """moto builds a new boto3 client for every Task it runs; AWS keeps connections warm.

    Reusing one client per (region, service) removes that per-state cost from every local
    execution, so local latencies measure our handlers rather than client construction.
    """
    if "clients" in _patched:
        return
    import moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils  # noqa: F401
    from moto.stepfunctions.parser.asl.utils import boto_client as module

    original = module.boto_client_for
    cache: dict[tuple[str, str, bool], Any] = {}
    lock = threading.Lock()

    def cached(region: str, service: str, state_credentials: Any = None) -> Any:
        # moto's own function ignores the state's credentials (it signs with fixed test keys),
        # so one client per region and service answers every state.
        from moto.core.models import botocore_stubber

        key = (region, service, bool(botocore_stubber.enabled))
        with lock:
            if key not in cache:
                cache[key] = original(region, service)
            return cache[key]

    module.boto_client_for = cached  # type: ignore[attr-defined,unused-ignore]
    # Modules that imported the name before the patch keep their own reference.
    import sys

    for name, loaded in list(sys.modules.items()):
        if name.startswith("moto.stepfunctions") and getattr(loaded, "boto_client_for", None) is original:
            setattr(loaded, "boto_client_for", cached)  # noqa: B010 - a module attribute mypy cannot see
    _patched.add("clients")


def register_functions(handlers: dict[str, Callable[[Any, Any], Any]]) -> None:
    """Map deployed function names to the app's handlers."""
    _handlers.update(handlers)


def route_lambda_invokes() -> None:
    if "lambda" in _patched:
        return
    from moto.awslambda_simple.models import LambdaSimpleBackend

    def invoke(self: Any, function_name: str, qualifier: str | None, body: Any,
               headers: Any, response_headers: Any) -> bytes:
        name = function_name.split(":function:")[-1].split(":")[0]
        handler = _handlers.get(name)
        if handler is None:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": "ResourceNotFound", "errorMessage": f"no function {name}"}).encode()
        event = json.loads(body) if body else {}
        try:
            result = handler(event, _Context(name))
        except Exception as exc:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({
                "errorType": type(exc).__name__,
                "errorMessage": str(exc),
                "stackTrace": traceback.format_exception(exc)[-3:],
            }).encode()
        return json.dumps(result).encode()

    LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign]
    _patched.add("lambda")
