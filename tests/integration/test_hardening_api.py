"""Hardening of the HTTP side (issue 14): every bad input a 4xx, in the contract's order.

- Deeply nested JSON is a 400 `ValidationError` on every route that takes a body, nothing
  written (the limit: 32 levels of objects and arrays, the body itself being level 1).
- Cursors are opaque and sealed: forged, tampered, `{}`, or borrowed from another route, site,
  user or set of filters, a cursor is a 400 on `cursor`; a cursor shows no key attribute.
- 404 before 400: for every route of the route table with path parameters, an unknown id with
  a bad query and a bad body is that resource's 404.
- Logs: each request has its own logging context, and "request done" logs the status sent.
"""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import boto3
import pytest

from tests.builders import configure, inc, ok, user
from tests.conftest import Api, make_key, run

DEPTH_LIMIT = 32
UNKNOWN = "nobody-here"


def _items_in_table() -> int:
    """How many items the table holds (a test-side Scan: the request paths never scan)."""
    client = boto3.client("dynamodb")
    return sum(page["Count"] for page in client.get_paginator("scan").paginate(
        TableName="gamification-test", Select="COUNT"))


def _resources(path: str) -> list[tuple[str, str]]:
    """Each path parameter with the collection segment before it (`/sites/{site}` -> site, sites)."""
    segments = path.strip("/").split("/")
    return [(seg[1:-1], segments[i - 1]) for i, seg in enumerate(segments) if seg.startswith("{")]


def _routes() -> list[Any]:
    import app  # noqa: F401  (registers every blueprint's routes)
    from chalicelib.api.routing import ROUTES

    return ROUTES


# ---------------------------------------------------------------- a site with one of everything


KNOWN_MECHANIC = {"point-types": "coins", "behaviours": "watch_video", "rewards": "binge", "kpis": "xp_goal",
                  "coupons": "tshirt", "leaderboards": "xp_board"}


@pytest.fixture
def world(api: Api, site: str, workflow: str) -> dict[str, str]:
    """acme configured (two of every mechanic kind), users alice and bob with history, two
    keys, ranks materialized; beta configured alike with the same users (nothing else)."""
    configure(api, site)
    for kind, copy in (("kpis", {"id": "xp_goal2"}), ("coupons", {"id": "mug", "code": "MUG"}),
                       ("leaderboards", {"id": "xp_board2"})):
        body = api.ok("GET", f"/sites/{site}/{kind}/{KNOWN_MECHANIC[kind]}")
        api.ok("POST", f"/sites/{site}/{kind}", {**body, **copy})
    api.ok("POST", "/sites", {"id": "beta", "name": "Beta", "timezone": "Europe/London", "weekStart": "monday"})
    configure(api, "beta")
    for where in (site, "beta"):
        user(api, where, "alice", displayName="Alice", email="alice@example.com")
        user(api, where, "bob", displayName="Bob", email="bob@example.com")
    first = inc(api, site, "alice", "coins", 5)
    inc(api, site, "alice", "xp", 20)
    inc(api, site, "bob", "xp", 10)
    for _ in range(2):
        ok(run(api, site, "alice", {"type": "bounty", "action": "start", "points": [{"pointId": "coins", "points": 1}]}))
    from chalicelib.jobs import ranks

    ranks.run(sites=[site])
    make_key(api, site, "viewer")
    key_id = api.ok("POST", f"/sites/{site}/api-keys", {"name": "second", "role": "viewer"})["id"]
    hook = api.ok("POST", f"/sites/{site}/webhooks", {"url": "http://127.0.0.1:9/hooks", "events": ["*"]})["id"]
    delivery = api.ok("POST", f"/sites/{site}/webhooks/{hook}/test", {})["deliveryId"]
    return {"activity": first["id"], "key": key_id, "webhook": hook, "delivery": delivery}


