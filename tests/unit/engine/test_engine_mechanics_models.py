from typing import Any

import pytest
from pydantic import ValidationError

from chalicelib.models.mechanics import SiteMechanics, error_field, parse_mechanic


def error_locs(kind: Any, body: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as err:
        parse_mechanic(kind, body)
    return [error_field(e["loc"]) for e in err.value.errors()]


def test_api_examples_parse_and_round_trip() -> None:
    body = {
        "id": "watch_video",
        "kind": "simple",
        "verb": "watch_video",
        "name": "Watch a video",
        "prizes": {"points": [{"pointId": "xp", "points": 10}], "addTags": [], "removeTags": []},
        "limits": {"overall": None, "periodic": {"period": "day", "max": 5}, "coolOffSeconds": 0},
        "message": "",
        "hint": "",
        "hidden": False,
    }
    assert parse_mechanic("behaviours", body).wire() == body
    tshirt = {
        "id": "tshirt",
        "name": "T-shirt",
        "codeType": "single",
        "code": "TSHIRT",
        "price": {"pointId": "coins", "points": 30},
        "redemption": "twoStep",
        "expiresAfterDays": 30,
        "active": True,
        "limitedSeries": None,
        "perUserLimit": None,
    }
    assert parse_mechanic("coupons", tshirt).wire()["price"] == {"pointId": "coins", "points": 30}


def test_strict_types_and_closed_bodies() -> None:
    assert error_locs("point-types", {"id": "xp", "name": "XP", "redeemable": "yes"}) == ["redeemable"]
    assert error_locs("point-types", {"id": "xp", "name": "XP", "colour": "red"}) == ["colour"]
    assert "criteria.0.times" in error_locs(
        "rewards", {"id": "a", "kind": "achievement", "name": "A", "criteria": [{"verb": "v", "times": "3"}]}
    )
    assert "prizes.points.0.points" in error_locs(
        "behaviours",
        {
            "id": "b",
            "kind": "simple",
            "verb": "b",
            "name": "B",
            "prizes": {"points": [{"pointId": "xp", "points": 0}]},
        },
    )


def test_id_verb_and_name_limits() -> None:
    assert error_locs("point-types", {"id": "Bad Id", "name": "X"}) == ["id"]
    assert error_locs("point-types", {"id": "x" * 65, "name": "X"}) == ["id"]
    assert error_locs("point-types", {"id": "xp", "name": "n" * 201}) == ["name"]
    assert error_locs("behaviours", {"id": "b", "kind": "simple", "verb": "Watch-Video", "name": "B"}) == [
        "verb"
    ]


def test_condition_values_fit_their_op() -> None:
    base = {"id": "f", "kind": "flexible", "verb": "v", "name": "F"}
    for leaf in (
        {"key": "c", "op": "in", "value": "tv"},
        {"key": "c", "op": "eq", "value": ["tv"]},
        {"key": "c", "op": "before", "value": "soon"},
        {"key": "c", "op": "like", "value": "x"},
    ):
        with pytest.raises(ValidationError):
            parse_mechanic("behaviours", {**base, "conditions": {"and": [leaf]}})
    deep: dict[str, Any] = {"key": "c", "op": "eq", "value": 1}
    for _ in range(7):
        deep = {"or": [deep]}
    with pytest.raises(ValidationError):
        parse_mechanic("behaviours", {**base, "conditions": deep})


def test_error_fields_follow_the_wire_shape() -> None:
    body = {
        "id": "f",
        "kind": "flexible",
        "verb": "v",
        "name": "F",
        "conditions": {
            "and": [{"key": "c", "op": "eq", "value": 1}, {"or": [{"key": "d", "op": "nope", "value": 1}]}]
        },
    }
    assert error_locs("behaviours", body) == ["conditions.and.1.or.0.op"]


def test_coupon_code_rules() -> None:
    with pytest.raises(ValidationError):
        parse_mechanic("coupons", {"id": "c", "name": "C", "codeType": "single", "codes": ["A"]})
    with pytest.raises(ValidationError):
        parse_mechanic("coupons", {"id": "c", "name": "C", "codeType": "multiple", "code": "A"})
    with pytest.raises(ValidationError):
        parse_mechanic(
            "coupons",
            {
                "id": "c",
                "name": "C",
                "codeType": "single",
                "code": "A",
                "expiresOn": "2026-01-01",
                "expiresAfterDays": 3,
            },
        )


def test_reward_shape_rules() -> None:
    with pytest.raises(ValidationError):
        parse_mechanic(
            "rewards", {"id": "m", "kind": "mission", "name": "M", "criteria": [{"rewardId": "m"}]}
        )
    with pytest.raises(ValidationError):
        parse_mechanic(
            "rewards",
            {
                "id": "a",
                "kind": "achievement",
                "name": "A",
                "criteria": [{"verb": "v", "times": 1}],
                "availableFrom": "2026-02-01",
                "availableTo": "2026-01-01",
            },
        )
    with pytest.raises(ValidationError):
        parse_mechanic(
            "kpis",
            {
                "id": "k",
                "name": "K",
                "tracks": {"points": "xp"},
                "targets": [
                    {
                        "validFrom": "2026-01-01T00:00:00Z",
                        "validTo": "2026-02-01",
                        "assignTo": {"everyone": True},
                        "values": {"daily": 1},
                    }
                ],
            },
        )


def test_site_mechanics_lookups() -> None:
    s = SiteMechanics.from_wire(
        {
            "behaviours": [
                {
                    "id": "tv",
                    "kind": "flexible",
                    "verb": "watch",
                    "name": "TV",
                    "conditions": {"key": "c", "op": "eq", "value": "tv"},
                },
                {"id": "watch", "kind": "simple", "verb": "watch", "name": "Watch"},
            ],
            "rewards": [
                {"id": "a", "kind": "achievement", "name": "A", "criteria": [{"verb": "watch", "times": 1}]}
            ],
        }
    )
    assert [b.id for b in s.behaviours_for_verb("watch")] == ["watch", "tv"]
    assert s.behaviours_for_verb("nope") == []
    assert [r.id for r in s.achievements_by_verb["watch"]] == ["a"]
    assert s.without_mechanic("behaviours", "watch").behaviours_for_verb("watch")[0].id == "tv"
