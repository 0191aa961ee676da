"""The local stack keeps its data (local/durability.py): a SIGKILL loses nothing a client was
answered, accepted work finishes after the restart, a clean stop and start keep everything too,
and `make reset` starts over."""

from __future__ import annotations

import http.client
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.error import URLError
from urllib.parse import quote, urlparse

import pytest

from tests.e2e.conftest import ROOT, RunningStack, start_stack, stop_stack

pytestmark = pytest.mark.e2e

SITE = "kept"
TOKEN = "durable-" + os.urandom(6).hex()


def _increment(stack: RunningStack, uuid: str, points: int, token: str | None = None) -> str:
    status, data = stack.api("POST", f"/sites/{SITE}/activities", {"uuid": uuid, "attrs": {
        "type": "point", "action": "increment", "points": [{"pointId": "coins", "points": points}]}}, token=token)
    assert status == 202, data
    return str(data["id"])


def _ended(stack: RunningStack, ids: list[str], timeout: float = 90) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        found = [stack.api("GET", f"/sites/{SITE}/activities/{i}")[1] for i in ids]
        if all(a["status"] in ("SUCCEEDED", "FAILED", "REJECTED") for a in found):
            return found
        assert time.monotonic() < deadline, [a["status"] for a in found]
        time.sleep(0.3)


def _balance(stack: RunningStack, uuid: str) -> int:
    """The wallet's balance, checked against its whole ledger (every page: a burst can book more
    than one page's 100 entries for a user)."""
    status, data = stack.api("GET", f"/sites/{SITE}/users/{uuid}/tabs/points?limit=100")
    assert status == 200, data
    wallet = next(w for w in data["items"] if w["pointId"] == "coins")
    entries = list(data["ledger"]["items"])
    cursor = data["ledger"]["nextCursor"]
    while cursor:
        status, page = stack.api("GET", f"/sites/{SITE}/users/{uuid}/tabs/points?limit=100&cursor={quote(cursor)}")
        assert status == 200, page
        entries += page["ledger"]["items"]
        cursor = page["ledger"]["nextCursor"]
    assert sum(e["amount"] for e in entries) == wallet["balance"], (len(entries), wallet)
    return int(wallet["balance"])


def _verified(stack: RunningStack) -> None:
    port = urlparse(stack.url).port
    out = subprocess.run([sys.executable, "tools/verify.py", "--site", SITE], cwd=ROOT, capture_output=True,
                         text=True, env={**os.environ, "PORT": str(port)}, timeout=300)
    assert out.returncode == 0 and "no violations" in out.stdout, out.stdout + out.stderr


def _killed(stack: RunningStack) -> None:
    os.killpg(stack.process.pid, signal.SIGKILL)
    stack.process.wait()


def test_a_sigkill_loses_nothing_answered_and_accepted_work_finishes_after_the_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = start_stack(seed=False, data_dir=data, token=TOKEN)
    try:
        assert first.api("POST", "/sites", {"id": SITE, "name": "Kept"})[0] == 201
        assert first.api("POST", f"/sites/{SITE}/point-types", {"id": "coins", "name": "Coins"})[0] == 201
        status, key = first.api("POST", f"/sites/{SITE}/api-keys", {"name": "integration", "role": "admin"})
        assert status == 201, key
        secret = key["key"]
        assert first.api("POST", f"/sites/{SITE}/users", {"uuid": "ann"})[0] == 201
        done = _ended(first, [_increment(first, "ann", 10, token=secret) for _ in range(5)])
        assert {a["status"] for a in done} == {"SUCCEEDED"}
    finally:
        _killed(first)
    assert data.exists() and any(data.glob("journal-*.jsonl"))

    # A stack whose queue has no consumer: what it accepts stays QUEUED until the kill.
    idle = start_stack(seed=False, data_dir=data, token=TOKEN,
                       environment={**os.environ, "LOCAL_QUEUE_POLLERS": "0"})
    try:
        assert _balance(idle, "ann") == 50
        accepted = [_increment(idle, "ann", 10) for _ in range(10)]
        assert {idle.api("GET", f"/sites/{SITE}/activities/{i}")[1]["status"] for i in accepted} == {"QUEUED"}
    finally:
        _killed(idle)

    second = start_stack(seed=False, data_dir=data, token=TOKEN)
    try:
        assert second.api("GET", f"/sites/{SITE}")[0] == 200
        # The API key was kept (stored hashed, like everything else in the table).
        assert second.api("GET", f"/sites/{SITE}/users/ann", token=secret)[0] == 200
        after = _ended(second, accepted)
        assert {a["status"] for a in after} == {"SUCCEEDED"}, [a.get("error") for a in after]
        assert _balance(second, "ann") == 150
        _verified(second)
        # One more after the restart, and it lands after the others (the user's order).
        late = _ended(second, [_increment(second, "ann", 1)])
        assert late[0]["status"] == "SUCCEEDED"
    finally:
        assert stop_stack(second.process) == 0  # a clean stop: everything in a fresh snapshot

    third = start_stack(seed=False, data_dir=data, token=TOKEN)
    try:
        assert _balance(third, "ann") == 151
        status, page = third.api("GET", f"/sites/{SITE}/users/ann/tabs/activity?limit=50")
        assert status == 200 and len(page["items"]) == 16, page
    finally:
        stop_stack(third.process)


