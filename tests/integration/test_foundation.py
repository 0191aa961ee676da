"""Sites, keys, users, auth and the error shape, through the Chalice test client on moto."""

from __future__ import annotations

import re
from typing import Any

import boto3
import pytest

from chalicelib.store.keys import USERS_SHARDS
from tests.conftest import Api, RequestCounter, make_key


def all_items() -> list[dict[str, Any]]:
    """The table's raw items, read with a client of the test's own (Scan is fine here)."""
    client = boto3.client("dynamodb")
    return client.scan(TableName="gamification-test")["Items"]


def assert_error(data: Any, type_: str, field: str | None = None) -> None:
    assert set(data) == {"error"}
    assert data["error"]["type"] == type_
    assert isinstance(data["error"]["message"], str) and data["error"]["message"]
    if field is not None:
        assert field in [d["field"] for d in data["error"]["details"]], data


def test_health_and_openapi_need_no_token(api: Api) -> None:
    status, data, _ = api.get("/health", token=None)
    assert (status, data) == (200, {"status": "ok"})
    status, doc, _ = api.get("/openapi.json", token=None)
    assert status == 200
    from openapi_spec_validator import validate

    validate(doc)
    assert "/sites/{site}/users/{uuid}" in doc["paths"]
    create = doc["paths"]["/sites/{site}/users"]["post"]
    schema_ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][schema_ref.rsplit("/", 1)[-1]]
    assert schema["additionalProperties"] is False
    assert "uuid" in schema["required"] and "firstName" in schema["properties"]


def test_the_document_declares_headers_security_servers_and_the_uuid_rule(api: Api) -> None:
    """What generated clients need (issue 17): the Idempotency-Key header as a parameter, the 202's
    Location, Retry-After on 429 and 503, security on every operation (none on /health and
    /openapi.json), a server, and the uuid path rule as a pattern."""

    doc = api.ok("GET", "/openapi.json", token=None)
    submit = doc["paths"]["/sites/{site}/activities"]["post"]
    [key] = [p for p in submit["parameters"] if p["in"] == "header"]
    assert key["name"] == "Idempotency-Key" and key["required"] is False
    assert key["schema"] == {"type": "string", "minLength": 1, "maxLength": 128}
    assert submit["responses"]["202"]["headers"]["Location"]["required"] is True
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            assert "security" in op, (method, path)
            assert op["responses"]["503"]["headers"]["Retry-After"]["schema"]["minimum"] == 1
            if "429" in op["responses"]:
                assert "Retry-After" in op["responses"]["429"]["headers"]
    assert doc["paths"]["/health"]["get"]["security"] == []
    assert doc["paths"]["/openapi.json"]["get"]["security"] == []
    assert submit["security"] == [{"bearer": []}]
    assert doc["servers"] == [{"url": ".", "description": "The deployment serving this document"}]
    schemas = doc["components"]["schemas"]
    assert schemas["Activity"]["properties"]["createdAt"]["format"] == "date-time"
    assert set(schemas["Activity"]["properties"]["status"]["enum"]) == {
        "QUEUED", "PROCESSING", "SUCCEEDED", "FAILED", "REJECTED"}
    # Generators key models by title: two schemas with one title made one drop the other's users.
    titles = [schema.get("title") for schema in doc["components"]["schemas"].values() if schema.get("title")]
    assert len(titles) == len(set(titles)), sorted(t for t in titles if titles.count(t) > 1)
    [uuid] = [p for p in doc["paths"]["/sites/{site}/users/{uuid}"]["get"]["parameters"] if p["name"] == "uuid"]
    pattern = re.compile(uuid["schema"]["pattern"])
    assert [v for v in ("alice", "a.b", ".x", "...", ".", "..", "a/b") if pattern.match(v)] == [
        "alice", "a.b", ".x", "..."]


