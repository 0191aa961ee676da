"""Patches that make moto behave like AWS for this app, and speed-ups of moto's own code.

Two kinds (docs/moto-patches.md has one section per patch, and the change moto could take):

- **Fixes** make moto behave as AWS does; always on.
  - `serialize_dynamodb`: DynamoDB request handling is serialized. moto evaluates a condition
    and applies the write without a lock, so two racing conditional writes could both succeed.
    Only DynamoDB is locked: a Step Functions execution invokes Lambda, whose handler calls
    DynamoDB, so a lock held across an invoke would deadlock.
  - `route_lambda_invokes`: Lambda invokes call the app's own functions, so the real state
    machine definition runs the real handlers. An exception becomes a function error whose
    `errorType` is the exception's class name, which is what the ASL's Retry/Catch match. An
    asynchronous invocation (`InvocationType=Event`, a webhook delivery) runs in a thread of its
    own and answers 202 at once, as Lambda's queue does; what it raises is logged.
  - `dynamodb_limit_rule`: a Query that stops at its Limit hands back LastEvaluatedKey, as
    DynamoDB does (moto only does when another item follows).
  - `transactions_all_or_nothing`: a TransactWriteItems entry with more than one operation is
    refused before anything is written (moto refuses it on reaching it, after writing the
    entries before it, and keeps those writes).
  - `synchronous_express_executions`: StartSyncExecution runs an EXPRESS machine to its end and
    answers AWS's result shape (moto has no route for it and answers 404 "Not yet implemented").
  - `sqs_receive_like_aws`: a ReceiveMessage is atomic per queue (moto's is not: two receives
    could take one FIFO group's messages at once) and its long poll waits instead of spinning.
- **Speed-ups** replace moto code that is slow (most of a local request's time) with code that
  answers the same, and skip two pieces of botocore's client-side work that only matter
  against AWS itself (signing, and re-walking an item answer's JSON); `SPEED_UPS` lists them.
  One switch turns every one off: the environment variable `LOCAL_SPEEDUPS=0` (read by
  `behave_like_aws`), or `set_speedups(False)` / `with speedups(False):` /
  `with moto_own_paths():` in a test. Off means moto's own functions
  are back in their places, which `moto_own_code_problems()` checks (and `behave_like_aws`
  asserts in that mode).

The patches reach into moto's private code, written for the versions in `WRITTEN_FOR`
(the same as constraints.txt): `behave_like_aws` refuses to start on other versions unless
`LOCAL_ALLOW_UNPINNED=1` (then it warns).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import logging
import math
import os
import re
import sys
import threading
import traceback
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from moto.core import config as moto_config

LOG = logging.getLogger("local.patches")
_dynamodb_lock = threading.RLock()
_patched: set[str] = set()
_handlers: dict[str, Callable[[Any, Any], Any]] = {}

# -- the versions the patches were written for ---------------------------------------------------

# Distribution name -> the exact version local/patches.py (and local/stack.py, local/http.py) was
# written and tested for; the "guarded" block of constraints.txt lists the same (a test checks).
WRITTEN_FOR: dict[str, str] = {
    "moto": "5.2.5",
    "boto3": "1.44.8",
    "botocore": "1.44.8",
    "s3transfer": "0.19.3",
    "chalice": "1.34.0",
    "werkzeug": "3.1.9",
    "antlr4-python3-runtime": "4.13.2",
}
ALLOW_UNPINNED = "LOCAL_ALLOW_UNPINNED"
SPEEDUPS_VARIABLE = "LOCAL_SPEEDUPS"


class UnpinnedDependencies(RuntimeError):
    """An installed package is not the version the patches were written for."""


class UnpinnedDependenciesWarning(UserWarning):
    """The same, with LOCAL_ALLOW_UNPINNED=1: the patches run on versions nobody checked."""


def _installed_version(distribution: str) -> str | None:
    return _metadata_version(distribution)


@functools.cache
def _metadata_version(distribution: str) -> str | None:
    """Looked up once per process (about 2 ms each; `behave_like_aws` runs for every test)."""
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def version_mismatches() -> list[str]:
    """`name: installed X, written for Y` for every guarded package at another version (one not
    installed at all is not a mismatch: whatever imports it fails on its own)."""
    found = []
    for name, wanted in WRITTEN_FOR.items():
        installed = _installed_version(name)
        if installed is not None and installed != wanted:
            found.append(f"{name} {installed} is installed, the patches were written for {name}=={wanted}")
    return found


def check_versions() -> None:
    """Refuse to patch packages at versions the patches were not written for.

    The patches replace or wrap about 50 of moto's names, private ones included, and read
    botocore's request objects; on another version they may fail, or worse, quietly answer
    differently from AWS. With LOCAL_ALLOW_UNPINNED=1 a mismatch only warns.
    """
    mismatches = version_mismatches()
    if not mismatches:
        return
    message = ("local/patches.py refuses to patch moto: " + "; ".join(mismatches) + ". Install the pinned "
               "versions with `.venv/bin/pip install -c constraints.txt -e '.[dev]'`, or set "
               f"{ALLOW_UNPINNED}=1 to run on these versions anyway (unchecked: the patches reach into "
               "moto's private code; run `make test` before trusting the result).")
    if os.environ.get(ALLOW_UNPINNED) == "1":
        warnings.warn(message.replace("refuses to patch moto", f"patches moto anyway ({ALLOW_UNPINNED}=1)"),
                      UnpinnedDependenciesWarning, stacklevel=2)
        return
    raise UnpinnedDependencies(message)


# -- the two kinds, and the switch -----------------------------------------------------------------

_ABSENT = object()  # the attribute was not in the owner's own namespace (inherited)


@dataclass
class _Swap:
    """One name a patch replaces: `owner.__dict__[name]` is `original` before, `replacement` after."""

    owner: Any  # a class or a module
    name: str
    original: Any
    replacement: Any

    def put(self, value: Any) -> None:
        if value is _ABSENT:
            if self.name in vars(self.owner):
                delattr(self.owner, self.name)
        else:
            setattr(self.owner, self.name, value)

    def current(self) -> Any:
        return vars(self.owner).get(self.name, _ABSENT)

    @property
    def label(self) -> str:
        if isinstance(self.owner, type):
            return f"{self.owner.__module__}.{self.owner.__qualname__}.{self.name}"
        return f"{self.owner.__name__}.{self.name}"


_fix_swaps: list[_Swap] = []
_speedup_swaps: dict[str, list[_Swap]] = {}
_speedups_on = True
_index_generation = 0  # bumped whenever speed-ups come back on: `key_range_queries` rebuilds its index


def _swap(owner: Any, name: str, replacement: Any) -> _Swap:
    swap = _Swap(owner, name, vars(owner).get(name, _ABSENT), replacement)
    setattr(owner, name, replacement)
    return swap


def _fix(owner: Any, name: str, replacement: Any) -> None:
    _fix_swaps.append(_swap(owner, name, replacement))


def _speedup(patch: str, owner: Any, name: str, replacement: Any) -> None:
    swap = _swap(owner, name, replacement)
    _speedup_swaps.setdefault(patch, []).append(swap)
    if not _speedups_on:
        swap.put(swap.original)


def behave_like_aws() -> None:
    """Every fix, and every speed-up unless LOCAL_SPEEDUPS=0: the local stack, the tests and the
    benches run the same moto. Refuses to start on versions the patches were not written for."""
    check_versions()
    for fix in FIXES:
        fix()
    for speedup in SPEED_UPS:
        speedup()
    wanted = speedups_wanted()
    if _speedups_on != wanted:
        set_speedups(wanted)
    if not wanted:
        problems = moto_own_code_problems()
        if problems:
            raise AssertionError("LOCAL_SPEEDUPS=0 but not moto's own code: " + "; ".join(problems))
        _say_mode_once()


def speedups_wanted() -> bool:
    """LOCAL_SPEEDUPS=0 (or false/off/no) turns every speed-up off; anything else, or unset, on."""
    return os.environ.get(SPEEDUPS_VARIABLE, "1").strip().lower() not in ("0", "false", "off", "no")


def speedups_enabled() -> bool:
    return _speedups_on


def mode() -> str:
    """One line for logs and test headers."""
    if not _speedups_on:
        return (f"moto speed-ups off: moto's own code in place for "
                f"{sum(map(len, _speedup_swaps.values()))} names of {len(_speedup_swaps)} speed-ups; "
                f"the {len(FIXES)} fixes on")
    return f"moto speed-ups on ({len(_speedup_swaps)} speed-ups); the {len(FIXES)} fixes on"


_mode_said = False


def _say_mode_once() -> None:
    global _mode_said
    if not _mode_said:
        _mode_said = True
        print(f"local.patches: {mode()}", file=sys.stderr)


def set_speedups(on: bool) -> None:
    """Every speed-up in place (True) or moto's own code back (False). Under the DynamoDB lock, so
    no DynamoDB request runs on a mix (a request's result object is built and written out by the
    same pair of functions)."""
    global _speedups_on, _index_generation
    with _dynamodb_lock:
        if "clients" in _patched:
            _rebind_task_clients()
        for swaps in _speedup_swaps.values():
            for swap in swaps:
                swap.put(swap.replacement if on else swap.original)
        if on and not _speedups_on:
            _index_generation += 1  # writes made meanwhile did not go through the index's upkeep
        _speedups_on = on


@contextlib.contextmanager
def speedups(on: bool) -> Iterator[None]:
    """Speed-ups on or off for as long as the block runs, then as they were."""
    before = _speedups_on
    set_speedups(on)
    try:
        yield
    finally:
        set_speedups(before)


def moto_own_paths() -> contextlib.AbstractContextManager[None]:
    """moto's own code for every speed-up (request routing, parsing, serializing, Query, update,
    projection, transactions, Step Functions), for as long as the block runs; the fixes stay."""
    return speedups(False)


def _ours(value: Any) -> bool:
    function = getattr(value, "__func__", value)  # staticmethod, classmethod
    return getattr(function, "__module__", None) == __name__ or hasattr(function, "__wrapped__")


def moto_own_code_problems() -> list[str]:
    """What is not as it should be with speed-ups off: every name a speed-up replaces must hold
    what it held before the patch (captured then), which must be moto's own function or a fix
    (whose own original must be moto's); every fix must be in place. Empty when all is well."""
    problems = []
    fixes = {id(swap.replacement): swap for swap in _fix_swaps}
    for patch, swaps in _speedup_swaps.items():
        for swap in swaps:
            current = swap.current()
            if current is not swap.original:
                problems.append(f"{patch}: {swap.label} is {current!r}, not what it was before patching")
            elif current is not _ABSENT and id(current) not in fixes and _ours(current):
                problems.append(f"{patch}: {swap.label} was already patched before {patch} captured it")
            elif id(current) in fixes and _ours(fixes[id(current)].original):
                problems.append(f"{patch}: {swap.label} is a fix over code that is not moto's own")
    for swap in _fix_swaps:
        if swap.current() is not swap.replacement:
            problems.append(f"fix {swap.label} is not in place")
    from moto.awslambda_simple.models import LambdaSimpleBackend

    if not str(getattr(LambdaSimpleBackend.invoke, "__module__", "")).startswith("local."):
        problems.append("fix LambdaSimpleBackend.invoke (Lambda invokes routed to the app's functions) is not in place")
    return problems


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
            answer = original(self)
            observer = _write_observer
            if observer is not None and isinstance(answer, tuple) and answer[0] == 200:
                observer(self._get_action(), getattr(self, "params", {}), self.current_account, self.region)
            return answer

    _fix(DynamoHandler, "call_action", locked)
    _patched.add("dynamodb")


_write_observer: Callable[[str, dict[str, Any], str, str], None] | None = None


def observe_dynamodb_writes(observer: Callable[[str, dict[str, Any], str, str], None] | None) -> None:
    """`observer(action, params, account, region)` after every DynamoDB request moto answered 200,
    still inside the DynamoDB lock, so it sees requests in the order they were applied (the
    local runtime's journal, `local.durability`). None stops it."""
    global _write_observer
    _write_observer = observer


def dynamodb_lock() -> contextlib.AbstractContextManager[Any]:
    """Held while no DynamoDB request may run (a snapshot of every table)."""
    return _dynamodb_lock


def dynamodb_limit_rule() -> None:
    """A Query that stops at its Limit hands back LastEvaluatedKey (a fix).

    DynamoDB stops reading when it has read Limit items and answers where it stopped, whether
    or not more items follow (the next page may be empty). moto only answers a
    LastEvaluatedKey when one more item follows, so a caller paging by Limit saw the last page
    end one request early, which a client that trusts the absence of LastEvaluatedKey cannot
    tell from AWS. Applied around moto's own Query (and kept by the `key_range_queries`
    speed-up, which replaces it). The legacy QueryFilter parameter keeps moto's answer.
    """
    if "limit" in _patched:
        return
    from moto.dynamodb.models import table as table_module

    Table: Any = table_module.Table
    moto_query = Table.query

    def query(self: Any, hash_key: Any, range_comparison: str | None, range_objs: list[Any], limit: int,
              exclusive_start_key: dict[str, Any], scan_index_forward: bool,
              projection_expressions: list[list[str]] | None, index_name: str | None = None,
              consistent_read: bool = False, filter_expression: Any = None, **kwargs: Any) -> Any:
        answer = moto_query(self, hash_key, range_comparison, range_objs, limit, exclusive_start_key,
                            scan_index_forward, projection_expressions, index_name, consistent_read,
                            filter_expression, **kwargs)
        results, scanned, last_evaluated_key = answer
        legacy = any(v for k, v in kwargs.items() if k not in ("hash_key_conditions", "range_key_conditions"))
        if last_evaluated_key is not None or not limit or scanned != limit or legacy:
            return answer
        # Read exactly Limit items and stopped at the end: where it stopped is the last item read
        # (before the filter and the projection, which may leave it out or drop its keys).
        read, _, _ = moto_query(self, hash_key, range_comparison, range_objs, limit, exclusive_start_key,
                                scan_index_forward, None, index_name, consistent_read, None, **kwargs)
        return results, scanned, self._get_last_evaluated_key(read[-1], index_name)

    _fix(Table, "query", query)
    _patched.add("limit")


def _one_operation_each(transact_items: list[dict[str, Any]]) -> None:
    from moto.dynamodb import exceptions as dx

    if any(len(entry) > 1 for entry in transact_items):
        raise dx.TransactWriteSingleOpException


def transactions_all_or_nothing() -> None:
    """A transaction with an entry of more than one operation is refused before any write (a fix).

    moto checks each entry's shape as it reaches it, outside its rollback: the entries before
    a two-operation entry stay written though the request failed. DynamoDB validates the
    request first. (The rest of moto's TransactWriteItems is faithful: see docs/moto-patches.md.)
    """
    if "transactions-shape" in _patched:
        return
    from moto.dynamodb.models import DynamoDBBackend

    moto_transact = DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        _one_operation_each(transact_items)
        return moto_transact(self, transact_items)

    _fix(DynamoDBBackend, "transact_write_items", transact_write_items)
    _patched.add("transactions-shape")


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

    _speedup("asl", asl_parser.AmazonStateLanguageParser, "parse", staticmethod(parse))
    _patched.add("asl")


_DATA_PLANE = frozenset({"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "BatchGetItem",
                         "BatchWriteItem", "TransactWriteItems", "TransactGetItems"})
# A binary attribute value (or an attribute named B or BS, which only costs the fast path): the
# one kind of value whose request or answer moto's and botocore's model-driven code decodes.
_BINARY_VALUE = re.compile(r'"BS?"\s*:')
# Set by `plain_json_responses` on an item answer with no binary value: JSON that botocore's
# model walk would hand back unchanged, which `plain_item_answers` parses with json.loads.
PLAIN_ANSWER_HEADER = "x-local-plain-json"


def _wire_form(value: Any) -> Any:
    """A handler's result as DynamoDB's JSON, in one pass: typed attribute values as
    `{type: value}`, binary ones base64 as on the wire, and unset (None) fields left out."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    if type(value) is DynamoType:
        return _attribute_form(value, DynamoType)
    if isinstance(value, dict):  # an item's attributes are a dict subclass
        return {k: _wire_form(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_wire_form(v) for v in value]
    if hasattr(value, "to_json"):
        return _wire_form(value.to_json())
    return value


def _attribute_form(value: Any, dynamo_type: type) -> dict[str, Any]:
    """One typed attribute value as DynamoDB's JSON (`_wire_form`'s inner loop: a map's or a
    list's members are typed values themselves, each turned straight into its JSON)."""
    kind = value.type
    if kind == "M":
        return {"M": {k: _attribute_form(v, dynamo_type) if type(v) is dynamo_type else _wire_form(v)
                      for k, v in value.value.items() if v is not None}}
    if kind == "L":
        return {"L": [_attribute_form(v, dynamo_type) if type(v) is dynamo_type else _wire_form(v)
                      for v in value.value]}
    if kind in ("B", "BS"):
        raw = value.value if kind == "BS" else [value.value]
        encoded = [base64.b64encode(v).decode() if isinstance(v, bytes) else v for v in raw]
        return {kind: encoded if kind == "BS" else encoded[0]}
    scalar = value.value
    return {kind: scalar if type(scalar) in (str, bool) else _wire_form(scalar)}


def plain_json_responses() -> None:
    """Item operations answered with json.dumps instead of moto's shape-walking serializer.

    Their results are already in DynamoDB's JSON form (typed attribute values), which the
    generic serializer re-walks attribute by attribute: most of a local request's time went
    there. moto's result wrapper also converted every item to plain values up front (a second
    walk, then a third to drop unset fields); an item operation's result is now converted
    once, when it is written out. Errors and control-plane operations keep moto's own
    serializer, given the conversion it expects.
    """
    if "json" in _patched:
        return
    from moto.dynamodb.models.utilities import dynamo_to_dict
    from moto.dynamodb.responses import ActionResult, DynamoHandler, DynamoResult

    original = DynamoHandler.serialized

    def keep(self: Any, result: object) -> None:
        # Unconverted: moto's consumed-capacity wrapper reads `result` of every item operation
        # and at most adds a top-level key, which the conversion at write-out carries along.
        ActionResult.__init__(self, result)

    def serialized(self: Any, action_result: Any) -> Any:
        if type(action_result) is DynamoResult:
            if self._get_action() in _DATA_PLANE:
                headers = {**self.response_headers, "Content-Type": "application/x-amz-json-1.0"}
                body = json.dumps(_wire_form(action_result._result))
                if not _BINARY_VALUE.search(body):
                    headers[PLAIN_ANSWER_HEADER] = "1"  # what `plain_item_answers` parses with json.loads
                return 200, headers, body
            action_result._result = dynamo_to_dict(action_result._result)  # what moto's serializer reads
        return original(self, action_result)

    _speedup("json", DynamoResult, "__init__", keep)
    _speedup("json", DynamoHandler, "serialized", serialized)
    _patched.add("json")


def parse_projections_once() -> None:
    """Each distinct ProjectionExpression is parsed and checked once.

    moto splits it and checks every name against DynamoDB's 573 reserved words (a list scan per
    name) on every read: a status poll's 13 names cost more than finding the item. A failing
    expression is not kept, so it fails again the same way.
    """
    if "projections" in _patched:
        return
    from moto.dynamodb.responses import ProjectionExpressionParser

    original = ProjectionExpressionParser.parse
    parsed: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[list[list[str]], list[str]]] = {}

    def parse(self: Any) -> list[list[str]]:
        if not self.projection_expression:
            return original(self)
        key = (self.projection_expression, tuple(sorted(self.expression_attribute_names.items())))
        known = parsed.get(key)
        if known is None:
            known = parsed[key] = (original(self), list(self.expr_attr_names_found))
        self.expr_attr_names_found = list(known[1])
        return [list(path) for path in known[0]]

    _speedup("projections", ProjectionExpressionParser, "parse", parse)
    _patched.add("projections")