def _all_activities(stack: RunningStack, uuid: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor = ""
    while True:
        status, page = stack.api("GET", f"/sites/{SITE}/users/{uuid}/tabs/activity?limit=100{cursor}")
        assert status == 200, page
        found.extend(page["items"])
        if not page.get("nextCursor"):
            return found
        cursor = f"&cursor={quote(page['nextCursor'])}"


def test_kills_at_random_points_of_a_burst_lose_nothing_acknowledged_and_apply_everything_once(
        tmp_path: Path) -> None:
    """Submitters burst point increments for five users; the stack is SIGKILLed at a random
    moment of the burst (twice), then stopped with SIGTERM mid-burst. After each restart, every
    202'd activity ends SUCCEEDED, and each user's balance is exactly the sum of the activities
    the site holds for them: nothing acknowledged lost, nothing applied twice (an activity whose
    202 the kill swallowed may exist or not; if it exists it counts once)."""
    seed = int(os.environ.get("DURABILITY_SEED", random.randrange(1 << 30)))
    print(f"DURABILITY_SEED={seed}")
    rng = random.Random(seed)
    data = tmp_path / "data"
    users = [f"u{i}" for i in range(5)]
    stack = start_stack(seed=False, data_dir=data, token=TOKEN)
    assert stack.api("POST", "/sites", {"id": SITE, "name": "Kept"})[0] == 201
    assert stack.api("POST", f"/sites/{SITE}/point-types", {"id": "coins", "name": "Coins"})[0] == 201
    for uuid in users:
        assert stack.api("POST", f"/sites/{SITE}/users", {"uuid": uuid})[0] == 201
    acknowledged: list[str] = []
    refused: list[tuple[int, Any]] = []
    for kill in (signal.SIGKILL, signal.SIGKILL, signal.SIGTERM):
        stop = threading.Event()

        def submitter(n: int, on: RunningStack = stack, stop: threading.Event = stop) -> None:
            mine = random.Random(seed + n)
            while not stop.is_set():
                body = {"uuid": mine.choice(users), "attrs": {"type": "point", "action": "increment",
                                                              "points": [{"pointId": "coins",
                                                                          "points": mine.randint(1, 9)}]}}
                try:
                    status, answer = on.api("POST", f"/sites/{SITE}/activities", body)
                except (URLError, OSError, http.client.HTTPException):
                    return  # the stack went away mid-request (even mid-answer): not acknowledged
                if status != 202:
                    refused.append((status, answer))
                    return
                acknowledged.append(str(answer["id"]))
        threads = [threading.Thread(target=submitter, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        time.sleep(rng.uniform(0.3, 2.5))
        os.killpg(stack.process.pid, kill)
        stack.process.wait(timeout=30)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        stack = start_stack(seed=False, data_dir=data, token=TOKEN)
        ended = _ended(stack, list(acknowledged), timeout=120)
        assert {a["status"] for a in ended} == {"SUCCEEDED"}, [a.get("error") for a in ended
                                                                if a["status"] != "SUCCEEDED"][:3]
        for uuid in users:
            held = _all_activities(stack, uuid)
            assert {a["status"] for a in held} <= {"SUCCEEDED"}
            expected = sum(a["attrs"]["points"][0]["points"] for a in held)
            balance = 0 if not held else _balance(stack, uuid)
            assert balance == expected, (uuid, balance, expected)
    assert len(acknowledged) > 10
    # A stopping stack may refuse what it can no longer take (503, the error shape); never a 500.
    assert all(status == 503 and answer["error"]["type"] == "ServiceUnavailable" for status, answer in refused), \
        refused
    _verified(stack)
    stop_stack(stack.process)


def test_make_reset_forgets_the_data(tmp_path: Path) -> None:
    data = tmp_path / "data"
    stack = start_stack(seed=False, data_dir=data)
    try:
        assert stack.api("POST", "/sites", {"id": SITE, "name": "Kept"})[0] == 201
    finally:
        stop_stack(stack.process)
    assert (data / "snapshot.jsonl").exists()
    out = subprocess.run(["make", "-s", "reset", f"LOCAL_DATA_DIR={data}"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert not data.exists()
    fresh = start_stack(seed=False, data_dir=data)
    try:
        assert fresh.api("GET", f"/sites/{SITE}")[0] == 404
    finally:
        stop_stack(fresh.process)