def _known(collection: str, world: dict[str, str]) -> str:
    if collection == "sites":
        return "acme"
    if collection == "users":
        return "alice"
    if collection == "activities":
        return world["activity"]
    if collection == "api-keys":
        return world["key"]
    if collection == "jobs":
        return "rollup"
    if collection == "webhooks":
        return world["webhook"]
    if collection == "deliveries":
        return world["delivery"]
    return KNOWN_MECHANIC[collection]


def _path(spec: Any, values: dict[str, str]) -> str:
    path = spec.path
    for param, value in values.items():
        path = path.replace("{" + param + "}", quote(value, safe=""))
    return path


# ---------------------------------------------------------------- A: nesting


def _deep_bodies(route_path: str) -> dict[str, bytes]:
    bodies = {
        "5000 nested arrays": b'{"name":' + b"[" * 5000 + b"]" * 5000 + b"}",
        "3000 nested objects": b'{"a":' * 3000 + b"1" + b"}" * 3000,
        "33 levels": b'{"name":' + b"[" * 32 + b"]" * 32 + b"}",
    }
    if route_path == "/sites/{site}/activities":
        bodies["metadata 3000 deep"] = (b'{"uuid":"alice","attrs":{"type":"behaviour","verb":"watch_video","metadata":'
                                        + b'{"a":' * 3000 + b"1" + b"}" * 3000 + b"}}")
    return bodies


def test_deeply_nested_bodies_are_a_400_on_every_route_that_takes_one(api: Api, world: dict[str, str]) -> None:
    body_routes = [s for s in _routes() if s.body is not None or s.path == "/jobs/{job}/run"]
    assert len(body_routes) == 23  # the issue's 21, and the webhooks' create and change
    before = _items_in_table()
    refused = []
    for spec in body_routes:
        path = _path(spec, {p: _known(c, world) for p, c in _resources(spec.path)})
        for name, raw in _deep_bodies(spec.path).items():
            status, data, _ = api.call(spec.method, path, raw=raw)
            assert status == 400, (spec.method, spec.path, name, status, data)
            error = data["error"]
            assert error["type"] == "ValidationError", (spec.path, name, data)
            assert error["details"] == [{"field": "body", "message": error["details"][0]["message"]}]
            assert f"deeper than {DEPTH_LIMIT} levels" in error["message"], data
            refused.append((spec.method, spec.path, name))
    assert _items_in_table() == before  # nothing written
    assert len(refused) == 23 * 3 + 1


def test_the_nesting_limit_is_32_levels_and_metadata_up_to_it_is_stored(api: Api, world: dict[str, str]) -> None:
    """body (1) > attrs (2) > metadata (3) > ... 29 more levels = 32: accepted and read back."""
    def metadata(levels: int) -> Any:
        value: Any = "deep"
        for _ in range(levels):
            value = {"k": value}
        return value

    deepest = {"uuid": "alice", "attrs": {"type": "behaviour", "verb": "watch_video", "metadata": metadata(30)}}
    status, data, _ = api.post("/sites/acme/activities", deepest)
    assert status == 202, data
    stored = api.ok("GET", f"/sites/acme/activities/{data['id']}")
    assert stored["attrs"]["metadata"] == metadata(30)

    too_deep = {"uuid": "alice", "attrs": {"type": "behaviour", "verb": "watch_video", "metadata": metadata(31)}}
    status, data, _ = api.post("/sites/acme/activities", too_deep)
    assert (status, data["error"]["type"]) == (400, "ValidationError"), data
    # Brackets inside strings are text, not nesting.
    status, data, _ = api.post("/sites/acme/users", {"uuid": "brackets", "displayName": "[" * 40 + "{" * 40})
    assert status == 201, data


