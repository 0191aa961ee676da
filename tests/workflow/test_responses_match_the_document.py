"""Real responses of every operation, validated against the document's own schemas (issue 17).

A scenario calls every operation of `/openapi.json` (the demo's mechanics, users, activities of
every type through the real state machine, every tab, keys, jobs, and some refusals); each
answer is checked with JSON Schema against the response the document declares for its status,
where every always-sent field is required. Server and document cannot drift apart unnoticed:
a planted drift (a field dropped, a type changed, an undeclared status) is caught too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.conftest import Api, make_key, submit, wait_for

pytestmark = pytest.mark.usefixtures("workflow")

Seen = list[tuple[str, str, int, Any]]  # (method, path template, status, body)


class Checked:
    """Validates answers against the document, and records which operations were answered."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.registry = Registry().with_resource("urn:openapi", Resource.from_contents(
            doc, default_specification=DRAFT202012))
        self.templates = [(re.compile("^" + re.sub(r"\{\w+\}", "[^/]+", path) + "$"), path) for path in doc["paths"]]
        self.seen: Seen = []

    def template(self, path: str) -> str:
        concrete = path.split("?", 1)[0]
        matches = [t for pattern, t in self.templates if pattern.match(concrete)]
        assert matches, f"{path} is not in the document"
        return min(matches, key=lambda t: t.count("{"))  # /point-types/x, not /{...}/{...}

    def errors(self, method: str, template: str, status: int, body: Any) -> list[str]:
        op = self.doc["paths"][template][method.lower()]
        declared = op["responses"].get(str(status))
        if declared is None:
            return [f"{method} {template} answered {status}, which the document does not list"]
        content = declared.get("content")
        if content is None:
            return [] if body is None else [f"{method} {template} {status}: a body the document does not describe"]
        schema = _absolute(content["application/json"]["schema"])
        validator = jsonschema.Draft202012Validator(schema, registry=self.registry)
        return [f"{method} {template} {status} at {list(e.absolute_path)}: {e.message[:300]}"
                for e in validator.iter_errors(body)]

    def record(self, method: str, path: str, status: int, body: Any) -> None:
        template = self.template(path)
        problems = self.errors(method, template, status, body)
        assert not problems, problems
        self.seen.append((method, template, status, body))


def _absolute(schema: Any) -> Any:
    """Local `#/components/...` references made absolute to the registered document."""
    if isinstance(schema, dict):
        return {k: ("urn:openapi" + v if k == "$ref" and isinstance(v, str) and v.startswith("#") else _absolute(v))
                for k, v in schema.items()}
    if isinstance(schema, list):
        return [_absolute(v) for v in schema]
    return schema


@pytest.fixture
def checked(api: Api, monkeypatch: pytest.MonkeyPatch) -> Iterator[Checked]:
    doc = api.ok("GET", "/openapi.json", token=None)
    check = Checked(doc)
    real_call = Api.call

    def call(self: Api, method: str, path: str, *args: Any, **kwargs: Any) -> tuple[int, Any, dict[str, str]]:
        status, body, headers = real_call(self, method, path, *args, **kwargs)
        check.record(method, path, status, body)
        return status, body, headers

    monkeypatch.setattr(Api, "call", call)
    yield check