def lex_conditions_once() -> None:
    """Each distinct ConditionExpression is split into tokens once.

    moto lexes a condition with a list of regular expressions compiled anew for every token,
    for every conditional write and every transaction item. Tokens are immutable tuples and
    the parser consumes a fresh copy of the queue, so sharing them changes nothing.
    """
    if "conditions" in _patched:
        return
    from collections import deque

    from moto.dynamodb.comparisons import ConditionExpressionParser

    original = ConditionExpressionParser._lex_condition_expression
    tokens: dict[str, tuple[Any, ...]] = {}

    def lex(self: Any) -> Any:
        known = tokens.get(self.condition_expression)
        if known is None:
            known = tokens[self.condition_expression] = tuple(original(self))
        return deque(known)

    _speedup("conditions", ConditionExpressionParser, "_lex_condition_expression", lex)
    _patched.add("conditions")


def list_handler_methods_once() -> None:
    """moto lists a response class's methods (inspect.getmembers over a few hundred names) and
    turns the action's name into a method name, character by character, on every request it
    dispatches, of any service; neither changes between requests."""
    if "methods" in _patched:
        return
    from moto.core import responses

    original = responses.method_names_from_class
    names: dict[type, list[str]] = {}

    def method_names(clazz: Any) -> list[str]:
        known = names.get(clazz)
        if known is None:
            known = names[clazz] = original(clazz)
        return known

    _speedup("methods", responses, "method_names_from_class", method_names)
    _speedup("methods", responses, "camelcase_to_underscores",
             functools.lru_cache(maxsize=1024)(responses.camelcase_to_underscores))
    _patched.add("methods")


