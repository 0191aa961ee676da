"""The Lambda-like mode (`LOCAL_LAMBDA=process`): no two functions, and no function and the API,
share a process or module state; what the stack is given reaches every environment; the
environments end with the stack, however it ends.

The canary (`LOCAL_LAMBDA_CANARY=<dir>`, debug only) makes every environment mark a module global
of the app (`chalicelib.config`, which the API and every function import) with its own name and
record, per invocation, its pid and every mark it can see. On AWS each function sees only its
own mark and no function runs in the API's process. Today's single-process runtime
(`LOCAL_LAMBDA=thread`, still the default of `make run`) fails the canary: that variant is kept,
as an expected failure, to show the canary can fail.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import RunningStack, start_stack, stop_stack

pytestmark = pytest.mark.e2e

SITE = "canary"
PREFIX = "gamification-local-"


def lambda_like(mode: str, canary: Path, **extra: str) -> RunningStack:
    return start_stack(seed=False, environment={**os.environ, "LOCAL_LAMBDA": mode,
                                                "LOCAL_LAMBDA_CANARY": str(canary), **extra})


def wait_done(stack: RunningStack, ids: list[str], timeout: float = 120) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    done: dict[str, dict[str, Any]] = {}
    while len(done) < len(ids):
        assert time.monotonic() < deadline, f"{len(ids) - len(done)} activities unfinished"
        for activity_id in ids:
            if activity_id not in done:
                status, data = stack.api("GET", f"/sites/{SITE}/activities/{activity_id}")
                assert status == 200, data
                if data["status"] in ("SUCCEEDED", "FAILED", "REJECTED"):
                    done[activity_id] = data
        time.sleep(0.1)
    return done


def run_activities(stack: RunningStack) -> dict[str, dict[str, Any]]:
    """Activities of two users at once that go through most functions: the queue's consumer, point,
    behaviour, gift, and mark_failed (a redeem past the balance, an unknown verb)."""
    assert stack.api("POST", "/sites", {"id": SITE, "name": "Canary"})[0] == 201
    assert stack.api("POST", f"/sites/{SITE}/point-types", {"id": "coins", "name": "Coins", "redeemable": True,
                                                             "giftable": True})[0] == 201
    assert stack.api("POST", f"/sites/{SITE}/behaviours", {
        "id": "watch", "kind": "simple", "verb": "watch_video", "name": "Watch",
        "prizes": {"points": [{"pointId": "coins", "points": 3}]}})[0] == 201
    for uuid in ("ann", "ben"):
        assert stack.api("POST", f"/sites/{SITE}/users", {"uuid": uuid})[0] == 201
    bodies = [
        ("ann", {"type": "point", "action": "increment", "points": [{"pointId": "coins", "points": 10}]}),
        ("ben", {"type": "behaviour", "verb": "watch_video"}),
        ("ann", {"type": "gift", "targetUuid": "ben", "points": [{"pointId": "coins", "points": 2}]}),
        ("ben", {"type": "point", "action": "redeem", "points": [{"pointId": "coins", "points": 500}]}),
        ("ann", {"type": "behaviour", "verb": "nope"}),
        ("ben", {"type": "behaviour", "verb": "watch_video"}),
    ]
    ids = []
    for uuid, attrs in bodies:
        status, data = stack.api("POST", f"/sites/{SITE}/activities", {"uuid": uuid, "attrs": attrs})
        assert status == 202, data
        ids.append(data["id"])
    done = wait_done(stack, ids)
    return {activity_id: done[activity_id] for activity_id in ids}


def canary_records(canary: Path) -> list[dict[str, Any]]:
    path = canary / "canary.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("mode", [
    "process",
    pytest.param("thread", marks=pytest.mark.xfail(
        strict=True, reason="today's single-process runtime: every function shares the API's process and modules")),
])
def test_no_two_functions_nor_a_function_and_the_api_share_module_state(mode: str, tmp_path: Path) -> None:
    stack = lambda_like(mode, tmp_path)
    try:
        results = run_activities(stack)
    finally:
        assert stop_stack(stack.process) == 0
    statuses = sorted(r["status"] for r in results.values())
    assert statuses == ["FAILED", "FAILED", "SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "SUCCEEDED"], results
    records = canary_records(tmp_path)
    api = [r for r in records if r["function"] == "api"]
    assert [r["pid"] for r in api] == [stack.process.pid], "the API's process marks itself once, at start"
    functions = [r for r in records if r["function"] != "api"]
    pids: dict[str, set[int]] = defaultdict(set)
    for record in functions:
        pids[record["function"].removeprefix(PREFIX)].add(record["pid"])
    assert {"activity_consumer", "activity_point", "activity_behaviour", "activity_gift",
            "activity_mark_failed"} <= set(pids), sorted(pids)
    shared = [f"{name} ran in the API's process" for name, own in pids.items() if stack.process.pid in own]
    shared += [f"{name} and {other} ran in one process" for name, own in pids.items()
               for other, theirs in pids.items() if name < other and own & theirs]
    # Module state: each environment sees only the mark its own function set, never another
    # function's nor the API's.
    leaks = sorted({f"{r['function'].removeprefix(PREFIX)} saw {[s.removeprefix(PREFIX) for s in r['seen']]}"
                    for r in functions if r["seen"] != [r["function"]]})
    assert not shared and not leaks, "\n".join(shared[:5] + leaks[:5])


def test_what_the_stack_is_given_reaches_every_environment(tmp_path: Path) -> None:
    """The clock's offset and the latency table reach the workers; a function's error reaches the
    ASL with its own errorType (the activity FAILED with the rule's type and message)."""
    offset = -3 * 86400.0
    stack = lambda_like("process", tmp_path, LOCAL_CLOCK_OFFSET_SECONDS=str(offset), LOCAL_LATENCY="0.1")
    try:
        results = run_activities(stack)
    finally:
        assert stop_stack(stack.process) == 0
    functions = [r for r in canary_records(tmp_path) if r["function"] != "api"]
    assert functions
    assert {r["clockOffset"] for r in functions} == {offset}
    assert {r["latencyScale"] for r in functions} == {0.1}
    moved = time.time() + offset
    for activity in results.values():
        processed = activity.get("processedAt") or activity.get("updatedAt")
        assert processed, activity
        at = datetime.fromisoformat(processed.replace("Z", "+00:00")).timestamp()
        assert abs(at - moved) < 600, (processed, activity["id"])
    errors = sorted((r["error"] or {}).get("type", "") for r in results.values() if r["status"] == "FAILED")
    assert errors == ["InsufficientPoints", "UnknownBehaviour"]


def test_the_environments_end_with_the_stack_even_on_sigkill(tmp_path: Path) -> None:
    stack = lambda_like("process", tmp_path)
    try:
        run_activities(stack)
        workers = {r["pid"] for r in canary_records(tmp_path) if r["function"] != "api"}
        assert len(workers) >= 5 and all(alive(pid) for pid in workers)  # at least one per function used
        os.kill(stack.process.pid, signal.SIGKILL)  # the stack alone, not its process group
        stack.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in workers if alive(pid)], "a worker outlived its stack"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(stack.process.pid, signal.SIGKILL)


