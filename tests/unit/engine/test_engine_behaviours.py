import datetime as dt
from typing import Any

import pytest
from _engine_fixtures import flexible, point, simple, site, utc

from chalicelib.engine.behaviours import BehaviourUsage, apply_tags, condition_matches, evaluate_behaviour
from chalicelib.engine.errors import UnknownBehaviour
from chalicelib.models.mechanics import BEHAVIOUR_ADAPTER, ConditionLeaf, FlexibleBehaviour


def leaf(key: str, op: str, value: Any) -> ConditionLeaf:
    return ConditionLeaf.model_validate({"key": key, "op": op, "value": value})


def cond(body: dict[str, Any]) -> Any:
    b = flexible("f", "v", body)
    assert isinstance(b, FlexibleBehaviour)
    return b.conditions


@pytest.mark.parametrize(
    ("op", "value", "actual", "expected"),
    [
        ("eq", "tv", "tv", True),
        ("eq", "tv", "radio", False),
        ("ne", "tv", "radio", True),
        ("ne", "tv", "tv", False),
        ("gt", 3, 4, True),
        ("gt", 3, 3, False),
        ("gte", 3, 3, True),
        ("lt", 3, 2.5, True),
        ("lt", 3, 3, False),
        ("lte", 3, 3, True),
        ("gt", "b", "c", True),
        ("in", ["tv", "radio"], "radio", True),
        ("in", ["tv", "radio"], "news", False),
        ("contains", "cat", "concatenate", True),
        ("contains", "dog", "concatenate", False),
        ("before", "2026-03-01", "2026-02-28", True),
        ("before", "2026-03-01", "2026-03-01", False),
        ("after", "2026-03-01T10:00:00Z", "2026-03-01T10:00:01Z", True),
        ("after", "2026-03-01T10:00:00Z", "2026-03-01T09:59:59+00:00", False),
        ("on", "2026-03-01", "2026-03-01T23:59:59Z", True),
        ("on", "2026-03-01", "2026-03-02T00:00:00Z", False),
    ],
)
def test_every_op(op: str, value: Any, actual: Any, expected: bool) -> None:
    assert condition_matches(leaf("k", op, value), {"k": actual}) is expected


@pytest.mark.parametrize(
    ("op", "value", "actual"),
    [
        ("gt", 3, "5"),  # a numeric string is not a number
        ("eq", 5, "5"),
        ("eq", "5", 5),
        ("eq", 1, True),  # booleans are not numbers
        ("ne", "tv", 5),  # a mismatch does not match, even for ne
        ("gt", True, False),
        ("contains", "a", 5),
        ("in", [1, 2], "1"),
        ("before", "2026-03-01", 20260228),
        ("before", "2026-03-01", "yesterday"),
        ("eq", "x", None),
        ("eq", "x", {"nested": "x"}),
    ],
)
def test_a_type_mismatch_simply_does_not_match(op: str, value: Any, actual: Any) -> None:
    assert condition_matches(leaf("k", op, value), {"k": actual}) is False


def test_a_list_value_matches_when_any_element_does() -> None:
    assert condition_matches(leaf("category", "in", ["tv"]), {"category": ["news", "tv"]})
    assert condition_matches(leaf("category", "eq", "tv"), {"category": ["news", "tv"]})
    assert not condition_matches(leaf("category", "eq", "tv"), {"category": ["news", "sport"]})
    assert condition_matches(leaf("score", "gt", 10), {"score": [1, "x", 11]})
    assert not condition_matches(leaf("score", "gt", 10), {"score": []})


def test_missing_key_never_matches() -> None:
    assert not condition_matches(leaf("k", "ne", "x"), {})
    assert not condition_matches(leaf("k", "eq", "x"), {"other": "x"})


def test_dotted_keys_reach_nested_metadata() -> None:
    assert condition_matches(leaf("device.os", "eq", "ios"), {"device": {"os": "ios"}})
    assert not condition_matches(leaf("device.os", "eq", "ios"), {"device": "ios"})