def count_queue_messages_once() -> None:
    """SQS counts a queue's messages once per attribute read, and reads one number for retention.

    moto's `Queue.attributes` counts the queue's messages three times (ready, delayed, in
    flight: a pass over every message each, two clock reads per message), and it is read three
    to four times per SendMessage (for ContentBasedDeduplication) and three times per message
    a ReceiveMessage hands out (`is_message_valid_based_on_retention_period` asks
    `get_queue_attributes` for MessageRetentionPeriod, which builds the whole dictionary to find
    it and to read it twice). With a backlog of n messages a receive of ten costs 90 passes over
    n: at 600 queued activities that was a quarter of the stack's CPU, under the queue's lock,
    and API requests waited behind it for tens of seconds. Now the counts take one pass and one
    clock read, and the retention check reads the queue's own number.
    """
    if "sqs-counts" in _patched:
        return
    from moto.sqs import models

    def attributes(self: Any) -> dict[str, Any]:
        now = models.unix_time_millis()
        ready = delayed = in_flight = 0
        for message in self._messages:  # moto's Message.visible and .delayed, with one clock read
            visible = now > message.visible_at
            waiting = now < message.delayed_until
            ready += visible and not waiting
            delayed += waiting
            in_flight += not visible
        counts = {"ApproximateNumberOfMessages": ready, "ApproximateNumberOfMessagesDelayed": delayed,
                  "ApproximateNumberOfMessagesNotVisible": in_flight}
        names = list(self.BASE_ATTRIBUTES)
        if self.fifo_queue:
            names += self.FIFO_ATTRIBUTES
        if self.kms_master_key_id:
            names += self.KMS_ATTRIBUTES
        result: dict[str, Any] = {
            name: counts[name] if name in counts else getattr(self, models.camelcase_to_underscores(name))
            for name in names}
        if self.policy:
            result["Policy"] = self.policy
        if self.redrive_policy:
            result["RedrivePolicy"] = json.dumps(self.redrive_policy)
        return {name: str(value).lower() if isinstance(value, bool) else value for name, value in result.items()}

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        retention_period = self.get_queue(queue_name).message_retention_period
        return bool(retention_period + message.sent_timestamp / 1000 > models.unix_time())

    _speedup("sqs-counts", models.Queue, "attributes", property(attributes))
    _speedup("sqs-counts", models.SQSBackend, "is_message_valid_based_on_retention_period",
             is_message_valid_based_on_retention_period)
    _patched.add("sqs-counts")


def parse_json_paths_once() -> None:
    """Step Functions compiles each JSONPath once, not on every use.

    moto's `extract_json` (every InputPath, OutputPath and `.$` parameter of every state) and
    `ResultPath` call jsonpath_ng's `parse`, which builds a new PLY parser (its tables and
    grammar reflection) for each call: about 6 % of the local stack's CPU with a burst queued.
    The compiled paths are never changed by `find` or `update`, so one per path string serves
    every execution; the two modules use different parsers (jsonpath_ng.ext and jsonpath_ng),
    so each keeps its own.
    """
    if "jsonpath" in _patched:
        return
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    for module in (json_path, result_path):
        _speedup("jsonpath", module, "parse", functools.lru_cache(maxsize=4096)(module.parse))
    _patched.add("jsonpath")