def test_operation_ids_say_what_each_operation_does_and_each_is_unique(api: Api) -> None:
    """Generated clients name their methods after operationIds: `submitActivity`, not a path
    spelled out (`postSitesSiteActivities`); every operation has a tag to group it by."""
    doc = api.ok("GET", "/openapi.json", token=None)
    ops = {(method, path): op for path, operations in doc["paths"].items() for method, op in operations.items()}
    ids = [op["operationId"] for op in ops.values()]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z]+(?:[A-Z][a-z]*)*", i) for i in ids), ids
    assert ops[("post", "/sites/{site}/activities")]["operationId"] == "submitActivity"
    assert ops[("get", "/sites/{site}/point-types")]["operationId"] == "listPointTypes"
    assert ops[("put", "/sites/{site}/point-types/{id}")]["operationId"] == "replacePointType"
    assert ops[("get", "/openapi.json")]["operationId"] == "getOpenapiDocument"
    assert not [i for i in ids if i.startswith(("getSites", "postSites"))]
    assert all(len(op["tags"]) == 1 and op["tags"][0] for op in ops.values())


def test_the_error_type_enum_is_every_error_the_api_answers(api: Api) -> None:
    from typing import get_args

    import chalicelib.api.routing  # noqa: F401  (InternalError lives there)
    from chalicelib import errors
    from chalicelib.models.base import ApiErrorType

    def subclasses(cls: type) -> list[type]:
        return [c for sub in cls.__subclasses__() for c in (sub, *subclasses(sub))]

    raised = {c.type for c in subclasses(errors.ApiError)} | {errors.ApiError.type}
    assert set(get_args(ApiErrorType)) == raised
    doc = api.ok("GET", "/openapi.json", token=None)
    info = doc["components"]["schemas"]["ErrorInfo"]["properties"]["type"]
    assert set(info["enum"]) == raised


def test_uuids_no_url_can_carry_are_refused_at_creation(api: Api, site: str) -> None:
    """`.` and `..` never arrive as a path segment (every URL parser resolves them): refused with
    a 400 on `uuid`, nothing created; `...` and dotted names are fine."""
    for uuid in (".", ".."):
        status, data, _ = api.post(f"/sites/{site}/users", {"uuid": uuid})
        assert status == 400, data
        assert_error(data, "ValidationError", "uuid")
        assert "'.' or '..'" in data["error"]["details"][0]["message"]
    for uuid in ("...", "j.doe", ".hidden"):
        assert api.post(f"/sites/{site}/users", {"uuid": uuid})[0] == 201
    assert {u["uuid"] for u in api.ok("GET", f"/sites/{site}/users?limit=100")["items"]} >= {"...", "j.doe", ".hidden"}


def test_site_lifecycle(api: Api) -> None:
    status, data, _ = api.post("/sites", {"id": "acme", "name": "Acme", "timezone": "America/New_York",
                                          "weekStart": "sunday"})
    assert status == 201
    assert data["id"] == "acme" and data["weekStart"] == "sunday" and data["createdAt"].endswith("Z")
    status, data, _ = api.post("/sites", {"id": "acme", "name": "Again"})
    assert status == 409
    assert_error(data, "AlreadyExists", "id")
    assert api.ok("GET", "/sites/acme")["timezone"] == "America/New_York"
    assert api.ok("PATCH", "/sites/acme", {"timezone": "Europe/Paris"})["timezone"] == "Europe/Paris"
    assert [s["id"] for s in api.ok("GET", "/sites")["items"]] == ["acme"]
    status, data, _ = api.get("/sites/nowhere")
    assert status == 404
    assert_error(data, "SiteNotFound")


@pytest.mark.parametrize(("body", "field"), [
    ({"id": "A!", "name": "x"}, "id"),
    ({"id": "ok-site", "name": "x", "timezone": "Mars/Olympus"}, "timezone"),
    ({"id": "ok-site", "name": "x", "weekStart": "friday"}, "weekStart"),
    ({"id": "ok-site", "name": 5}, "name"),
    ({"id": "ok-site", "name": "x", "colour": "red"}, "colour"),
    ({"name": "x"}, "id"),
    ({"id": "ok-site", "name": "x" * 201}, "name"),
])
def test_site_validation(api: Api, body: dict[str, Any], field: str) -> None:
    status, data, _ = api.post("/sites", body)
    assert status == 400
    assert_error(data, "ValidationError", field)
    assert all_items() == []