def _scenario(api: Api) -> None:
    """Every operation at least once; bodies are the demo's (local/demo.py)."""
    from local.demo import mechanics

    api.ok("GET", "/health", token=None)
    api.ok("GET", "/openapi.json", token=None)
    api.ok("POST", "/sites", {"id": "docs", "name": "Docs", "timezone": "Europe/London", "weekStart": "monday"})
    api.ok("GET", "/sites")
    api.ok("GET", "/sites/docs")
    api.ok("PATCH", "/sites/docs", {"name": "Docs site"})
    key = make_key(api, "docs", "admin")
    api.ok("GET", "/whoami", token=key)
    spare = api.ok("POST", "/sites/docs/api-keys", {"name": "spare", "role": "viewer"})
    api.ok("GET", "/sites/docs/api-keys")
    api.ok("DELETE", f"/sites/docs/api-keys/{spare['id']}")
    created: dict[str, list[dict[str, Any]]] = {}
    for kind, body in mechanics():
        created.setdefault(kind, []).append(api.ok("POST", f"/sites/docs/{kind}", body, token=key))
    for kind, items in created.items():
        api.ok("GET", f"/sites/docs/{kind}", token=key)
        first = items[0]
        api.ok("GET", f"/sites/docs/{kind}/{first['id']}", token=key)
        api.ok("PUT", f"/sites/docs/{kind}/{first['id']}", first, token=key)
        # The first of each kind is referred to (409 ReferencedBy), or goes (204).
        api.call("DELETE", f"/sites/docs/{kind}/{items[-1]['id']}", token=key)
    for uuid in ("ann", "ben"):
        api.ok("POST", "/sites/docs/users", {"uuid": uuid, "displayName": uuid.title(), "tags": ["sales"]}, token=key)
    api.ok("GET", "/sites/docs/users?limit=1", token=key)
    api.ok("GET", "/sites/docs/users/ann", token=key)
    api.ok("PATCH", "/sites/docs/users/ben", {"lastName": "B."}, token=key)
    settings = api.ok("GET", "/sites/docs/users/ann/settings", token=key)
    api.ok("PUT", "/sites/docs/users/ann/settings", settings, token=key)
    ids = [submit(api, "docs", "ann", attrs, key=None) for attrs in (
        {"type": "behaviour", "verb": "watch_video", "metadata": {"category": ["tv"]}},
        {"type": "behaviour", "verb": "login"}, {"type": "behaviour", "verb": "login"},
        {"type": "point", "action": "increment", "points": [{"pointId": "coins", "points": 100}]},
        {"type": "coupon", "action": "buy", "couponId": "coffee"},
        {"type": "gift", "targetUuid": "ben", "points": [{"pointId": "coins", "points": 5}]},
        {"type": "bounty", "action": "start", "points": [{"pointId": "coins", "points": 5}]},
        {"type": "point", "action": "redeem", "points": [{"pointId": "coins", "points": 10_000}]})]
    for activity_id in ids:
        wait_for(api, "docs", activity_id)
    api.call("POST", f"/sites/docs/activities/{ids[0]}/reject", {"reason": "a test"}, token=key)
    wait_for(api, "docs", ids[0])
    for tab in ("overview", "activity", "points", "rewards", "kpis", "coupons", "leaderboards", "settings"):
        api.ok("GET", f"/sites/docs/users/ann/tabs/{tab}", token=key)
    api.ok("GET", "/sites/docs/users/ann/summary", token=key)
    api.ok("GET", "/sites/docs/users/ann/bounties", token=key)
    api.ok("POST", "/jobs/ranks/run", {"site": "docs"})
    api.ok("GET", "/sites/docs/leaderboards/xp_board/standings?period=weekly", token=key)
    api.ok("POST", "/sites/docs/users/ben/block", token=key)
    api.ok("POST", "/sites/docs/users/ben/unblock", token=key)
    hook = api.ok("POST", "/sites/docs/webhooks", {"url": "http://127.0.0.1:9/hooks", "events": ["*"]}, token=key)
    api.ok("GET", "/sites/docs/webhooks", token=key)
    api.ok("GET", f"/sites/docs/webhooks/{hook['id']}", token=key)
    api.ok("PATCH", f"/sites/docs/webhooks/{hook['id']}", {"description": "docs"}, token=key)
    api.ok("POST", f"/sites/docs/webhooks/{hook['id']}/rotate-secret", token=key)
    sent = api.ok("POST", f"/sites/docs/webhooks/{hook['id']}/test", token=key)
    api.ok("GET", f"/sites/docs/webhooks/{hook['id']}/deliveries", token=key)
    api.ok("POST", f"/sites/docs/webhooks/{hook['id']}/deliveries/{sent['deliveryId']}/redeliver", token=key)
    api.ok("DELETE", f"/sites/docs/webhooks/{hook['id']}", token=key)
    # Refusals answer the error shape the document declares for their status.
    api.call("GET", "/sites/docs/users/nobody", token=key)
    api.call("POST", "/sites/docs/users", {"uuid": "ann"}, token=key)
    api.call("POST", "/sites/docs/activities", {"uuid": "ann", "attrs": {"type": "nope"}}, token=key)
    api.call("GET", "/sites/docs", token="not-a-key")


def test_every_operation_answers_what_the_document_says(api: Api, checked: Checked) -> None:
    _scenario(api)
    operations = {(m.upper(), p) for p, ops in checked.doc["paths"].items() for m in ops}
    answered = {(m, t) for m, t, _, _ in checked.seen}
    assert operations - answered == set(), "operations the scenario never called"
    statuses = {s for _, _, s, _ in checked.seen}
    assert {200, 201, 202, 204, 400, 401, 404, 409} <= statuses


def test_a_planted_drift_is_caught(api: Api, checked: Checked) -> None:
    """The check is not vacuous: a response that lost a field, changed a type, or answered a
    status the document does not list fails it."""
    api.ok("POST", "/sites", {"id": "drift", "name": "Drift"})
    api.ok("POST", "/sites/drift/users", {"uuid": "ann"})
    user = api.ok("GET", "/sites/drift/users/ann")
    template = "/sites/{site}/users/{uuid}"
    assert checked.errors("GET", template, 200, user) == []
    assert checked.errors("GET", template, 200, {k: v for k, v in user.items() if k != "displayName"})
    assert checked.errors("GET", template, 200, {**user, "blocked": "no"})
    assert checked.errors("GET", template, 418, None)
    activity_id = submit(api, "drift", "ann", {"type": "point", "action": "increment",
                                               "points": [{"pointId": "nope", "points": 1}]})
    failed = wait_for(api, "drift", activity_id)
    assert checked.errors("GET", "/sites/{site}/activities/{id}", 200, failed) == []
    assert checked.errors("GET", "/sites/{site}/activities/{id}", 200, {**failed, "status": "DONE"})