def test_the_depth_scan_reads_json_as_the_decoder_does() -> None:
    from chalicelib.api.routing import json_depth_exceeds

    assert not json_depth_exceeds("[" * 32 + "]" * 32)
    assert json_depth_exceeds("[" * 33 + "]" * 33)
    assert not json_depth_exceeds(json.dumps({"a": "[[[[" * 50, "b": '\\"[[[' * 40}))
    assert json_depth_exceeds('["\\\\"' + ",[" * 40)  # an escaped backslash ends the string
    assert not json_depth_exceeds('"' + "\\\"[" * 100 + '"')


# ---------------------------------------------------------------- B: cursors


LIST_ROUTES = {
    "users": "/sites/{site}/users?limit=1",
    "sites": "/sites?limit=1",
    "api-keys": "/sites/{site}/api-keys?limit=1",
    **{kind: f"/sites/{{site}}/{kind}?limit=1" for kind in KNOWN_MECHANIC},
    "activity tab": "/sites/{site}/users/alice/tabs/activity?limit=1",
    "points tab ledger": "/sites/{site}/users/alice/tabs/points?limit=1",
    "bounties": "/sites/{site}/users/alice/bounties?limit=1",
    "standings": "/sites/{site}/leaderboards/xp_board/standings?limit=1",
}
# The same route with other filters (or another user): a cursor is valid for none of them.
OTHER_FILTERS = {
    "users": ["&q=a", "&sort=email", "&order=desc", "&blocked=false", "&tag=x"],
    "activity tab": ["&type=point", "&status=SUCCEEDED", "&order=asc", "&sort=type", "&verb=watch_video",
                     "&from=2020-01-01"],
    "bounties": ["&status=open"],
    "standings": ["&period=allTime"],
}
OTHER_USER = {"activity tab", "points tab ledger", "bounties"}


def _next_cursor(data: Any) -> str | None:
    if "ledger" in data:
        return data["ledger"]["nextCursor"]
    return data["nextCursor"]


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


FORGED = {
    "{}": "{}",
    "base64 {}": _b64("{}"),
    "PK/SK numbers": _b64('{"PK":{"N":"1"},"SK":{"N":"2"}}'),
    "PK/SK of a profile": _b64('{"PK":{"S":"USER#acme#alice"},"SK":{"S":"S#PROFILE"}}'),
    "an index key": _b64('{"GSI1PK":{"S":"USERS#acme"},"GSI1SK":{"S":"alice"},"PK":{"S":"USER#acme#alice"},'
                         '"SK":{"S":"S#PROFILE"}}'),
    "a mechanics position": _b64('{"id":{"S":"a"}}'),
    "nonsense": "nonsense",
    "percent": "%%%",
}


def _refused(api: Api, url: str) -> None:
    status, data, _ = api.get(url)
    assert status == 400, (url, status, data)
    assert data["error"]["type"] == "ValidationError", (url, data)
    assert [d["field"] for d in data["error"]["details"]] == ["cursor"], (url, data)


def test_cursors_are_sealed_to_their_route_site_and_filters(api: Api, world: dict[str, str]) -> None:
    issued: dict[str, str] = {}
    for name, template in LIST_ROUTES.items():
        url = template.format(site="acme")
        first = api.ok("GET", url)
        cursor = _next_cursor(first)
        assert cursor, (name, first)
        issued[name] = cursor
        # The route's own cursor walks on.
        second = api.ok("GET", f"{url}&cursor={cursor}")
        assert second != first, name
        # Opaque: no key attribute, prefix or value of the table shows through.
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        # A sealed cursor is random-looking bytes: a two-byte needle ("SK") turns up in one of
        # some hundred cursors by chance, so the needles are what a leaked key would carry.
        for secret in (b'"PK"', b'"SK"', b'"GSI', b"USER#", b"alice", b"acme", b'"S"'):
            assert secret not in raw, (name, raw)

    for name, template in LIST_ROUTES.items():
        url = template.format(site="acme")
        for forged in FORGED.values():
            _refused(api, f"{url}&cursor={quote(forged, safe='')}")
        own = issued[name]
        tampered = own[:-2] + ("A" if own[-2] != "A" else "B") + own[-1]
        _refused(api, f"{url}&cursor={tampered}")
        _refused(api, f"{url}&cursor={own[:-4]}")  # truncated
        for other, cursor in issued.items():  # borrowed from another route
            if other != name:
                _refused(api, f"{url}&cursor={cursor}")
        if "{site}" in template:  # the same route on another site
            _refused(api, f"{template.format(site='beta')}&cursor={own}")
        for extra in OTHER_FILTERS.get(name, []):
            _refused(api, f"{url}{extra}&cursor={own}")
        if name in OTHER_USER:
            _refused(api, f"{url.replace('/alice/', '/bob/')}&cursor={own}")


