"""Mechanics configuration through the API: CRUD, and every refusal naming its field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.builders import BINGE, BOARD, COINS, STARTER, TSHIRT, WATCH, WATCH_TV, configure, kpi
from tests.conftest import Api, make_key


def test_crud(api: Api, site: str) -> None:
    configure(api, site)
    assert [m["id"] for m in api.ok("GET", f"/sites/{site}/behaviours")["items"]] == ["watch_tv", "watch_video"]
    assert api.ok("GET", f"/sites/{site}/rewards/binge")["criteria"] == [{"verb": "watch_video", "times": 3}]
    changed = {**BINGE, "criteria": [{"verb": "watch_video", "times": 5}]}
    assert api.ok("PUT", f"/sites/{site}/rewards/binge", changed)["criteria"][0]["times"] == 5
    status, _data, _ = api.call("PUT", f"/sites/{site}/rewards/nope", {**BINGE, "id": "nope"})
    assert status == 404
    status, _, _ = api.call("DELETE", f"/sites/{site}/leaderboards/xp_board")
    assert status == 204
    assert api.get(f"/sites/{site}/leaderboards/xp_board")[0] == 404
    viewer = make_key(api, site, "viewer")
    assert api.get(f"/sites/{site}/rewards", token=viewer)[0] == 200
    assert api.post(f"/sites/{site}/rewards", {**BINGE, "id": "b2"}, token=viewer)[0] == 403


def refused(api: Api, site: str, kind: str, body: dict[str, Any], status: int, type_: str, field: str,
            method: str = "POST") -> None:
    path = f"/sites/{site}/{kind}" + (f"/{body['id']}" if method == "PUT" else "")
    got, data, _ = api.call(method, path, body)
    assert got == status, data
    assert data["error"]["type"] == type_
    fields = [d["field"] for d in data["error"]["details"]]
    assert any(f == field or f.startswith(field + ".") for f in fields), (field, data)


@pytest.mark.parametrize(("kind", "body", "status", "type_", "field"), [
    ("rewards", {**BINGE, "id": "b2", "criteria": [{"verb": "dance", "times": 1}]}, 400, "ValidationError",
     "criteria.0.verb"),
    ("rewards", {**STARTER, "id": "m2", "criteria": [{"rewardId": "ghost"}]}, 400, "ValidationError",
     "criteria.0.rewardId"),
    ("rewards", {**STARTER, "id": "m3", "criteria": [{"rewardId": "m3"}]}, 400, "ValidationError", "criteria"),
    ("coupons", {**TSHIRT, "id": "mug", "code": "MUG", "price": {"pointId": "xp", "points": 5}}, 400,
     "ValidationError", "price.pointId"),
    ("coupons", {**TSHIRT, "id": "mug", "code": "TSHIRT"}, 409, "AlreadyExists", "code"),
    ("behaviours", {**WATCH, "id": "watch2"}, 409, "AlreadyExists", "verb"),
    ("behaviours", {**WATCH_TV, "id": "flex2", "verb": "no_such_verb"}, 400, "ValidationError", "verb"),
    ("behaviours", {**WATCH, "id": "w3", "verb": "w3", "prizes": {"points": [{"pointId": "gold", "points": 1}]}},
     400, "ValidationError", "prizes.points.0.pointId"),
    # built when the test runs, around the day it runs on
    pytest.param("kpis", lambda: {**kpi(), "id": "k2", "targets": kpi()["targets"] * 2}, 409, "TargetsOverlap",
                 "targets", marks=pytest.mark.dates),
    ("point-types", {"id": "gems", "name": "Gems", "expirable": True}, 400, "ValidationError", "expiresAfterDays"),
    ("point-types", {"id": "gems", "name": "Gems", "colour": "red"}, 400, "ValidationError", "colour"),
    ("leaderboards", {**BOARD, "id": "b2", "periods": ["hourly"]}, 400, "ValidationError", "periods.0"),
    ("rewards", {**BINGE}, 409, "AlreadyExists", "id"),
])
def test_configuration_refusals(api: Api, site: str, kind: str,
                                body: dict[str, Any] | Callable[[], dict[str, Any]], status: int,
                                type_: str, field: str) -> None:
    configure(api, site)
    refused(api, site, kind, body() if callable(body) else body, status, type_, field)


def test_mission_cycle_through_put_is_refused(api: Api, site: str) -> None:
    configure(api, site)
    api.ok("POST", f"/sites/{site}/rewards", {"id": "outer", "kind": "mission", "name": "Outer",
                                              "criteria": [{"rewardId": "starter"}]})
    cyclic = {**STARTER, "criteria": [{"rewardId": "binge"}, {"rewardId": "outer"}]}
    refused(api, site, "rewards", cyclic, 400, "ValidationError", "criteria", method="PUT")


def test_price_on_type_made_non_redeemable_is_refused(api: Api, site: str) -> None:
    configure(api, site)
    status, data, _ = api.call("PUT", f"/sites/{site}/point-types/coins", {**COINS, "redeemable": False})
    assert status in (400, 409), data
    assert data["error"]["details"]


def test_delete_of_referenced_mechanic_names_referrers(api: Api, site: str) -> None:
    configure(api, site)
    status, data, _ = api.call("DELETE", f"/sites/{site}/rewards/binge")
    assert status == 409
    assert data["error"]["type"] == "ReferencedBy"
    assert "rewards/starter" in str(data["error"]["details"])
    status, data, _ = api.call("DELETE", f"/sites/{site}/point-types/xp")
    assert status == 409
    named = str(data["error"]["details"])
    assert "behaviours/watch_video" in named and "kpis/xp_goal" in named and "leaderboards/xp_board" in named
    assert api.get(f"/sites/{site}/point-types/xp")[0] == 200