def direct_dynamodb_dispatch() -> None:
    """An in-process item operation goes straight to moto's DynamoDB handler.

    For every request, moto's in-process hook matched the URL against every service's
    patterns, rebuilt the request as a werkzeug Request and re-parsed its JSON body through the
    operation's model: about a third of a local GetItem's CPU, before DynamoDB did anything.
    Item operations (JSON with no binary attributes, whose decoding that model does) now hand
    the JSON body to the same handler method, which evaluates, locks and answers exactly as
    before; everything else keeps moto's route.
    """
    if "dispatch" in _patched:
        return
    from botocore.awsrequest import HeadersDict
    from moto.core.botocore_stubber import BotocoreStubber
    from moto.dynamodb.responses import DynamoHandler
    from moto.iam.models import mark_account_as_visited

    original = BotocoreStubber.process_request
    region_of = re.compile(r"^https?://dynamodb\.([^.]+)\.amazonaws\.com/?$")

    def process_request(self: Any, request: Any) -> Any:
        target = request.headers.get("X-Amz-Target") or ""
        if isinstance(target, bytes):
            target = target.decode()
        service, _, action = target.partition(".")
        body = request.body
        region = region_of.match(request.url) if action in _DATA_PLANE else None
        text = body.decode() if isinstance(body, bytes) else body
        if (region is None or service != "DynamoDB_20120810" or not isinstance(text, str)
                or _BINARY_VALUE.search(text)):
            return original(self, request)
        handler = DynamoHandler()
        handler.is_werkzeug_request = False
        handler.headers = HeadersDict({k: v.decode() if isinstance(v, bytes) else v
                                       for k, v in request.headers.items()})
        handler.querystring = {}
        handler.method = request.method
        handler.uri = request.url
        handler.region = region.group(1)
        handler.uri_match = {}
        handler.response_headers = {"server": "amazon.com"}
        handler.params = json.loads(text)
        handler.access_key = handler.get_access_key()
        handler.current_account = handler.get_current_account()
        mark_account_as_visited(account_id=handler.current_account, access_key=handler.access_key,
                                service="dynamodb", region=handler.region)
        return handler.call_action()

    _speedup("dispatch", BotocoreStubber, "process_request", process_request)
    _patched.add("dispatch")


def plain_item_answers() -> None:
    """An item answer without binary values is parsed with json.loads, not botocore's model walk.

    botocore parses every JSON answer twice: json.loads, then a walk of the operation's output
    model that rebuilds each dict and converts blobs and timestamps. An item operation's
    answer has neither (numbers are strings in DynamoDB's JSON, and the walk leaves strings,
    lists, maps and booleans as they are), so the walk hands back what json.loads gave: about a
    fifth of a local GetItem's CPU. Top-level keys the model does not name are dropped, as the
    walk drops them. Only answers `plain_json_responses` wrote and marked (no
    binary value) take this path; errors, other services and every other answer keep botocore's.
    """
    if "parse" in _patched:
        return
    from botocore.parsers import JSONParser

    original = vars(JSONParser)["_do_parse"]

    def do_parse(self: Any, response: dict[str, Any], shape: Any) -> Any:
        if shape is None or response["headers"].get(PLAIN_ANSWER_HEADER) != "1" or shape.event_stream_name:
            return original(self, response, shape)
        body = response["body"]
        members = shape.members  # the walk drops what the model does not name (moto adds a key or two)
        parsed = {k: v for k, v in json.loads(body).items() if k in members} if body else {}
        self._inject_response_metadata(parsed, response["headers"])
        return parsed

    _speedup("parse", JSONParser, "_do_parse", do_parse)
    _patched.add("parse")


# In place of a request signature, for requests moto answers in this process (AWS would refuse it).
UNCHECKED_SIGNATURE = "0" * 64


# The services the stack calls on every activity (DynamoDB, SQS, Step Functions, Lambda): their
# requests are signed with SigV4 alone, with no handler of botocore's before signing.
_UNCHECKED_SERVICES = frozenset({"dynamodb", "sqs", "states", "lambda"})


def unchecked_signatures() -> None:
    """A request moto answers in this process carries its credential scope, not a signature.

    botocore signs every request (choosing a signer, a canonical request, a SHA-256 of the
    body, four HMACs): about a seventh of a local DynamoDB request's CPU. In-process moto
    never checks a signature (unless its IAM emulation is switched on with
    INITIAL_NO_AUTH_ACTION_COUNT, when this speed-up stands aside); what it reads from the
    Authorization header is the access key and the region of the credential scope, which the
    header keeps. Only standard SigV4 signing of `_UNCHECKED_SERVICES` takes this path; S3,
    presigned URLs, per-request credentials and requests that leave the process (the
    Lambda-like mode's workers talk to the stack over HTTP) are signed as before.
    """
    if "signing" in _patched:
        return
    from botocore.auth import SIGV4_TIMESTAMP
    from botocore.compat import get_current_datetime
    from botocore.exceptions import NoCredentialsError
    from botocore.signers import RequestSigner
    from moto import settings as moto_settings
    from moto.core.models import botocore_stubber

    original = vars(RequestSigner)["sign"]

    def sign(self: Any, operation_name: str, request: Any, region_name: str | None = None,
             signing_type: str = "standard", expires_in: int | None = None, signing_name: str | None = None) -> None:
        context = request.context.get("signing") or {}
        if (signing_type != "standard" or self._signature_version != "v4"
                or self._signing_name not in _UNCHECKED_SERVICES or not botocore_stubber.enabled
                or not math.isinf(moto_settings.INITIAL_NO_AUTH_ACTION_COUNT)
                or context.get("request_credentials") or context.get("identity_cache") is not None):
            return original(self, operation_name, request, region_name, signing_type, expires_in, signing_name)
        if self._credentials is None:
            raise NoCredentialsError()
        credentials = self._credentials.get_frozen_credentials()
        region = region_name or context.get("region") or self._region_name
        service = signing_name or context.get("signing_name") or self._signing_name
        stamp = get_current_datetime().strftime(SIGV4_TIMESTAMP)
        headers = request.headers
        for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
            if name in headers:
                del headers[name]
        headers["X-Amz-Date"] = stamp
        if credentials.token:
            headers["X-Amz-Security-Token"] = credentials.token
        headers["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{stamp[:8]}/{region}/"
                                    f"{service}/aws4_request, SignedHeaders=host;x-amz-date, "
                                    f"Signature={UNCHECKED_SIGNATURE}")
        return None

    _speedup("signing", RequestSigner, "sign", sign)
    _patched.add("signing")


_PATH = r"[#\w]+(?:\.[#\w]+)*"
_SET = re.compile(rf"^\s*({_PATH})\s*=\s*(?::(\w+)|if_not_exists\(\s*({_PATH})\s*,\s*:(\w+)\s*\))\s*$")
_APPEND = re.compile(
    rf"^\s*({_PATH})\s*=\s*list_append\(\s*if_not_exists\(\s*({_PATH})\s*,\s*:(\w+)\s*\)\s*,\s*:(\w+)\s*\)\s*$")
_ADD = re.compile(r"^\s*([#\w]+)\s+:(\w+)\s*$")
_REMOVE = re.compile(rf"^\s*({_PATH})\s*$")
_CLAUSE = re.compile(r"\b(SET|ADD|REMOVE|DELETE)\s", re.IGNORECASE)

_ITEM_SIZE_LIMIT = 405_000  # moto's LimitedSizeDict figure (DynamoDB's 400 KB, measured by moto)


# One action of a simple update: (verb, target path, value placeholder, keep existing value /
# the placeholder of the list to append).
_Action = tuple[str, tuple[str, ...], str | None, bool | str]