def test_and_or_trees() -> None:
    tree = cond(
        {
            "and": [
                {"key": "a", "op": "eq", "value": 1},
                {"or": [{"key": "b", "op": "gt", "value": 5}, {"key": "c", "op": "in", "value": ["x"]}]},
            ]
        }
    )
    assert condition_matches(tree, {"a": 1, "b": 6})
    assert condition_matches(tree, {"a": 1, "c": "x"})
    assert not condition_matches(tree, {"a": 1, "b": 5, "c": "y"})
    assert not condition_matches(tree, {"a": 2, "b": 6})


def test_on_compares_dates_in_the_site_zone() -> None:
    # 23:30 UTC on 1 March is 2 March in Berlin.
    c = leaf("when", "on", "2026-03-02")
    assert condition_matches(c, {"when": "2026-03-01T23:30:00Z"}, "Europe/Berlin")
    assert not condition_matches(c, {"when": "2026-03-01T23:30:00Z"}, "UTC")


# ---------------------------------------------------------------- evaluate_behaviour

XP = point("xp")
COINS = point("coins")
NOW = utc(2026, 3, 1, 12)


def video_site(**simple_extra: Any) -> Any:
    return site(
        point_types=[XP, COINS],
        behaviours=[
            simple("watch_video", points={"xp": 10}, **simple_extra),
            flexible(
                "watch_tv",
                "watch_video",
                {"and": [{"key": "category", "op": "in", "value": ["tv"]}]},
                {"xp": 5, "coins": 1},
            ),
            flexible(
                "watch_long",
                "watch_video",
                {"and": [{"key": "minutes", "op": "gte", "value": 30}]},
                {"xp": 7},
            ),
            simple("other", points={"coins": 100}),
        ],
    )


def test_simple_and_matching_flexible_children_are_awarded_and_points_summed() -> None:
    out = evaluate_behaviour(video_site(), "watch_video", {"category": ["news", "tv"]}, NOW, "UTC", {})
    assert [a.behaviour_id for a in out.awarded] == ["watch_video", "watch_tv"]
    assert out.points == {"xp": 15, "coins": 1}
    assert out.exceptions == []
    assert out.usage["watch_video"] == BehaviourUsage(1, {}, NOW)

    out = evaluate_behaviour(video_site(), "watch_video", {"category": "news", "minutes": 45}, NOW, "UTC", {})
    assert [a.behaviour_id for a in out.awarded] == ["watch_video", "watch_long"]
    assert out.points == {"xp": 17}


def test_unknown_verb_fails() -> None:
    with pytest.raises(UnknownBehaviour) as err:
        evaluate_behaviour(video_site(), "nope", {}, NOW, "UTC", {})
    assert err.value.type == "UnknownBehaviour"


def test_periodic_limit_resets_at_local_midnight_not_utc_midnight() -> None:
    s = video_site(limits={"periodic": {"period": "day", "max": 2}})
    usage = {"watch_video": BehaviourUsage(2, {"day:2026-03-01": 2}, utc(2026, 3, 1, 10))}
    # 22:59 UTC is 23:59 in Berlin: still 1 March, limit reached.
    late = evaluate_behaviour(s, "watch_video", {}, utc(2026, 3, 1, 22, 59), "Europe/Berlin", usage)
    assert late.awarded == []
    assert [(e.type, e.behaviour_id, e.verb) for e in late.exceptions] == [
        ("LimitReached", "watch_video", "watch_video")
    ]
    assert late.points == {}
    # 23:00 UTC is 00:00 on 2 March in Berlin: a new day.
    after = evaluate_behaviour(s, "watch_video", {}, utc(2026, 3, 1, 23, 0), "Europe/Berlin", usage)
    assert after.points == {"xp": 10}
    assert after.usage["watch_video"].by_period == {"day:2026-03-01": 2, "day:2026-03-02": 1}
    assert after.usage_period_keys == {"watch_video": "day:2026-03-02"}
    # A UTC site is still on 1 March at 23:00 UTC: limit reached.
    utc_site = evaluate_behaviour(s, "watch_video", {}, utc(2026, 3, 1, 23, 0), "UTC", usage)
    assert utc_site.awarded == []


