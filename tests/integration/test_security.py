"""Security properties of the API: page limits, rate limits, CORS, body size, secrets in logs."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.builders import app_logs
from tests.conftest import OPERATOR_TOKEN, Api, make_key

if TYPE_CHECKING:
    from chalicelib.api.limits import TokenBucket

ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------ page sizes

def _list_routes() -> list[str]:
    import app  # noqa: F401 - registers every route
    from chalicelib.api.routing import ROUTES

    return sorted(r.path for r in ROUTES if r.method == "GET" and "limit" in r.query)


def _fill(path: str, listed: str) -> str:
    """A list route's path on resources that exist (`listed`: the webhook's id)."""
    known = listed if path.startswith("/sites/{site}/webhooks/") else "xp_board"
    return path.replace("{site}", "acme").replace("{uuid}", "alice").replace("{id}", known)


@pytest.fixture
def listed(api: Api, site: str) -> str:
    """alice, a board and a webhook endpoint on acme; the endpoint's id."""
    api.ok("POST", f"/sites/{site}/users", {"uuid": "alice"})
    api.ok("POST", f"/sites/{site}/point-types", {"id": "xp", "name": "XP"})
    api.ok("POST", f"/sites/{site}/leaderboards", {"id": "xp_board", "name": "XP", "ranksBy": {"points": "xp"},
                                                   "periods": ["weekly"]})
    return str(api.ok("POST", f"/sites/{site}/webhooks", {"url": "http://127.0.0.1:9/x", "events": ["*"]})["id"])


def test_every_list_route_takes_limit_and_cursor() -> None:
    """The contract: every list is paged. Mechanic lists included (they were returned whole)."""
    paths = _list_routes()
    for kind in ("point-types", "behaviours", "rewards", "kpis", "coupons", "leaderboards"):
        assert f"/sites/{{site}}/{kind}" in paths
    assert {"/sites", "/sites/{site}/api-keys", "/sites/{site}/users", "/sites/{site}/users/{uuid}/tabs/activity",
            "/sites/{site}/users/{uuid}/tabs/points", "/sites/{site}/users/{uuid}/bounties",
            "/sites/{site}/leaderboards/{id}/standings"} <= set(paths)


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "1.5", "1e2"])
def test_page_size_out_of_range_is_400_on_every_list(api: Api, listed: str, limit: str) -> None:
    for path in _list_routes():
        status, data, _ = api.get(f"{_fill(path, listed)}?limit={limit}")
        assert status == 400, (path, status, data)
        assert data["error"]["type"] == "ValidationError"
        assert [d["field"] for d in data["error"]["details"]] == ["limit"], (path, data)


def test_page_size_bounds_are_accepted_and_honoured(api: Api, listed: str) -> None:
    for path in _list_routes():
        for limit in ("1", "100"):
            status, data, _ = api.get(f"{_fill(path, listed)}?limit={limit}")
            assert status == 200, (path, limit, data)


def test_mechanic_lists_page_with_cursor(api: Api, site: str) -> None:
    for i in range(5):
        api.ok("POST", f"/sites/{site}/point-types", {"id": f"p{i}", "name": f"P{i}"})
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = api.ok("GET", f"/sites/{site}/point-types{query}")
        assert len(page["items"]) <= 2
        seen += [i["id"] for i in page["items"]]
        cursor = page["nextCursor"]
        if not cursor:
            break
    assert seen == [f"p{i}" for i in range(5)]
    status, data, _ = api.get(f"/sites/{site}/point-types?cursor=not-ours")
    assert (status, data["error"]["details"][0]["field"]) == (400, "cursor")


def test_body_larger_than_64_kib_is_413(api: Api, site: str) -> None:
    body = json.dumps({"uuid": "x" * 10, "displayName": "y" * (65 * 1024)})
    status, data, _ = api.call("POST", f"/sites/{site}/users", raw=body)
    assert (status, data["error"]["type"]) == (413, "PayloadTooLarge")


# ------------------------------------------------------------------ rate limits