def test_a_site_key_listing_sites_refuses_any_cursor(api: Api, world: dict[str, str]) -> None:
    key = make_key(api, "acme", "viewer")
    issued = _next_cursor(api.ok("GET", "/sites?limit=1"))
    for cursor in (issued, FORGED["base64 {}"]):
        status, data, _ = api.get(f"/sites?cursor={cursor}", token=key)
        assert (status, data["error"]["details"][0]["field"]) == (400, "cursor"), data


def test_a_cursor_needs_the_deployments_key() -> None:
    """Sealed with another key (another deployment, a rotated key), a cursor opens nowhere."""
    from chalicelib.config import settings
    from chalicelib.store import db

    scope = {"listing": "probe"}
    cursor = db.encode_cursor({"after": "x"}, scope)
    assert cursor is not None and db.decode_cursor(cursor, scope) == {"after": "x"}
    with pytest.raises(db.InvalidCursor):
        db.decode_cursor(cursor, {"listing": "other"})
    real = settings()
    try:
        settings.cache_clear()
        import os

        saved = os.environ["CURSOR_KEY"]
        os.environ["CURSOR_KEY"] = "ab" * 32
        with pytest.raises(db.InvalidCursor):
            db.decode_cursor(cursor, scope)
    finally:
        os.environ["CURSOR_KEY"] = saved
        settings.cache_clear()
    assert settings().cursor_key == real.cursor_key


def test_every_process_of_the_local_runtime_gets_the_same_cursor_key() -> None:
    import os

    from local.stack import aws_environment, in_process_environment

    key = os.environ["CURSOR_KEY"]
    assert len(bytes.fromhex(key)) == 32
    assert aws_environment(1, "t")["CURSOR_KEY"] == key
    assert in_process_environment("t", "table")["CURSOR_KEY"] == key
    template = json.loads((__import__("pathlib").Path(__file__).parents[2] / "infra" / "template.json").read_text())
    assert template["Parameters"]["CursorKey"]["NoEcho"] is True


# ---------------------------------------------------------------- C: 404 before 400


def _bad_query(spec: Any) -> str:
    names = ["limit", *[n for n in spec.query if n != "limit"]]
    return "?" + "&".join(f"{n}={'abc' if n == 'limit' else quote('!bogus!')}" for n in names)


NOT_FOUND_TYPE = {"sites": "SiteNotFound", "users": "UserNotFound", "activities": "ActivityNotFound"}


def test_an_unknown_path_resource_is_its_404_before_any_400(api: Api, world: dict[str, str]) -> None:
    routes = [s for s in _routes() if _resources(s.path)]
    assert len(routes) >= 50
    checked = []
    for spec in routes:
        known = {p: _known(c, world) for p, c in _resources(spec.path)}
        takes_body = spec.body is not None or spec.path == "/jobs/{job}/run"
        bad_body = b'{"unknownField": [1, 2' if takes_body else None
        query = _bad_query(spec)
        if takes_body or spec.query:
            # The same bad request on existing resources is a 400: the inputs are bad indeed.
            status, data, _ = api.call(spec.method, _path(spec, known) + query, raw=bad_body)
            assert status == 400, (spec.method, spec.path, status, data)
        for param, collection in _resources(spec.path):
            values = {**known, param: UNKNOWN}
            status, data, _ = api.call(spec.method, _path(spec, values) + query, raw=bad_body)
            expected = NOT_FOUND_TYPE.get(collection, "NotFound")
            assert (status, data["error"]["type"]) == (404, expected), (spec.method, spec.path, param, data)
            checked.append(f"{spec.method} {spec.path} (unknown {param})")
    # The issue's two cases among them.
    assert "GET /sites/{site}/users/{uuid}/tabs/points (unknown uuid)" in checked
    assert "POST /sites/{site}/activities/{id}/reject (unknown id)" in checked
    print("\n".join(checked))


