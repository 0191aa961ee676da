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