def test_weekly_limit_with_sunday_weeks() -> None:
    s = video_site(limits={"periodic": {"period": "week", "max": 1}})
    usage = {"watch_video": BehaviourUsage(1, {"week:2026-11-22": 1}, utc(2026, 11, 23))}
    # Sunday 29 November starts a new week for a Sunday site, not for a Monday one.
    sunday = utc(2026, 11, 29, 9)
    assert evaluate_behaviour(s, "watch_video", {}, sunday, "UTC", usage, "sunday").points == {"xp": 10}
    usage_monday = {"watch_video": BehaviourUsage(1, {"week:2026-11-23": 1}, utc(2026, 11, 23))}
    assert evaluate_behaviour(s, "watch_video", {}, sunday, "UTC", usage_monday, "monday").awarded == []


def test_overall_limit() -> None:
    s = video_site(limits={"overall": 3})
    out = evaluate_behaviour(s, "watch_video", {}, NOW, "UTC", {"watch_video": BehaviourUsage(3)})
    assert out.exceptions[0].type == "LimitReached"
    assert "at most 3 times" in out.exceptions[0].message
    assert evaluate_behaviour(
        s, "watch_video", {}, NOW, "UTC", {"watch_video": BehaviourUsage(2)}
    ).points == {"xp": 10}


def test_cool_off() -> None:
    s = video_site(limits={"coolOffSeconds": 60})
    recent = {"watch_video": BehaviourUsage(1, {}, NOW - dt.timedelta(seconds=30))}
    out = evaluate_behaviour(s, "watch_video", {}, NOW, "UTC", recent)
    assert [e.type for e in out.exceptions] == ["CoolOff"]
    done = {"watch_video": BehaviourUsage(1, {}, NOW - dt.timedelta(seconds=60))}
    assert evaluate_behaviour(s, "watch_video", {}, NOW, "UTC", done).points == {"xp": 10}


def test_a_limited_parent_does_not_hold_back_a_matching_child() -> None:
    s = video_site(limits={"overall": 1})
    out = evaluate_behaviour(
        s, "watch_video", {"category": "tv"}, NOW, "UTC", {"watch_video": BehaviourUsage(1)}
    )
    assert [a.behaviour_id for a in out.awarded] == ["watch_tv"]
    assert [e.behaviour_id for e in out.exceptions] == ["watch_video"]
    assert out.points == {"xp": 5, "coins": 1}
    assert set(out.usage) == {"watch_tv"}


def test_tag_prizes_later_behaviour_wins() -> None:
    s = site(
        point_types=[XP],
        behaviours=[
            BEHAVIOUR_ADAPTER.validate_python(
                {
                    "id": "login",
                    "kind": "simple",
                    "verb": "login",
                    "name": "Log in",
                    "prizes": {"addTags": ["active", "new"]},
                }
            ),
            BEHAVIOUR_ADAPTER.validate_python(
                {
                    "id": "login_old",
                    "kind": "flexible",
                    "verb": "login",
                    "name": "Log in after a month",
                    "conditions": {"and": [{"key": "days", "op": "gt", "value": 30}]},
                    "prizes": {"removeTags": ["new"]},
                }
            ),
        ],
    )
    fresh = evaluate_behaviour(s, "login", {"days": 3}, NOW, "UTC", {})
    assert (fresh.add_tags, fresh.remove_tags) == (["active", "new"], [])
    old = evaluate_behaviour(s, "login", {"days": 31}, NOW, "UTC", {})
    assert (old.add_tags, old.remove_tags) == (["active"], ["new"])
    assert apply_tags(["vip", "new"], old.add_tags, old.remove_tags) == ["vip", "active"]