def test_bad_json_and_empty_body(api: Api, site: str) -> None:
    status, data, _ = api.call("POST", f"/sites/{site}/users", raw="{not json")
    assert status == 400
    assert_error(data, "ValidationError", "body")
    status, data, _ = api.call("POST", f"/sites/{site}/users", raw="")
    assert status == 400
    assert_error(data, "ValidationError", "body")
    status, data, _ = api.call("POST", f"/sites/{site}/users", raw="[1, 2]")
    assert status == 400


def test_user_crud_and_errors(api: Api, site: str) -> None:
    status, user, _ = api.post(f"/sites/{site}/users", {"uuid": "alice", "firstName": "Alice", "lastName": "Liddell",
                                                        "email": "alice@example.com", "tags": ["sales"]})
    assert status == 201
    assert user == {**user, "uuid": "alice", "member": True, "blocked": False, "tags": ["sales"], "displayName": ""}
    status, data, _ = api.post(f"/sites/{site}/users", {"uuid": "alice"})
    assert status == 409
    assert_error(data, "AlreadyExists", "uuid")
    patched = api.ok("PATCH", f"/sites/{site}/users/alice", {"displayName": "Alice L.", "tags": ["sales", "beta"]})
    assert patched["displayName"] == "Alice L." and patched["firstName"] == "Alice"
    assert api.ok("GET", f"/sites/{site}/users/alice") == patched
    status, data, _ = api.get(f"/sites/{site}/users/nobody")
    assert status == 404
    assert_error(data, "UserNotFound")
    status, data, _ = api.call("PATCH", f"/sites/{site}/users/nobody", {"displayName": 5})
    assert status == 404, "404 comes before 400"


@pytest.mark.parametrize(("body", "field"), [
    ({"uuid": "bad\u0007uuid"}, "uuid"),
    ({"uuid": "a/b"}, "uuid"),
    ({"uuid": ""}, "uuid"),
    ({"uuid": "x" * 129}, "uuid"),
    ({"uuid": "ok", "firstName": "y" * 201}, "firstName"),
    ({"uuid": "ok", "email": "not-an-email"}, "email"),
    ({"uuid": "ok", "tags": "sales"}, "tags"),
    ({"uuid": "ok", "tags": [1]}, "tags.0"),
    ({"uuid": "ok", "member": "yes"}, "member"),
    ({"uuid": "ok", "shoeSize": 44}, "shoeSize"),
    ({"uuid": 12}, "uuid"),
])
def test_user_validation_names_the_field(api: Api, site: str, body: dict[str, Any], field: str) -> None:
    before = all_items()
    status, data, _ = api.post(f"/sites/{site}/users", body)
    assert status == 400
    assert_error(data, "ValidationError", field)
    assert all_items() == before, "a failed request writes nothing"


def test_percent_encoded_uuid_in_path(api: Api, site: str) -> None:
    api.ok("POST", f"/sites/{site}/users", {"uuid": "jo smith@x"})
    assert api.ok("GET", f"/sites/{site}/users/jo%20smith%40x")["uuid"] == "jo smith@x"
    status, _data, _ = api.get(f"/sites/{site}/users/bad%07uuid")
    assert status == 404


def test_block_then_unblock_keeps_every_field(api: Api, site: str) -> None:
    original = api.ok("POST", f"/sites/{site}/users", {
        "uuid": "bob", "firstName": "Bob", "lastName": "B", "displayName": "Bobby", "email": "b@x.io",
        "pictureUrl": "https://x.io/b.png", "tags": ["a", "b"], "member": True})
    api.ok("PUT", f"/sites/{site}/users/bob/settings", {
        "notifications": {"rewards": False, "points": True, "gifts": True, "coupons": True, "bounties": True,
                          "kpis": True, "leaderboards": False},
        "optIns": {"member": True, "showOnLeaderboards": False, "marketing": True}})
    settings_before = api.ok("GET", f"/sites/{site}/users/bob/settings")
    blocked = api.ok("POST", f"/sites/{site}/users/bob/block")
    assert blocked == {**original, "blocked": True}
    unblocked = api.ok("POST", f"/sites/{site}/users/bob/unblock")
    assert unblocked == original
    assert api.ok("GET", f"/sites/{site}/users/bob/settings") == settings_before
    status, data, _ = api.post(f"/sites/{site}/users/ghost/block")
    assert status == 404
    assert_error(data, "UserNotFound")