def _split_top_level(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        depth += (char == "(") - (char == ")")
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


@functools.lru_cache(maxsize=512)
def _simple_update(expression: str) -> tuple[_Action, ...] | None:
    """The actions of an update made only of `SET path = :v`, `SET path = if_not_exists(path, :v)`,
    `SET path = list_append(if_not_exists(path, :v), :w)`, `ADD name :v` and `REMOVE path`;
    None for anything else (moto's own path takes it)."""
    pieces = _CLAUSE.split(expression)
    if pieces[0].strip():
        return None
    actions: list[_Action] = []
    for verb, body in zip(pieces[1::2], pieces[2::2], strict=True):
        verb = verb.upper()
        for part in _split_top_level(body):
            if verb == "SET" and (m := _SET.match(part)):
                target = tuple(m.group(1).split("."))
                if m.group(2):
                    actions.append(("SET", target, m.group(2), False))
                elif tuple(m.group(3).split(".")) == target:
                    actions.append(("SET", target, m.group(4), True))
                else:
                    return None
            elif verb == "SET" and (m := _APPEND.match(part)) and m.group(1) == m.group(2):
                actions.append(("APPEND", tuple(m.group(1).split(".")), m.group(3), m.group(4)))
            elif verb == "ADD" and (m := _ADD.match(part)):
                actions.append(("ADD", (m.group(1),), m.group(2), False))
            elif verb == "REMOVE" and (m := _REMOVE.match(part)):
                actions.append(("REMOVE", tuple(m.group(1).split(".")), None, False))
            else:
                return None
    return tuple(actions)


def fast_simple_updates() -> None:
    """Plain updates applied directly instead of through moto's expression machinery.

    moto validates and executes every update expression with ten tree walks over its AST
    (~5-15 ms of CPU each); the app's updates are nearly all plain: counters (`ADD #a :x`),
    attribute sets (`SET a = :v`, `SET steps.#s = :v`), `if_not_exists` defaults, `REMOVE`.
    Those are applied here with DynamoDB's rules, after the condition (if any) held; whenever
    a rule would raise (a failed condition, a missing or non-map parent, a non-number ADD, a
    key attribute, overlapping paths, a missing placeholder, the item size limit), moto's own
    path takes the whole request, so errors stay moto's. Nothing is changed before every check
    passed.
    """
    if "updates" in _patched:
        return
    from decimal import Decimal

    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    original = DynamoDBBackend.update_item

    def resolve(path: tuple[str, ...], names: dict[str, str]) -> tuple[str, ...] | None:
        out = []
        for part in path:
            name = names.get(part) if part.startswith("#") else part
            if name is None:
                return None
            out.append(name)
        return tuple(out)

    def parent_of(item: Any, path: tuple[str, ...]) -> dict[str, Any] | None:
        """The attribute map that holds the last name of `path`, if every step is a map."""
        attrs: dict[str, Any] = item.attrs if item is not None else {}
        for name in path[:-1]:
            node = attrs.get(name)
            if node is None or node.type != "M":
                return None
            attrs = node.value
        return attrs

    def plan(item: Any, key: dict[str, Any], actions: tuple[_Action, ...], names: dict[str, str],
             values: dict[str, Any]) -> list[tuple[str, tuple[str, ...], Any]] | None:
        steps: list[tuple[str, tuple[str, ...], Any]] = []
        targets: list[tuple[str, ...]] = []
        for verb, raw_path, placeholder, keep in actions:
            path = resolve(raw_path, names)
            if path is None or path[0] in key:
                return None
            targets.append(path)
            value = values.get(":" + placeholder) if placeholder else None
            if placeholder and not isinstance(value, dict):
                return None
            holder = parent_of(item, path)
            if holder is None:
                return None  # a nested path whose parent is missing or not a map: DynamoDB refuses
            current = holder.get(path[-1])
            if verb == "ADD":
                if list(value) != ["N"] or (current is not None and current.type != "N"):  # type: ignore[arg-type]
                    return None
                total = Decimal(value["N"]) + (Decimal(current.value) if current is not None else 0)  # type: ignore[index]
                steps.append(("SET", path, DynamoType({"N": str(total)})))
            elif verb == "SET":
                if not (keep and current is not None):
                    steps.append(("SET", path, DynamoType(value)))  # type: ignore[arg-type]
            elif verb == "APPEND":
                tail = values.get(f":{keep}")
                base = current if current is not None else DynamoType(value)  # type: ignore[arg-type]
                if base.type != "L" or not isinstance(tail, dict) or list(tail) != ["L"]:
                    return None
                steps.append(("SET", path, DynamoType({"L": [*base.value, *DynamoType(tail).value]})))
            else:
                steps.append(("REMOVE", path, None))
        for i, one in enumerate(targets):
            for other in targets[i + 1:]:
                if one[:len(other)] == other[:len(one)]:
                    return None  # the same path twice, or one inside another: DynamoDB refuses
        return steps

    def update_item(self: Any, table_name: str, key: dict[str, Any], update_expression: str,
                    expression_attribute_names: dict[str, Any], expression_attribute_values: dict[str, Any],
                    attribute_updates: Any = None, expected: Any = None, condition_expression: str | None = None,
                    return_values_on_condition_check_failure: str | None = None) -> Any:
        def moto_path() -> Any:
            return original(self, table_name, key, update_expression, expression_attribute_names,
                            expression_attribute_values, attribute_updates, expected, condition_expression,
                            return_values_on_condition_check_failure)

        table = self.get_table(table_name)
        actions = _simple_update(update_expression) if update_expression else None
        if (actions is None or expected or attribute_updates or table.stream_shard is not None
                or table.hash_key_attr not in key or (table.range_key_attr and table.range_key_attr not in key)):
            return moto_path()
        hash_value = DynamoType(key[table.hash_key_attr])
        range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        item = table.get_item(hash_value, range_value)
        if condition_expression and not get_filter_expression(
                condition_expression, expression_attribute_names, expression_attribute_values).expr(item):
            return moto_path()  # moto raises the conditional check failure, with ALL_OLD if asked
        steps = plan(item, key, actions, expression_attribute_names or {}, expression_attribute_values or {})
        if steps is None:
            return moto_path()
        growth = sum(len(path[-1]) + value.size() for verb, path, value in steps if verb == "SET")
        if (item.size() if item is not None else 0) + growth > _ITEM_SIZE_LIMIT:
            return moto_path()
        if item is None:
            table.put_item(dict(key))
            item = table.get_item(hash_value, range_value)
        for verb, path, value in steps:
            holder = parent_of(item, path)
            assert holder is not None
            if verb == "SET":
                dict.__setitem__(holder, path[-1], value)  # the size was checked above, once
            else:
                holder.pop(path[-1], None)
        assert isinstance(item, Item)
        return item

    _speedup("updates", DynamoDBBackend, "update_item", update_item)
    _patched.add("updates")


def size_items_once() -> None:
    """An item's 400 KB limit checked once per item written, not once per attribute.

    moto's item dictionary re-sizes the whole item on every attribute it sets, so writing an
    item costs the square of its attribute count (an activity item with its step results is
    most of a Put's time). The same limit, with the same error, is checked on the whole item.
    """
    if "item-size" in _patched:
        return
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict

    def build(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        self.hash_key = hash_key
        self.range_key = range_key
        self.attrs = LimitedSizeDict()
        for name, value in attrs.items():
            dict.__setitem__(self.attrs, name, DynamoType(value))
        if self.size() > _ITEM_SIZE_LIMIT:
            raise ItemSizeTooLarge

    _speedup("item-size", Item, "__init__", build)
    _patched.add("item-size")


def project_top_level_attributes() -> None:
    """A projection of top-level attributes picks them from the item.

    moto turns the whole item into plain JSON and back once per projected attribute, so a
    GetItem asking for 13 attributes of an activity cost four times the whole item. Nested
    paths and list elements keep moto's own projection.
    """
    if "projection" in _patched:
        return
    from moto.dynamodb.models.dynamo_type import Item, LimitedSizeDict

    original = Item.project

    def project(self: Any, projection_expressions: list[list[str]]) -> Any:
        if any(len(path) != 1 or "[" in path[0] for path in projection_expressions):
            return original(self, projection_expressions)
        picked: Any = Item.__new__(Item)
        picked.hash_key, picked.range_key = self.hash_key, self.range_key
        picked.attrs = LimitedSizeDict()
        for (name,) in projection_expressions:
            if name in self.attrs:
                dict.__setitem__(picked.attrs, name, self.attrs[name])  # read only: shared, not copied
        return picked

    _speedup("projection", Item, "project", project)
    _patched.add("projection")


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
    import importlib
    import pickle

    # moto's parsing modules are untyped: handled as Any.
    validators: Any = importlib.import_module("moto.dynamodb.parsing.validators")
    parser: Any = importlib.import_module("moto.dynamodb.parsing.expressions").UpdateExpressionParser
    original_make = parser.make
    trees: dict[str, Any] = {}
    pickled: dict[int, bytes] = {}
    lock = threading.Lock()

    def make(cls: Any, expression_str: str) -> Any:
        tree = trees.get(expression_str)
        if tree is None:
            tree = original_make.__func__(cls, expression_str)
            with lock:
                trees[expression_str] = tree
                pickled[id(tree)] = pickle.dumps(tree)
        return tree

    def fresh_copy(value: Any, memo: Any = None) -> Any:
        frozen = pickled.get(id(value))
        return pickle.loads(frozen) if frozen is not None else copy.deepcopy(value, memo)

    _speedup("update-expressions", parser, "make", classmethod(make))
    _speedup("update-expressions", validators, "deepcopy", fresh_copy)
    _patched.add("update-expressions")


def key_range_queries() -> None:
    """A table Query reads the partition's key range, as DynamoDB does.

    moto answers a Query by walking every item of the whole table, sorting the partition and
    sizing each item up to the page: a user's tab, or a workflow step's read, cost time in
    proportion to everything ever written. Each partition's string sort keys are kept in a
    sorted list (maintained as items are put and deleted), so a Query bisects to its range and
    touches only the page it returns. An index Query finds its partition in one tight pass (see
    `index_range`). Number or binary keys, multi-attribute index keys and the legacy
    KeyConditions/QueryFilter parameters keep moto's own path. The Limit rule of
    `dynamodb_limit_rule` is kept (this replaces that fix's function, which the fallback calls).

    The sorted keys cannot drift from the partition: every item write of moto 5.2.5 goes through
    `Table.put_item`/`Table.delete_item` (tests/integration/test_local_patches.py writes through
    each path and compares), and a partition's list is rebuilt whenever its length differs from
    the partition's or the index is of an older generation (speed-ups switched off and on).
    """
    if "queries" in _patched:
        return
    import bisect

    from moto.dynamodb.models import table as table_module
    from moto.dynamodb.models.dynamo_type import DynamoType

    Table: Any = table_module.Table
    original_query, original_put, original_delete = Table.query, Table.put_item, Table.delete_item

    def current_index(table: Any) -> dict[Any, list[str]] | None:
        state = table.__dict__.get("_sorted_sort_keys")
        if state is None or state[0] != _index_generation:
            return None
        index: dict[Any, list[str]] = state[1]
        return index

    def sort_keys(table: Any, hash_key: Any) -> list[str]:
        index = current_index(table)
        if index is None:
            index = {}
            table.__dict__["_sorted_sort_keys"] = (_index_generation, index)
        partition = table.items.get(hash_key) or {}
        keys = index.get(hash_key)
        if keys is None or len(keys) != len(partition):
            keys = index[hash_key] = sorted(k.value for k in partition)
        return keys

    def known_keys(table: Any, item: Any) -> list[str] | None:
        if item is None or item.range_key is None:
            return None
        index = current_index(table)
        return index.get(item.hash_key) if index is not None else None

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

    def table_range(table: Any, hash_key: Any, comparison: str | None, range_objs: list[Any],
                    exclusive_start_key: dict[str, Any] | None, forward: bool) -> Iterator[Any]:
        """The partition's items in the key range, in order, after the start key."""
        keys = sort_keys(table, hash_key)
        partition = table.items.get(hash_key) or {}
        start, end = key_range(keys, comparison, range_objs)
        if exclusive_start_key is not None:
            after = exclusive_start_key[table.range_key_attr]["S"]
            if forward:
                start = max(start, bisect.bisect_right(keys, after))
            else:
                end = min(end, bisect.bisect_left(keys, after))
        for position in range(start, end) if forward else range(end - 1, start - 1, -1):
            yield partition[DynamoType({"S": keys[position]})]

    def index_range(table: Any, index: Any, hash_key: Any, comparison: str | None, range_objs: list[Any],
                    exclusive_start_key: dict[str, Any] | None, forward: bool) -> list[Any] | None:
        """The index partition's items in the key range, in order (index sort key, then the
        table's keys, as moto orders them), after the start key; None when the index or its
        values are not plain strings (moto's own path answers those).

        Items are found with one tight pass over the table instead of moto's, which compares
        attribute objects item by item and copies the result: DynamoDB reads the index's
        partition, so this stays a pass over memory, cheap next to the request itself.
        """
        hash_keys = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
        range_keys = [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"]
        if len(hash_keys) != 1 or len(range_keys) != 1 or hash_key.type != "S":
            return None
        hash_attr, range_attr = hash_keys[0], range_keys[0]
        wanted = hash_key.value
        rows: list[tuple[str, str, str, Any]] = []
        for partition in table.items.values():
            for item in partition.values():
                found = item.attrs.get(hash_attr)
                if found is None or found.value != wanted or found.type != "S":
                    continue
                sort_value = item.attrs.get(range_attr)
                if sort_value is None:
                    continue  # not in the index: DynamoDB indexes items that have every key attribute
                if sort_value.type != "S":
                    return None
                rows.append((sort_value.value, item.hash_key.value, item.range_key.value, item))
        rows.sort()
        low, high = key_range([row[0] for row in rows], comparison, range_objs)
        rows = rows[low:high]
        if exclusive_start_key is not None:
            after = (exclusive_start_key[range_attr]["S"], exclusive_start_key[table.hash_key_attr]["S"],
                     exclusive_start_key[table.range_key_attr]["S"])
            rows = [row for row in rows if (row[:3] > after if forward else row[:3] < after)]
        if not forward:
            rows.reverse()
        return [row[3] for row in rows]

    def query(self: Any, hash_key: Any, range_comparison: str | None, range_objs: list[Any], limit: int,
              exclusive_start_key: dict[str, Any], scan_index_forward: bool,
              projection_expressions: list[list[str]] | None, index_name: str | None = None,
              consistent_read: bool = False, filter_expression: Any = None, **kwargs: Any) -> Any:
        def moto_query() -> Any:
            return original_query(self, hash_key, range_comparison, range_objs, limit, exclusive_start_key,
                                  scan_index_forward, projection_expressions, index_name, consistent_read,
                                  filter_expression, **kwargs)

        comparison = range_comparison.upper() if range_comparison else None
        extra = {k: v for k, v in kwargs.items() if v and k not in ("hash_key_conditions", "range_key_conditions")}
        if (hash_key is None or extra or self.range_key_type != "S" or comparison not in supported
                or len(kwargs.get("range_key_conditions") or []) > 1 or any(x.type != "S" for x in range_objs)):
            return moto_query()
        index = None
        if index_name:
            index = {i.name: i for i in self.all_indexes()}.get(index_name)
            if index is None or (consistent_read and index in self.global_indexes):
                return moto_query()  # moto's own errors
            in_order: Any = index_range(self, index, hash_key, comparison, range_objs, exclusive_start_key,
                                        scan_index_forward)
            if in_order is None:
                return moto_query()
        else:
            in_order = table_range(self, hash_key, comparison, range_objs, exclusive_start_key, scan_index_forward)
        page: list[Any] = []
        size = 0
        last_evaluated_key = None
        for item in in_order:
            item_size = item.size()
            if size + item_size > table_module.RESULT_SIZE_LIMIT:
                last_evaluated_key = self._get_last_evaluated_key(page[-1], index_name)
                break
            page.append(item)
            size += item_size
            if len(page) == limit:
                # DynamoDB stops at the Limit and hands back where it stopped, whether or not
                # more items follow (moto only did when one more item of the partition did).
                last_evaluated_key = self._get_last_evaluated_key(item, index_name)
                break
        # moto copies the page; the response is built from it under the DynamoDB lock, before
        # any other request can change an item, and nothing writes to it, so the page is read as is.
        results = [index.project(item) for item in page] if index is not None else page
        if filter_expression is not None:
            results = [item for item in results if filter_expression.expr(item)]
        if projection_expressions:
            results = [r.project(projection_expressions) for r in results]
        return results, len(page), last_evaluated_key

    _speedup("queries", Table, "query", query)
    _speedup("queries", Table, "put_item", put_item)
    _speedup("queries", Table, "delete_item", delete_item)
    _patched.add("queries")


def sorted_key_index_problems(table: Any) -> list[str]:
    """Partitions whose sorted keys (`key_range_queries`) differ from the partition's own; for tests."""
    state = table.__dict__.get("_sorted_sort_keys")
    if state is None or state[0] != _index_generation:
        return []  # none yet, or stale: rebuilt on the next Query
    return [f"{hash_key.value}: {keys} != {sorted(k.value for k in table.items.get(hash_key) or {})}"
            for hash_key, keys in state[1].items()
            if keys != sorted(k.value for k in table.items.get(hash_key) or {})]


def item_level_transactions() -> None:
    """TransactWriteItems without copying the whole table.

    moto backs up every table a transaction touches with a deep copy (once per item of the
    transaction) so that it can roll back: the cost grows with the table, and a long local
    session slows to seconds per activity. This is moto's own algorithm, step for step (each
    entry in order: its item unique, its condition, then its write; a failed condition recorded
    and the rest carried on; a validation error rolls back and is raised; any other error
    recorded; any recorded error rolls back and cancels), with the rollback made from the items
    the transaction touched, saved as it first touches each, instead of the whole tables. So
    its answers and its effects are moto's (the differential tests compare them). A table with
    a stream keeps moto's path: its rollback also drops the stream records the writes added.
    """
    if "transactions" in _patched:
        return
    import pickle

    from moto.dynamodb import exceptions as dx
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.models import DynamoDBBackend

    original = DynamoDBBackend.transact_write_items  # moto's own, under `transactions_all_or_nothing`

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        if len(transact_items) > 100:
            raise dx.TooManyTransactionsException()
        _one_operation_each(transact_items)  # the fix this replaces
        names = {op.get("TableName") for entry in transact_items for op in entry.values() if isinstance(op, dict)}
        if any(name in self.tables and self.tables[name].stream_shard is not None for name in names):
            return original(self, transact_items)

        target_items: set[tuple[str, str]] = set()
        # (table, key, the item as it was): pickled, which copies an item several times faster
        # than copy.deepcopy; saved before the first write to it, so it is the item before the
        # transaction (each item is written at most once: unicity is checked first).
        saved: list[tuple[str, dict[str, Any], bytes]] = []

        def roll_back() -> None:
            for table_name, key, frozen in reversed(saved):
                before = pickle.loads(frozen)
                if before is None:
                    if self.get_item(table_name, key) is not None:
                        self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, before.to_json()["Attributes"])

        errors: list[Any] = []  # [(Code, Message, Item), ..], as moto keeps them
        for item in transact_items:
            original_item: dict[str, Any] | None = None
            try:
                op_type, op = next(iter(item.items()))
                if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                    raise ValueError("Unsupported transaction operation")
                table_name = op["TableName"]
                condition_expression = op.get("ConditionExpression")
                names_, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                if op_type == "Put":
                    attrs = op["Item"]
                    table = self.get_table(table_name)
                    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                    if table.range_key_attr is not None:
                        key[table.range_key_attr] = attrs[table.range_key_attr]
                else:
                    key = op["Key"]
                marker = (str(table_name), str(dict(sorted(key.items()))))
                if marker in target_items:
                    raise dx.MultipleTransactionsException()
                target_items.add(marker)

                current = self.get_item(table_name, key)
                if condition_expression is not None:
                    test = get_filter_expression(condition_expression, names_, values)
                    if not test.expr(current):
                        if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                            original_item = current.to_json()["Attributes"]
                        raise dx.ConditionalCheckFailed(item=original_item)

                if op_type != "ConditionCheck":
                    saved.append((table_name, key, pickle.dumps(current)))
                if op_type == "Put":
                    self.put_item(table_name, op["Item"], condition_expression=condition_expression,
                                  expression_attribute_names=names_, expression_attribute_values=values)
                elif op_type == "Delete":
                    self.delete_item(table_name, key, condition_expression=condition_expression,
                                     expression_attribute_names=names_, expression_attribute_values=values)
                elif op_type == "Update":
                    self.update_item(table_name, key, update_expression=op["UpdateExpression"],
                                     condition_expression=condition_expression,
                                     expression_attribute_names=names_, expression_attribute_values=values)
                errors.append((None, None, None))
            except (dx.MultipleTransactionsException, dx.MockValidationException):
                roll_back()
                raise
            except dx.ConditionalCheckFailed as e:
                errors.append(("ConditionalCheckFailed", str(e.message), original_item))
            except Exception as e:
                errors.append((type(e).__name__, str(e), original_item))

        if any(code is not None for code, _, _ in errors):
            roll_back()
            raise dx.TransactionCanceledException(errors)

    _speedup("transactions", DynamoDBBackend, "transact_write_items", transact_write_items)
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

    _task_clients[:] = [module, original, cached]
    _speedup("clients", module, "boto_client_for", cached)
    _rebind_task_clients()
    _patched.add("clients")


_task_clients: list[Any] = []  # [the module that defines boto_client_for, moto's function, the caching one]


def _rebind_task_clients() -> None:
    """moto's Step Functions modules import `boto_client_for` by name, each its own reference:
    every such module loaded by now is given a swap of its own (the ones loaded later import
    whatever the defining module holds at that moment, and are caught on the next switch)."""
    module, original, cached = _task_clients
    swapped = {id(swap.owner) for swap in _speedup_swaps.get("clients", [])}
    for name, loaded in list(sys.modules.items()):
        if (loaded is None or loaded is module or id(loaded) in swapped or not name.startswith("moto.stepfunctions")
                or getattr(loaded, "boto_client_for", None) not in (original, cached)):
            continue
        swap = _Swap(loaded, "boto_client_for", original, cached)
        swap.put(cached if _speedups_on else original)
        _speedup_swaps["clients"].append(swap)


def register_functions(handlers: dict[str, Callable[[Any, Any], Any]]) -> None:
    """Map deployed function names to the app's handlers."""
    _handlers.update(handlers)


def _run_async(handler: Callable[[Any, Any], Any], event: Any, name: str) -> None:
    try:
        handler(event, _Context(name))
    except Exception:  # Lambda retries an asynchronous invocation twice; the caller never sees it
        LOG.exception("asynchronous invocation of %s failed", name)


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
        if (headers or {}).get("X-Amz-Invocation-Type") == "Event":
            threading.Thread(target=_run_async, args=(handler, event, name), name=f"async-{name}", daemon=True).start()
            return b""
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


# StartSyncExecution: botocore sends it to `sync-states.<region>.amazonaws.com` (the operation's
# endpoint hostPrefix "sync-"), which no moto URL pattern names.
_SYNC_STATES_URL = r"https?://sync-states\.(.+)\.amazonaws.com"
_EXPRESS_MEMORY_CHUNK_MB = 64   # Express bills memory in 64-MB chunks ...
_EXPRESS_BASE_MEMORY_MB = 50    # ... of 50 MB + definition + execution data (AWS pricing page)
_EXPRESS_DURATION_STEP_MS = 100  # and duration rounded up to the next 100 ms


def _express_billing(definition: str, data: list[str | None], started: Any, stopped: Any) -> dict[str, int]:
    """AWS's billingDetails for an Express execution: memory (50 MB + the definition's size + the
    execution's data, in 64-MB chunks; a Map or Parallel state's payload per branch is not
    counted here) and duration (start to stop, rounded up to the next 100 ms, at least 100)."""
    size = len(definition.encode()) + sum(len(d.encode()) for d in data if d)
    used_mb = _EXPRESS_BASE_MEMORY_MB + size / (1024 * 1024)
    chunks = max(1, -(-int(used_mb * 1000) // (_EXPRESS_MEMORY_CHUNK_MB * 1000)))
    elapsed_ms = max(0.0, (stopped - started).total_seconds() * 1000)
    steps = max(1, -(-int(elapsed_ms * 1000) // (_EXPRESS_DURATION_STEP_MS * 1000)))
    return {"billedMemoryUsedInMB": chunks * _EXPRESS_MEMORY_CHUNK_MB,
            "billedDurationInMilliseconds": steps * _EXPRESS_DURATION_STEP_MS}


def synchronous_express_executions() -> None:
    """StartSyncExecution runs an EXPRESS state machine to its end and answers its result (a fix).

    moto 5.2.5 has no route for it: botocore sends the call to `sync-states.<region>.amazonaws.com`,
    which no moto URL pattern matches (in-process: 404 "Not yet implemented"), and
    StepFunctionResponse has no `start_sync_execution` (a server answers the same 404). moto's
    parser package has the pieces (`SyncExecution`, whose worker evaluates the program in the
    calling thread; the program's own thread enforces TimeoutSeconds), unused.
    The fix: the `sync-states` host is routed to Step Functions, and the action runs a
    `SyncExecution` of a snapshot of the machine, as moto's StartExecution does, blocking until it
    ends. As on AWS: only EXPRESS machines (a STANDARD one is refused with
    StateMachineTypeNotSupported, 400); the name is optional (a UUID when absent) and not
    remembered (Express does not refuse a repeated name); the execution is not listed or
    describable afterwards; the answer carries status SUCCEEDED | FAILED | TIMED_OUT, output
    only on SUCCEEDED, error and cause on failure, and billingDetails. Lambda Task states reach
    the registered functions through `route_lambda_invokes`, as in asynchronous executions.
    Through a moto server the client must not prefix the host (`Config(inject_host_prefix=False)`).
    """
    if "sync-express" in _patched:
        return
    import copy
    import datetime
    import uuid

    import moto.backend_index as backend_index
    from moto.core.responses import ActionResult
    from moto.stepfunctions import urls as sfn_urls
    from moto.stepfunctions.exceptions import AWSError, InvalidExecutionInput, InvalidName
    from moto.stepfunctions.parser.backend.execution import SyncExecution
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend
    from moto.stepfunctions.responses import StepFunctionResponse

    # In-process: the stubber finds the service by these patterns, then the handler by url_bases.
    patterns = list(backend_index.backend_url_patterns)
    at = next(i for i, (service, _) in enumerate(patterns) if service == "stepfunctions")
    patterns.insert(at, ("stepfunctions", re.compile(_SYNC_STATES_URL)))
    _fix(backend_index, "backend_url_patterns", patterns)
    _fix(sfn_urls, "url_bases", [*sfn_urls.url_bases, _SYNC_STATES_URL])

    class StateMachineTypeNotSupported(AWSError):
        # moto's parser package has one too, but its `code` attribute is not what moto's AWSError
        # reads (TYPE): it answers an empty error code.
        TYPE = "StateMachineTypeNotSupported"
        STATUS = 400

    def start_sync_execution(self: Any, state_machine_arn: str, name: str | None, execution_input: str | None,
                             trace_header: str | None = None, included_data: str | None = None) -> dict[str, Any]:
        state_machine = self.describe_state_machine(state_machine_arn)  # InvalidArn, StateMachineDoesNotExist
        if state_machine.type != "EXPRESS":
            raise StateMachineTypeNotSupported("This operation is not supported by this type of state machine")
        if name is not None:
            self._validate_name(name)
            if not name:
                raise InvalidName(f"Invalid Name: '{name}'")
        exec_name = name or str(uuid.uuid4())
        text = "{}" if execution_input is None else execution_input
        try:
            json.loads(text)
        except ValueError as exc:
            raise InvalidExecutionInput(str(exc)) from exc
        # A snapshot of the definition, as moto's StartExecution takes (its executions and
        # backend shared, not copied: they hold threads and locks).
        snapshot = copy.deepcopy(state_machine, {id(state_machine.executions): [],
                                                 id(getattr(state_machine, "backend", None)):
                                                     getattr(state_machine, "backend", None)})
        snapshot.sm_type = "EXPRESS"  # moto's StateMachineInstance says STANDARD whatever its type
        source_arn = getattr(state_machine, "source_arn", state_machine.arn)
        machine_part = source_arn.split(":stateMachine:", 1)[-1]
        execution_arn = (f"arn:{self.partition}:states:{self.region_name}:{self.account_id}:express:"
                         f"{machine_part}:{exec_name}:{uuid.uuid4()}")
        execution = SyncExecution(
            name=exec_name, sm_type=snapshot.sm_type, role_arn=snapshot.roleArn, exec_arn=execution_arn,
            account_id=self.account_id, region_name=self.region_name, state_machine=snapshot,
            start_date=datetime.datetime.now(tz=datetime.UTC), cloud_watch_logging_session=None,
            input_data=text, trace_header=trace_header, activity_store={})
        execution.start()  # SyncExecutionWorker: evaluates in this thread, to the end or the timeout
        answer: dict[str, Any] = {k: v for k, v in execution.to_start_sync_execution_output().items()
                                  if v is not None}
        answer["status"] = str(getattr(answer["status"], "value", answer["status"]))
        answer["stateMachineArn"] = state_machine.arn
        if answer["status"] != "SUCCEEDED":
            answer.pop("output", None)
            answer.pop("outputDetails", None)
        answer["billingDetails"] = _express_billing(state_machine.definition, [text, answer.get("output")],
                                                    execution.start_date, execution.stop_date)
        if included_data == "METADATA_ONLY":
            for field in ("input", "output"):
                answer.pop(field, None)
            answer["inputDetails"] = {"included": False}
            if "outputDetails" in answer:
                answer["outputDetails"] = {"included": False}
        return answer

    def respond(self: Any) -> ActionResult:
        backend = self.stepfunction_backend
        if not isinstance(backend, StepFunctionsParserBackend):
            raise StateMachineTypeNotSupported(
                "StartSyncExecution needs moto to execute state machines "
                "(config {'stepfunctions': {'execute_state_machine': True}})")
        return ActionResult(start_sync_execution(
            backend, self._get_param("stateMachineArn"), self._get_param("name"), self._get_param("input"),
            self._get_param("traceHeader"), self._get_param("includedData")))

    _fix(StepFunctionsParserBackend, "start_sync_execution", start_sync_execution)
    _fix(StepFunctionResponse, "start_sync_execution", respond)
    _patched.add("sync-express")



_SQS_RECHECK_SECONDS = 0.1  # a long poll looks again this often for messages whose visibility ran out


def sqs_receive_like_aws() -> None:
    """ReceiveMessage is atomic per queue and long polling waits without spinning (a fix).

    moto's `receive_message` takes no lock: two concurrent receives (threads in-process, or a
    threaded moto server) can both find a FIFO group free and both take its messages, so one
    group has two batches in flight (seen with two pollers), which SQS never allows. Its long
    poll waits on the queue's condition for "any visible message", which is true at once while
    a group in flight has more messages waiting: it then loops without sleeping for the whole
    WaitTimeSeconds (a full core). When a FIFO batch's visibility timeout runs out, it frees the
    group only on reaching the batch's last message, so it delivers that one before the earlier
    ones (out of order). And `Queue.delete_message` rebuilds the message list without
    the lock `add_message` appends under, so a message sent during a delete could be lost.
    And each message's visibility is read from the clock as the pass reaches it, so when a
    batch's timeouts run out during a pass (the earlier message's a few microseconds before the
    later one's) the pass skips the earlier one (its group still has the later one in flight)
    and then delivers the later one (out of order; seen once in CI).
    The fix: each receive pass is moto's own receive without waiting, run under the queue's
    condition and decided at one moment (one clock read for every message's visibility and
    delay, as SQS decides a receive at one time); between passes a long poll waits on that
    condition, which SendMessage, a delete and a visibility change notify (and at most
    _SQS_RECHECK_SECONDS, for visibility timeouts that simply run out); messages whose
    visibility ran out leave the in-flight set before a pass decides which groups are busy.
    Deletes hold the same lock.
    """
    if "sqs" in _patched:
        return
    import time

    from moto.sqs import models
    from moto.sqs.models import Message, Queue, SQSBackend

    moto_receive = SQSBackend.receive_message
    moment = threading.local()  # the time a receive pass decides at, in this thread, or none

    def now_millis() -> float:
        return getattr(moment, "millis", None) or models.unix_time_millis()

    def visible(self: Any) -> bool:  # moto's Message.visible, on the pass's clock
        return bool(now_millis() > self.visible_at)

    def delayed(self: Any) -> bool:  # moto's Message.delayed, on the pass's clock
        return bool(now_millis() < self.delayed_until)

    moto_delete = Queue.delete_message
    moto_visibility = SQSBackend.change_message_visibility

    def receive_message(self: Any, queue_name: str, count: int, wait_seconds_timeout: int, visibility_timeout: int,
                        message_attribute_names: list[str] | None = None) -> Any:
        queue = self.get_queue(queue_name)
        deadline = time.monotonic() + (wait_seconds_timeout or 0)
        with queue._messages_lock:
            while True:
                # In flight no more once their visibility timeout ran out: moto notices that only as
                # it reaches each message, after deciding which groups are busy, so a FIFO group
                # whose batch timed out handed out its later message before its earlier one.
                moment.millis = models.unix_time_millis()
                try:
                    queue.pending_messages.difference_update([m for m in queue.pending_messages if m.visible])
                    result = moto_receive(self, queue_name, count, 0, visibility_timeout, message_attribute_names)
                finally:
                    moment.millis = None
                remaining = deadline - time.monotonic()
                if result or remaining <= 0:
                    return result
                queue._messages_lock.wait(timeout=min(remaining, _SQS_RECHECK_SECONDS))

    def delete_message(self: Any, receipt_handle: str) -> None:
        with self._messages_lock:
            moto_delete(self, receipt_handle)
            self._messages_lock.notify_all()  # a FIFO group may be free again

    def change_message_visibility(self: Any, queue_name: str, receipt_handle: str, visibility_timeout: int) -> None:
        queue = self.get_queue(queue_name)
        with queue._messages_lock:
            moto_visibility(self, queue_name, receipt_handle, visibility_timeout)
            queue._messages_lock.notify_all()

    _fix(SQSBackend, "receive_message", receive_message)
    _fix(Queue, "delete_message", delete_message)
    _fix(SQSBackend, "change_message_visibility", change_message_visibility)
    _fix(Message, "visible", property(visible))
    _fix(Message, "delayed", property(delayed))
    _patched.add("sqs")


# Fixes first: a speed-up that replaces a fix's function keeps that fix's rule, and its own
# "original" (what switching it off puts back) is the fix over moto's function.
FIXES: tuple[Callable[[], None], ...] = (serialize_dynamodb, route_lambda_invokes, dynamodb_limit_rule,
                                         transactions_all_or_nothing, synchronous_express_executions,
                                         sqs_receive_like_aws)
SPEED_UPS: tuple[Callable[[], None], ...] = (
    reuse_task_clients, item_level_transactions, plain_json_responses, parse_definitions_once, fast_simple_updates,
    key_range_queries, parse_update_expressions_once, size_items_once, project_top_level_attributes,
    direct_dynamodb_dispatch, parse_projections_once, lex_conditions_once, list_handler_methods_once,
    count_queue_messages_once, parse_json_paths_once, plain_item_answers, unchecked_signatures)
