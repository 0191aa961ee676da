"""`make run`'s stack as a real process: it starts, serves, seeds, and stops leaving nothing behind."""

from __future__ import annotations

import time
import urllib.request

import pytest

from tests.e2e.conftest import group_alive, start_stack, stop_stack

pytestmark = pytest.mark.e2e


def test_stack_starts_serves_and_stops_cleanly() -> None:
    stack = start_stack(seed=False)
    try:
        status, body = stack.api("GET", "/health")
        assert (status, body) == (200, {"status": "ok"})
        assert stack.api("POST", "/sites", {"id": "e2e", "name": "E2E"})[0] == 201
        status, key = stack.api("POST", "/sites/e2e/api-keys", {"name": "it", "role": "editor"})
        assert status == 201
        status, user = stack.api("POST", "/sites/e2e/users", {"uuid": "u-1", "displayName": "U"}, token=key["key"])
        assert status == 201 and user["uuid"] == "u-1"
        assert stack.api("GET", "/sites/e2e/users/u-1", token=key["key"])[1]["displayName"] == "U"
        with urllib.request.urlopen(stack.url + "/console/", timeout=5) as res:
            assert res.status == 200 and b"<html" in res.read().lower()
    finally:
        code = stop_stack(stack.process)
    assert code == 0
    deadline = time.monotonic() + 5
    while group_alive(stack.process.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not group_alive(stack.process.pid), "no process of the stack is left behind"


def test_seeded_demo_site(stack) -> None:  # type: ignore[no-untyped-def]
    status, users = stack.api("GET", "/sites/demo/users?limit=100")
    assert status == 200
    assert {"alice", "bob", "dave"} <= {u["uuid"] for u in users["items"]}
    assert [u["uuid"] for u in users["items"] if u["blocked"]] == ["dave"]


def test_health_is_503_until_the_demo_is_seeded_then_200_with_the_demo_in_place() -> None:
    """A script that waits for /health must find the demo whole: no 200 before seeding ends."""
    import json
    import os
    import subprocess
    import sys
    import urllib.error

    from local.stack import free_port
    from tests.e2e.conftest import ROOT

    port = free_port()
    token = "health-" + os.urandom(4).hex()
    env = {**os.environ, "PORT": str(port), "LOCAL_TOKEN": token, "SEED": "1", "LOCAL_DATA_DIR": ""}
    for var in ("AWS_ENDPOINT_URL", "TABLE_NAME", "OPERATOR_TOKEN_SHA256"):
        env.pop(var, None)
    process = subprocess.Popen([sys.executable, "-m", "local"], cwd=ROOT, env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    starting = []
    try:
        deadline = time.monotonic() + 150
        while True:
            assert time.monotonic() < deadline, f"/health never answered 200 (saw {starting[-3:]})"
            assert process.poll() is None, "the stack exited"
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as res:
                    assert json.loads(res.read()) == {"status": "ok"}
                    break
            except urllib.error.HTTPError as err:
                body = json.loads(err.read())
                assert err.code == 503 and body["error"]["type"] == "ServiceUnavailable", (err.code, body)
                assert err.headers["Retry-After"]
                starting.append(body["error"]["message"])
            except OSError:
                pass  # not listening yet
            time.sleep(0.05)
        assert starting, "the server was reachable during seeding and must have said so"
        request = urllib.request.Request(url + "/sites/demo/users?limit=100",
                                         headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=10) as res:
            users = json.loads(res.read())["items"]
        assert {"alice", "bob", "dave"} <= {u["uuid"] for u in users}
        request = urllib.request.Request(url + "/sites/demo/users/alice/tabs/activity?limit=100",
                                         headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=10) as res:
            history = json.loads(res.read())["items"]
        assert history and all(a["status"] in ("SUCCEEDED", "FAILED", "REJECTED") for a in history)
    finally:
        code = stop_stack(process)
    assert code == 0