def test_token_bucket_refills_at_its_rate() -> None:
    from chalicelib.api.limits import TokenBucket

    now = [0.0]
    bucket = TokenBucket(rate=2, burst=3, clock=lambda: now[0])
    assert bucket.tokens("k") == 3, "an unseen key has a full burst"
    assert [bucket.take("k") for _ in range(3)] == [0, 0, 0]
    assert bucket.tokens("k") == 0
    assert bucket.take("k") == pytest.approx(0.5)
    assert bucket.take("other") == 0, "buckets are per key"
    now[0] += 0.5
    assert bucket.take("k") == 0
    assert bucket.take("k") > 0
    now[0] += 100
    assert [bucket.take("k") for _ in range(3)] == [0, 0, 0], "refills up to the burst, not beyond"
    assert bucket.take("k") > 0


@dataclass
class Limiter:
    """The app's buckets, installed on a clock the test moves (chalicelib/api/limits.py)."""

    keys: TokenBucket
    operator: TokenBucket
    now: float = 1_000.0

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def limiter() -> Iterator[Limiter]:
    from chalicelib.api import limits

    clock = Limiter(limits.TokenBucket(0, 0), limits.TokenBucket(0, 0))
    # Site keys: 0.5 tokens/s, burst 3; the operator: 0.5/s, burst 30 (the test's set-up is its).
    # Amounts and steps are binary fractions, so every refill lands exactly where it is expected.
    clock.keys = limits.TokenBucket(rate=0.5, burst=3, clock=lambda: clock.now)
    clock.operator = limits.TokenBucket(rate=0.5, burst=30, clock=lambda: clock.now)
    limits.install(clock.keys, clock.operator)
    try:
        yield clock
    finally:
        limits.reset()


def key_id(key: str) -> str:
    return key.split(".")[2]  # gk.<site>.<id>.<secret>


def test_a_key_over_its_rate_gets_429_until_its_bucket_refills(api: Api, site: str, limiter: Limiter,
                                                               requests_counter: Any) -> None:
    key = make_key(api, site, "viewer")
    other = make_key(api, site, "viewer")
    answers = [api.get(f"/sites/{site}", token=key) for _ in range(4)]
    assert [a[0] for a in answers] == [200, 200, 200, 429]
    _, data, headers = answers[-1]
    assert data["error"]["type"] == "RateLimited" and data["error"]["details"] == []
    assert headers["Retry-After"] == "2", "one token at 0.5/s, and the clock has not moved"
    # Per key: another key of the same site, and the operator, still go ahead.
    assert api.get(f"/sites/{site}", token=other)[0] == 200
    assert api.get(f"/sites/{site}")[0] == 200
    # No DynamoDB request for the limiter, nor for the key (verified before, remembered).
    requests_counter.reset()
    assert api.get(f"/sites/{site}", token=key)[0] == 429
    assert requests_counter.calls == []
    # Refill at the bucket's rate, on its clock: 1.75 s give 0.875 of a token, not yet one...
    limiter.advance(1.75)
    status, _, headers = api.get(f"/sites/{site}", token=key)
    assert (status, headers["Retry-After"]) == (429, "1")
    # ...2 s give one, and one only.
    limiter.advance(0.25)
    assert [api.get(f"/sites/{site}", token=key)[0] for _ in range(2)] == [200, 429]
    # An hour refills up to the burst, not beyond.
    limiter.advance(3600)
    assert [api.get(f"/sites/{site}", token=key)[0] for _ in range(4)] == [200, 200, 200, 429]
    assert api.get(f"/sites/{site}", token=other)[0] == 200, "the other key's bucket is its own"