def test_the_issue_examples(api: Api, world: dict[str, str]) -> None:
    status, data, _ = api.get(f"/sites/acme/users/{UNKNOWN}/tabs/points?limit=abc")
    assert (status, data["error"]["type"]) == (404, "UserNotFound"), data
    status, data, _ = api.call("POST", f"/sites/acme/activities/{UNKNOWN}/reject", raw=b'{"reason": 5, "x": 1}')
    assert (status, data["error"]["type"]) == (404, "ActivityNotFound"), data


def test_a_route_whose_path_parameter_names_no_known_resource_cannot_be_registered() -> None:
    from chalice import Blueprint

    from chalicelib.api.routing import ROUTES, route

    count = len(ROUTES)
    with pytest.raises(RuntimeError, match="no resource loader"):
        route(Blueprint("probe"), "/sites/{site}/gadgets/{gadgetId}", "GET", role="viewer", summary="x", tag="x")
    assert len(ROUTES) == count


# ---------------------------------------------------------------- D: logs


@pytest.fixture
def log_buffer() -> Iterator[io.StringIO]:
    """The app's log records, as the JSON lines powertools writes."""
    from chalicelib.observability import logger

    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    old_stream = handler.setStream(buffer)
    old_level = logger.log_level
    logger.setLevel("INFO")
    try:
        yield buffer
    finally:
        handler.setStream(old_stream)
        logger.setLevel(old_level)


def test_each_request_has_its_own_logging_context_and_logs_the_status_sent(api: Api, site: str,
                                                                           log_buffer: io.StringIO) -> None:
    from chalicelib.observability import logger

    # What a workflow step in this warm environment left behind must not stamp requests.
    logger.append_keys(activity_id="01LEFTOVER", user="someone-else")
    assert api.post(f"/sites/{site}/users", {"uuid": "carol"})[0] == 201
    assert api.get(f"/sites/{site}")[0] == 200
    assert api.get(f"/sites/{site}/users/{UNKNOWN}")[0] == 404
    assert api.get("/health", token=None)[0] == 200
    records = [json.loads(line) for line in log_buffer.getvalue().splitlines() if line.startswith("{")]
    done = [r for r in records if r.get("message") in ("request done", "request refused")]
    assert [(r["route"], r["status"]) for r in done] == [
        ("POST /sites/{site}/users", 201), ("GET /sites/{site}", 200), ("GET /sites/{site}/users/{uuid}", 404),
        ("GET /health", 200)]
    for record in records:
        assert "activity_id" not in record, record
    assert done[0].get("user") is None and done[2]["user"] == UNKNOWN
    assert done[3].get("site") is None and done[3].get("by") is None  # nothing of the requests before
    assert len({r["request_id"] for r in done}) == 4