def test_settings_round_trip_and_member_flag(api: Api, site: str) -> None:
    api.ok("POST", f"/sites/{site}/users", {"uuid": "carol"})
    body = api.ok("GET", f"/sites/{site}/users/carol/settings")
    assert body["optIns"] == {"member": True, "showOnLeaderboards": True, "marketing": False}
    assert set(body["notifications"]) == {"rewards", "points", "gifts", "coupons", "bounties", "kpis", "leaderboards"}
    body["optIns"]["member"] = False
    assert api.ok("PUT", f"/sites/{site}/users/carol/settings", body) == body
    assert api.ok("GET", f"/sites/{site}/users/carol")["member"] is False
    api.ok("PATCH", f"/sites/{site}/users/carol", {"member": True})
    assert api.ok("GET", f"/sites/{site}/users/carol/settings")["optIns"]["member"] is True
    status, data, _ = api.call("PUT", f"/sites/{site}/users/carol/settings", {"notifications": {"sms": True}})
    assert status == 400
    assert_error(data, "ValidationError", "notifications.sms")


def seed_users(api: Api, site: str) -> None:
    people = [("alice", "Alice", "Liddell", "alice@example.com", ["sales"]),
              ("bob", "Bob", "Builder", "bob@example.com", ["sales", "beta"]),
              ("carol", "Carol", "Danvers", "zed@example.com", []),
              ("dave", "Dave", "Grohl", "dave@example.com", ["beta"]),
              ("erin", "Erin", "Brockovich", "erin@example.com", [])]
    for uuid, first, last, email, tags in people:
        api.ok("POST", f"/sites/{site}/users", {"uuid": uuid, "firstName": first, "lastName": last,
                                                "displayName": f"{first} {last[0]}.", "email": email, "tags": tags})
    api.ok("POST", f"/sites/{site}/users/dave/block")


def uuids(data: Any) -> list[str]:
    return [u["uuid"] for u in data["items"]]


def test_user_list_search_sort_filter_page(api: Api, site: str, requests_counter: RequestCounter) -> None:
    seed_users(api, site)
    base = f"/sites/{site}/users"
    assert uuids(api.ok("GET", base)) == ["alice", "bob", "carol", "dave", "erin"]
    assert uuids(api.ok("GET", base + "?order=desc")) == ["erin", "dave", "carol", "bob", "alice"]
    assert uuids(api.ok("GET", base + "?sort=email")) == ["alice", "bob", "dave", "erin", "carol"]
    assert uuids(api.ok("GET", base + "?sort=displayName&order=desc"))[0] == "erin"
    assert uuids(api.ok("GET", base + "?sort=createdAt")) == ["alice", "bob", "carol", "dave", "erin"]
    assert uuids(api.ok("GET", base + "?q=lidd")) == ["alice"]
    assert uuids(api.ok("GET", base + "?q=BUILD")) == ["bob"]
    assert uuids(api.ok("GET", base + "?blocked=true")) == ["dave"]
    assert uuids(api.ok("GET", base + "?tag=beta")) == ["bob", "dave"]
    assert uuids(api.ok("GET", base + "?tag=beta&blocked=false")) == ["bob"]
    requests_counter.reset()
    first = api.ok("GET", base + "?limit=2")
    assert uuids(first) == ["alice", "bob"] and first["nextCursor"]
    # The site is cached; a first page is one Query per partition of the users index (its 16
    # shards and the partition before them), a later one only of those not read to their end.
    assert requests_counter.calls == ["Query"] * (USERS_SHARDS + 1)
    requests_counter.reset()
    second = api.ok("GET", base + f"?limit=2&cursor={first['nextCursor']}")
    assert uuids(second) == ["carol", "dave"]
    assert set(requests_counter.calls) == {"Query"} and len(requests_counter.calls) < USERS_SHARDS
    third = api.ok("GET", base + f"?limit=2&cursor={second['nextCursor']}")
    assert uuids(third) == ["erin"]


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=abc", "sort=age", "order=up",
                                   "blocked=maybe", "cursor=%%%", "cursor=eyJ4IjoxfQ"])