def test_refused_callers_spend_no_tokens(api: Api, site: str, limiter: Limiter) -> None:
    """401 and 403 come before the limiter: a caller that is refused cannot drain anyone's bucket,
    not even with a real key's id and a wrong secret."""
    key = make_key(api, site, "viewer")
    forged = ".".join([*key.split(".")[:3], "not-its-secret"])
    operator_tokens = limiter.operator.tokens("operator")
    for _ in range(5):
        assert api.get(f"/sites/{site}", token=f"gk.{site}.nokey.secret")[0] == 401
        assert api.get(f"/sites/{site}", token=forged)[0] == 401
        assert api.get(f"/sites/{site}", token="not-a-token")[0] == 401
        assert api.post(f"/sites/{site}/point-types", {"id": "xp", "name": "XP"}, token=key)[0] == 403
    assert limiter.keys.tokens("nokey") == 3 and limiter.keys.tokens(key_id(key)) == 3, "no bucket spent"
    assert limiter.operator.tokens("operator") == operator_tokens
    # The key's whole burst is still there, then the limiter answers.
    assert [api.get(f"/sites/{site}", token=key)[0] for _ in range(4)] == [200, 200, 200, 429]
    assert limiter.keys.tokens(key_id(key)) == 0


def test_the_openapi_document_declares_429_with_retry_after(api: Api) -> None:
    doc = api.ok("GET", "/openapi.json")
    op = doc["paths"]["/sites/{site}/activities"]["post"]
    assert op["responses"]["429"]["headers"]["Retry-After"]["required"] is True
    assert "429" not in doc["paths"]["/health"]["get"]["responses"]


# ------------------------------------------------------------------ CORS

_CORS_PROBE = """
import json
from chalice.config import Config
from chalice.local import LocalGateway
import app
gateway = LocalGateway(app.app, Config(chalice_stage="local"))
headers = {"origin": "https://evil.example", "access-control-request-method": "POST", "host": "localhost"}
out = {}
for method, path in (("GET", "/health"), ("OPTIONS", "/sites/acme/users")):
    res = gateway.handle_request(method, path, headers, b"")
    out[method] = {k.lower(): v for k, v in res["headers"].items()}
print(json.dumps(out))
"""


def _cors_headers(origin: str | None) -> dict[str, dict[str, str]]:
    """The app's CORS as configured at import (routes take their CORS when registered)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("CONSOLE_ORIGIN", None)
    if origin is not None:
        env["CONSOLE_ORIGIN"] = origin
    out = subprocess.run([sys.executable, "-c", _CORS_PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def test_cors_allows_only_the_console_origin() -> None:
    headers = _cors_headers("https://console.example.com")
    for method in ("GET", "OPTIONS"):
        assert headers[method].get("access-control-allow-origin") == "https://console.example.com", headers
    allowed = {h.strip().lower() for h in headers["OPTIONS"]["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key"} <= allowed
    assert "*" not in headers["GET"]["access-control-allow-origin"]


def test_no_cors_headers_when_the_console_is_same_origin() -> None:
    headers = _cors_headers(None)
    assert "access-control-allow-origin" not in headers["GET"], headers


# ------------------------------------------------------------------ secrets never logged

@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """Everything the app's powertools logger writes, at DEBUG, in its own JSON format."""
    with app_logs(logging.DEBUG) as stream:
        yield stream


def test_secrets_are_never_logged(api: Api, site: str, log_output: io.StringIO) -> None:
    created = api.ok("POST", f"/sites/{site}/api-keys", {"name": "crm", "role": "admin"})
    key = created["key"]
    secret = key.rsplit(".", 1)[-1]
    api.ok("POST", f"/sites/{site}/users", {"uuid": "alice"}, token=key)
    api.ok("GET", f"/sites/{site}/users/alice", token=key)
    api.get(f"/sites/{site}/users/nobody", token=key)  # 404
    api.call("POST", f"/sites/{site}/users", raw="{not json", token=key)  # 400
    api.get(f"/sites/{site}", token=key[:-2] + "xx")  # 401 with a near-miss of the secret
    api.get(f"/sites/{site}", token=OPERATOR_TOKEN)
    api.call("DELETE", f"/sites/{site}/api-keys/{created['id']}")
    api.get(f"/sites/{site}", token=key)  # revoked: 401
    text = log_output.getvalue()
    assert text.count("request done") >= 3 and "request refused" in text, "the capture saw nothing: test is void"
    for needle in (key, secret, secret[:16], key[:-2] + "xx", OPERATOR_TOKEN):
        assert needle not in text, f"a secret reached the logs: {needle[:6]}..."