def _infra(name: str) -> Any:
    import importlib.util
    import sys
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(f"infra_{name}", Path(__file__).parents[2] / "infra" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_on_aws_the_cursor_key_is_a_deploy_time_secret_of_the_api_function(aws: None) -> None:
    """Generated once per stage into an SSM SecureString, kept across deploys, passed to the API
    function as the NoEcho parameter CursorKey (docs/deploy.md)."""
    deploy, package = _infra("deploy"), _infra("package")
    ssm = boto3.client("ssm")
    first = deploy.cursor_key(ssm, "dev")
    assert len(bytes.fromhex(first)) == 32
    assert deploy.cursor_key(ssm, "dev") == first  # a later deploy: the same key
    stored = ssm.get_parameter(Name="/gamification/dev/cursor-key", WithDecryption=True)["Parameter"]
    assert stored["Type"] == "SecureString" and stored["Value"] == first
    assert deploy.cursor_key(ssm, "prod") != first
    rotated = deploy.cursor_key(ssm, "dev", rotate=True)
    assert rotated != first and deploy.cursor_key(ssm, "dev") == rotated

    template = {"Resources": {"APIHandler": {"Type": "AWS::Serverless::Function", "Properties": {}}}}
    wired = package.wire(template, "dev", {}, None)
    assert wired["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"]["CURSOR_KEY"] == {
        "Ref": "CursorKey"}


def test_storage_that_stays_throttled_is_a_503_with_retry_after_and_nothing_written(api: Api, site: str) -> None:
    """DynamoDB still throttling after botocore's own retries: the store raises `Busy`, the API
    answers 503 `ServiceUnavailable` with `Retry-After` (api.md), never a 500."""
    from botocore.awsrequest import AWSResponse

    from chalicelib.store import db

    def throttled(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        return AWSResponse("https://dynamodb.local/", 400, {}, None), {
            "Error": {"Code": "ProvisionedThroughputExceededException", "Message": "injected"},
            "ResponseMetadata": {"HTTPStatusCode": 400, "HTTPHeaders": {}, "RetryAttempts": 0}}

    before = _items_in_table()
    events = db.client().meta.events
    events.register_first("before-call.dynamodb.PutItem", throttled)
    try:
        status, data, headers = api.post(f"/sites/{site}/users", {"uuid": "dora"})
    finally:
        events.unregister("before-call.dynamodb.PutItem", throttled)
    assert status == 503, data
    assert data["error"]["type"] == "ServiceUnavailable"
    assert int(headers["Retry-After"]) >= 1
    assert _items_in_table() == before
    assert api.post(f"/sites/{site}/users", {"uuid": "dora"})[0] == 201


def test_a_pattern_refusal_says_the_rule_in_words_not_the_regex(api: Api, site: str) -> None:
    """Issue 18, defect 3: people read these messages ("String should match pattern '^$|^[^@\\s]+…'"
    was shown as is); every pattern the document declares has its sentence."""
    import re

    from chalicelib.api.routing import PATTERN_RULES
    from chalicelib.models.base import UUID_PATTERN

    status, body, _ = api.call("POST", f"/sites/{site}/users", {"uuid": "pat", "email": "not an email",
                                                               "pictureUrl": "ftp://x"})
    assert status == 400
    messages = {d["field"]: d["message"] for d in body["error"]["details"]}
    assert messages == {"email": "must be an email address (name@example.com), or empty",
                        "pictureUrl": "must be an http:// or https:// address without spaces, or empty"}
    assert "pattern" not in body["error"]["message"]
    status, body, _ = api.call("POST", f"/sites/{site}/point-types", {"id": "Bad Id", "name": "x"})
    assert status == 400 and "lowercase letters" in body["error"]["details"][0]["message"]
    # A length checked after a validator (a site's name) says so in words too.
    status, body, _ = api.call("PATCH", f"/sites/{site}", {"name": ""})
    assert status == 400 and body["error"]["details"] == [{"field": "name", "message": "must not be empty"}]
    doc = json.dumps(api.ok("GET", "/openapi.json", token=None))
    declared = {json.loads(f'"{p}"') for p in re.findall(r'"pattern": "((?:[^"\\]|\\.)*)"', doc)}
    # The uuid's pattern is only in the document; its own checks say which rule was broken.
    assert declared - {UUID_PATTERN} <= set(PATTERN_RULES), declared - {UUID_PATTERN} - set(PATTERN_RULES)