def test_an_environment_killed_from_outside_is_replaced(tmp_path: Path) -> None:
    """Workers killed while idle or in the middle of the next activities: their functions get new
    environments (an invoke that was running reports Runtime.ExitError, which the ASL retries)."""
    stack = lambda_like("process", tmp_path)
    try:
        first = run_activities(stack)
        assert sorted(r["status"] for r in first.values()).count("SUCCEEDED") == 4
        workers = {r["pid"] for r in canary_records(tmp_path) if r["function"] != "api"}
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        ids = []
        for n in range(3):
            status, data = stack.api("POST", f"/sites/{SITE}/activities", {"uuid": "ann", "attrs": {
                "type": "point", "action": "increment", "points": [{"pointId": "coins", "points": n + 1}]}})
            assert status == 202, data
            ids.append(data["id"])
        assert {r["status"] for r in wait_done(stack, ids).values()} == {"SUCCEEDED"}
        later = {r["pid"] for r in canary_records(tmp_path) if r["function"] != "api"} - workers
        assert later, "new environments served the later activities"
    finally:
        assert stop_stack(stack.process) == 0


class InjectedFault(Exception):
    """What the fault below raises: not a name the ASL retries, so its Catch fails the activity."""


def refuse_gift_writes(function: str) -> None:
    """`LOCAL_LAMBDA_INIT` target, run in every new environment: the gift function's transactions
    fail, through a botocore hook on the default session (a fault injected the way the workflow
    tests inject theirs, but in another process)."""
    if not function.endswith("activity_gift"):
        return
    import boto3

    def refuse(**_: Any) -> None:
        raise InjectedFault("injected by the test")

    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    assert boto3.DEFAULT_SESSION is not None
    boto3.DEFAULT_SESSION.events.register("before-call.dynamodb.TransactWriteItems", refuse)


def test_a_fault_injected_through_botocore_reaches_the_function_it_targets(tmp_path: Path) -> None:
    stack = lambda_like("process", tmp_path, LOCAL_LAMBDA_INIT=f"{__name__}:refuse_gift_writes")
    try:
        results = list(run_activities(stack).values())
    finally:
        assert stop_stack(stack.process) == 0
    gift = next(r for r in results if r["type"] == "gift")
    assert gift["status"] == "FAILED"
    assert gift["error"] == {"type": "InternalError", "message": "InjectedFault: injected by the test"}, gift
    others = [r for r in results if r["type"] != "gift" and r["status"] == "SUCCEEDED"]
    assert len(others) == 3, results  # the increment and both videos: no other function was touched
