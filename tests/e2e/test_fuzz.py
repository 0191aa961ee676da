"""Schemathesis against the local stack: no 5xx, responses true to their schema, 4xx in the error shape.

A bounded run (a few examples per operation, a fixed seed, the stateful phase following the
document's links); `make fuzz` (tools/fuzz.py) runs the long one, coverage phase included.
The stack is the test's own: the fuzzer creates sites and keys the other e2e tests must not see.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import RunningStack, start_stack, stop_stack

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def own_stack() -> Iterator[RunningStack]:
    running = start_stack(seed=False)
    try:
        yield running
    finally:
        stop_stack(running.process)


def test_the_document_links_user_creation_to_activities(own_stack: RunningStack) -> None:
    with urllib.request.urlopen(own_stack.url + "/openapi.json", timeout=30) as res:
        doc = json.loads(res.read())
    links = doc["paths"]["/sites/{site}/users"]["post"]["responses"]["201"]["links"]
    assert links["submitActivityForTheUser"]["requestBody"]["uuid"] == "$response.body#/uuid"
    polls = doc["paths"]["/sites/{site}/activities"]["post"]["responses"]["202"]["links"]
    assert polls["getActivity"]["parameters"]["id"] == "$response.body#/id"


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("TRACE", "/sites", "GET, POST"), ("CONNECT", "/sites", "GET, POST"), ("BREW", "/health", "GET"),
    ("POST", "/sites/acme/behaviours/x", "DELETE, GET, PUT"),
])
def test_unsupported_methods_are_405_in_the_error_shape(own_stack: RunningStack, method: str, path: str,
                                                        allowed: str) -> None:
    """Found by the fuzzer: an HTML 501 from the local server, or Chalice's own `{"Code": ...}` 405."""
    req = urllib.request.Request(own_stack.url + path, method=method, data=b"{}",
                                 headers={"Authorization": f"Bearer {own_stack.token}"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(req, timeout=30)
    assert caught.value.code == 405
    assert caught.value.headers["Allow"] == allowed
    error = json.loads(caught.value.read())["error"]
    assert (error["type"], error["details"]) == ("MethodNotAllowed", [])


def test_a_refused_body_does_not_leak_into_the_next_request(own_stack: RunningStack) -> None:
    """Found by the fuzzer: the unread body of a TRACE was parsed as the connection's next request."""
    import http.client

    port = int(own_stack.url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("TRACE", "/sites", body=json.dumps({"id": "x" * 200}), headers={"Content-Type": "application/json"})
    first = conn.getresponse()
    assert first.status == 405 and "GET" in (first.getheader("Allow") or "")
    first.read()
    conn.request("GET", "/health")
    second = conn.getresponse()
    assert (second.status, json.loads(second.read())) == (200, {"status": "ok"})
    conn.close()


def test_fuzz_finds_nothing(own_stack: RunningStack) -> None:
    from tools import fuzz

    site = "fuzz-e2e"
    fuzz.prepare_site(own_stack.url, own_stack.token, site)
    out = subprocess.run(
        [sys.executable, "-c", "import sys; from tools import fuzz; sys.exit(fuzz.run_schemathesis("
         f"{own_stack.url!r}, {own_stack.token!r}, {site!r}, max_examples=4, phases='examples,fuzzing,stateful', "
         "seed=20261129, max_time=None, workers=2))"],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    report = out.stdout[-6000:] + out.stderr[-2000:]
    assert out.returncode == 0, report
    assert "No issues found" in out.stdout, report


def test_every_fuzz_run_sends_nested_bodies_and_forged_cursors() -> None:
    """Issue 14: the run itself would catch a nesting 500 or a cursor the API did not issue."""
    from types import SimpleNamespace

    from tools import fuzz

    class Operation:
        def __init__(self, path: str, body: bool, cursor: bool) -> None:
            self.path = path
            self.body = [object()] if body else []
            self.query = [SimpleNamespace(name="limit")] + ([SimpleNamespace(name="cursor")] if cursor else [])

        def Case(self, **kwargs: object) -> dict[str, object]:  # Schemathesis' name
            return kwargs

    examples: list[dict[str, object]] = []
    fuzz.before_add_examples(SimpleNamespace(operation=Operation("/sites/{site}/activities", True, False)), examples)
    fuzz.before_add_examples(SimpleNamespace(operation=Operation(
        "/sites/{site}/users/{uuid}/tabs/points", False, True)), examples)
    bodies = [e for e in examples if e["headers"] == {fuzz.HOSTILE_HEADER: "body"}]
    cursors = [e for e in examples if e["headers"] == {fuzz.HOSTILE_HEADER: "cursor"}]
    assert len(bodies) == 2 and len(cursors) == len(fuzz.FORGED_CURSORS) >= 5
    for case in bodies:
        assert isinstance(case["body"], dict)  # refused for its nesting, not for not being an object
        assert json.dumps(case["body"]).count("{") + json.dumps(case["body"]).count("[") > 32
    assert bodies[1]["body"]["attrs"]["metadata"]  # type: ignore[index]
    assert {c["query"]["cursor"] for c in cursors} >= {"{}"}  # type: ignore[index]
    assert cursors[0]["path_parameters"] == {"site": "fuzz", "uuid": "fuzz-user"}


def test_the_hostile_requests_are_refused(own_stack: RunningStack) -> None:
    from tools import fuzz

    fuzz.prepare_site(own_stack.url, own_stack.token, "fuzz-hostile")
    assert fuzz.hostile_requests(own_stack.url, own_stack.token, "fuzz-hostile") == []