def test_user_list_bad_queries(api: Api, site: str, query: str) -> None:
    status, data, _ = api.get(f"/sites/{site}/users?{query}")
    assert status == 400
    assert_error(data, "ValidationError", query.split("=")[0])


def test_keys_are_hashed_scoped_and_revocable(api: Api, site: str) -> None:
    api.ok("POST", "/sites", {"id": "other", "name": "Other"})
    created = api.ok("POST", f"/sites/{site}/api-keys", {"name": "crm", "role": "editor"})
    token = created["key"]
    assert set(created) >= {"id", "name", "role", "key"}
    raw = str(all_items())
    assert token not in raw and token.rsplit(".", 1)[-1] not in raw, "the secret is stored only as a hash"
    listed = api.ok("GET", f"/sites/{site}/api-keys")["items"]
    assert [k["id"] for k in listed] == [created["id"]] and "key" not in listed[0] and "hash" not in listed[0]
    assert api.ok("POST", f"/sites/{site}/users", {"uuid": "u1"}, token=token)["uuid"] == "u1"
    status, data, _ = api.get("/sites/other/users", token=token)
    assert status == 403
    assert_error(data, "Forbidden")
    status, _, _ = api.get("/sites/does-not-exist/users", token=token)
    assert status == 403, "a site the key does not grant is 403 whether it exists or not"
    status, _, _ = api.call("DELETE", f"/sites/{site}/api-keys/{created['id']}")
    assert status == 204
    status, data, _ = api.get(f"/sites/{site}/users", token=token)
    assert status == 401
    assert_error(data, "Unauthorized")
    status, _, _ = api.call("DELETE", f"/sites/{site}/api-keys/nope")
    assert status == 404


def test_roles(api: Api, site: str) -> None:
    viewer, editor, admin = (make_key(api, site, r) for r in ("viewer", "editor", "admin"))
    assert api.get(f"/sites/{site}/users", token=viewer)[0] == 200
    assert api.post(f"/sites/{site}/users", {"uuid": "x"}, token=viewer)[0] == 403
    assert api.post(f"/sites/{site}/users", {"uuid": "x"}, token=editor)[0] == 201
    assert api.post(f"/sites/{site}/users/x/block", token=editor)[0] == 403
    assert api.post(f"/sites/{site}/users/x/block", token=admin)[0] == 200
    assert api.post(f"/sites/{site}/api-keys", {"name": "k", "role": "viewer"}, token=editor)[0] == 403
    assert api.post("/sites", {"id": "new-site", "name": "N"}, token=admin)[0] == 403
    assert [s["id"] for s in api.ok("GET", "/sites", token=viewer)["items"]] == [site]
    assert api.ok("GET", "/whoami", token=viewer) == {"role": "viewer", "site": site, "keyId": viewer.split(".")[2]}


def _concrete(path: str, site: str) -> str:
    return re.sub(r"{(\w+)}", lambda m: site if m.group(1) == "site" else "x", path)


def test_every_route_refuses_missing_bad_and_foreign_tokens(api: Api, site: str) -> None:
    from chalicelib.api.routing import ROUTES

    api.ok("POST", "/sites", {"id": "other", "name": "Other"})
    foreign = make_key(api, "other", "admin")
    checked = 0
    for spec in ROUTES:
        if spec.role is None:
            continue
        path = _concrete(spec.path, site)
        for token, expected in ((None, 401), ("garbage", 401), ("gk.acme.nokey.secret", 401)):
            status, data, _ = api.call(spec.method, path, {}, token=token)
            assert status == expected, (spec.method, spec.path, token, status)
            assert_error(data, "Unauthorized")
        if "{site}" in spec.path or spec.role == "operator":
            status, data, _ = api.call(spec.method, path, {}, token=foreign)
            assert status == 403, (spec.method, spec.path, status)
            assert_error(data, "Forbidden")
        checked += 1
    assert checked >= 15


def test_unknown_route_uses_error_shape(api: Api) -> None:
    status, _data, _ = api.get("/no/such/thing")
    assert status in (403, 404)
