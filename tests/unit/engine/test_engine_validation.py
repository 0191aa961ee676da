from typing import Any

import pytest
from _engine_fixtures import board, coupon, flexible, kpi, point, reward, simple, site

from chalicelib.engine.validation import Problem, referrers, validate_delete, validate_mechanic
from chalicelib.models.mechanics import SiteMechanics


def base() -> SiteMechanics:
    return site(
        point_types=[point("xp"), point("coins", redeemable=True)],
        behaviours=[
            simple("watch_video", points={"xp": 10}),
            flexible("watch_tv", "watch_video", {"and": [{"key": "c", "op": "eq", "value": "tv"}]}),
        ],
        rewards=[
            reward(
                {
                    "id": "binge",
                    "kind": "achievement",
                    "criteria": [{"verb": "watch_video", "times": 3}],
                    "prizes": {"coupons": ["tshirt"]},
                }
            ),
            reward(
                {
                    "id": "silver",
                    "kind": "level",
                    "ladder": "status",
                    "criteria": [{"pointId": "xp", "points": 100}],
                }
            ),
            reward(
                {
                    "id": "starter",
                    "kind": "mission",
                    "criteria": [{"rewardId": "binge"}, {"rewardId": "silver"}],
                }
            ),
            reward({"id": "thanks", "kind": "gift"}),
        ],
        kpis=[
            kpi({"id": "videos", "tracks": {"behaviour": "watch_video"}}),
            kpi({"id": "starters", "tracks": {"reward": "starter"}}),
        ],
        coupons=[
            coupon(
                {
                    "id": "tshirt",
                    "codeType": "single",
                    "code": "TSHIRT",
                    "price": {"pointId": "coins", "points": 30},
                }
            ),
            coupon({"id": "mugs", "codeType": "multiple", "codes": ["M1", "M2"]}),
        ],
        leaderboards=[
            board({"id": "xp_board", "ranksBy": {"points": "xp"}, "periods": ["weekly"]}),
            board({"id": "viewers", "ranksBy": {"behaviour": "watch_video"}, "periods": ["allTime"]}),
        ],
    )


def only(problems: list[Problem]) -> tuple[str, int, str]:
    assert len(problems) == 1, problems
    return problems[0].field, problems[0].status, problems[0].type


def test_a_valid_site_passes_every_mechanic() -> None:
    s = base()
    for kind, mechanic in s:
        assert validate_mechanic(kind, mechanic, s) == [], (kind, mechanic.id)


def test_creating_an_existing_id_is_already_exists() -> None:
    assert only(validate_mechanic("point-types", point("xp"), base(), creating=True)) == (
        "id",
        409,
        "AlreadyExists",
    )


# ---------------------------------------------------------------- point types


@pytest.mark.parametrize(
    ("flags", "field"),
    [
        ({"expirable": True}, "expiresAfterDays"),
        ({"expiresAfterDays": 5}, "expiresAfterDays"),
        ({"expirable": True, "expiresAfterDays": 5, "negativeable": True}, "negativeable"),
        ({"negativeable": True, "stopAtZero": True}, "stopAtZero"),
    ],
)
def test_point_type_flag_rules(flags: dict[str, Any], field: str) -> None:
    assert only(validate_mechanic("point-types", point("gems", **flags), base())) == (
        field,
        400,
        "ValidationError",
    )


def test_a_priced_point_type_must_stay_redeemable() -> None:
    problems = validate_mechanic("point-types", point("coins", redeemable=False), base())
    assert only(problems) == ("redeemable", 400, "ValidationError")
    assert "coupons/tshirt" in problems[0].message


# ---------------------------------------------------------------- behaviours


def test_unknown_point_type_in_a_behaviour_prize() -> None:
    b = simple("share", points={"xp": 1, "gold": 5})
    assert only(validate_mechanic("behaviours", b, base())) == (
        "prizes.points.1.pointId",
        400,
        "ValidationError",
    )


def test_duplicate_verb_among_simple_behaviours() -> None:
    b = simple("watch_again", verb="watch_video")
    assert only(validate_mechanic("behaviours", b, base())) == ("verb", 409, "AlreadyExists")


def test_a_flexible_behaviour_must_extend_an_existing_simple_verb() -> None:
    b = flexible("read_tv", "read_article", {"and": [{"key": "c", "op": "eq", "value": "tv"}]})
    assert only(validate_mechanic("behaviours", b, base())) == ("verb", 400, "ValidationError")


def test_renaming_a_used_verb_is_refused() -> None:
    problems = validate_mechanic("behaviours", simple("watch_video", verb="view_video"), base())
    assert only(problems) == ("verb", 409, "ReferencedBy")
    assert "behaviours/watch_tv" in problems[0].message and "rewards/binge" in problems[0].message


# ---------------------------------------------------------------- rewards


def test_unknown_verb_in_an_achievement_criterion() -> None:
    r = reward(
        {
            "id": "reader",
            "kind": "achievement",
            "criteria": [{"verb": "watch_video", "times": 1}, {"verb": "read", "times": 2}],
        }
    )
    assert only(validate_mechanic("rewards", r, base())) == ("criteria.1.verb", 400, "ValidationError")


def test_unknown_point_type_in_a_level_and_in_prizes() -> None:
    r = reward(
        {
            "id": "gold",
            "kind": "level",
            "ladder": "status",
            "criteria": [{"pointId": "gems", "points": 5}],
            "prizes": {"points": [{"pointId": "rubies", "points": 1}]},
        }
    )
    fields = sorted(p.field for p in validate_mechanic("rewards", r, base()))
    assert fields == ["criteria.0.pointId", "prizes.points.0.pointId"]


def test_unknown_coupon_in_prizes() -> None:
    r = reward(
        {
            "id": "b2",
            "kind": "achievement",
            "criteria": [{"verb": "watch_video", "times": 1}],
            "prizes": {"coupons": ["tshirt", "hat"]},
        }
    )
    assert only(validate_mechanic("rewards", r, base())) == ("prizes.coupons.1", 400, "ValidationError")


def test_levels_of_one_ladder_agree_on_demotion() -> None:
    r = reward(
        {
            "id": "gold",
            "kind": "level",
            "ladder": "status",
            "canDemote": True,
            "criteria": [{"pointId": "xp", "points": 500}],
        }
    )
    assert only(validate_mechanic("rewards", r, base())) == ("canDemote", 400, "ValidationError")


def test_unknown_reward_in_a_mission() -> None:
    r = reward({"id": "m2", "kind": "mission", "criteria": [{"rewardId": "binge"}, {"rewardId": "ghost"}]})
    assert only(validate_mechanic("rewards", r, base())) == ("criteria.1.rewardId", 400, "ValidationError")


def test_a_mission_that_contains_itself_transitively() -> None:
    s = base().with_mechanic(
        "rewards", reward({"id": "outer", "kind": "mission", "criteria": [{"rewardId": "starter"}]})
    )
    looped = reward(
        {"id": "starter", "kind": "mission", "criteria": [{"rewardId": "binge"}, {"rewardId": "outer"}]}
    )
    problems = validate_mechanic("rewards", looped, s)
    assert only(problems) == ("criteria.1.rewardId", 400, "ValidationError")
    assert "starter -> outer -> starter" in problems[0].message


# ---------------------------------------------------------------- KPIs


def test_kpi_tracking_unknown_things() -> None:
    assert only(validate_mechanic("kpis", kpi({"id": "k", "tracks": {"points": "gems"}}), base())) == (
        "tracks.points",
        400,
        "ValidationError",
    )
    assert only(validate_mechanic("kpis", kpi({"id": "k", "tracks": {"behaviour": "read"}}), base())) == (
        "tracks.behaviour",
        400,
        "ValidationError",
    )
    assert only(validate_mechanic("kpis", kpi({"id": "k", "tracks": {"reward": "ghost"}}), base())) == (
        "tracks.reward",
        400,
        "ValidationError",
    )
    assert validate_mechanic("kpis", kpi({"id": "k", "tracks": {"behaviour": "watch_tv"}}), base()) == []


def t(frm: str, to: str, assign: dict[str, Any]) -> dict[str, Any]:
    return {"validFrom": frm, "validTo": to, "assignTo": assign, "values": {"daily": 1}}


def test_valid_from_must_not_be_after_valid_to() -> None:
    k = kpi(
        {
            "id": "k",
            "tracks": {"points": "xp"},
            "targets": [t("2026-02-01", "2026-01-31", {"everyone": True})],
        }
    )
    assert only(validate_mechanic("kpis", k, base())) == ("targets.0.validTo", 400, "ValidationError")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"everyone": True}, {"everyone": True}),
        ({"users": ["alice", "bob"]}, {"users": ["carol", "bob"]}),
        ({"tags": ["sales"]}, {"tags": ["sales", "support"]}),
    ],
)
def test_overlapping_targets_of_the_same_assignment(first: dict[str, Any], second: dict[str, Any]) -> None:
    k = kpi(
        {
            "id": "k",
            "tracks": {"points": "xp"},
            "targets": [t("2026-01-01", "2026-06-30", first), t("2026-06-30", "2026-12-31", second)],
        }
    )
    assert only(validate_mechanic("kpis", k, base())) == ("targets.1.validFrom", 409, "TargetsOverlap")


def test_adjacent_windows_and_different_assignments_do_not_overlap() -> None:
    k = kpi(
        {
            "id": "k",
            "tracks": {"points": "xp"},
            "targets": [
                t("2026-01-01", "2026-06-29", {"everyone": True}),
                t("2026-06-30", "2026-12-31", {"everyone": True}),
                t("2026-01-01", "2026-12-31", {"users": ["alice"]}),
                t("2026-01-01", "2026-12-31", {"tags": ["alice"]}),
            ],
        }
    )
    assert validate_mechanic("kpis", k, base()) == []


# ---------------------------------------------------------------- coupons and leaderboards


def test_price_in_unknown_or_non_redeemable_type() -> None:
    c = coupon({"id": "hat", "codeType": "single", "code": "HAT", "price": {"pointId": "xp", "points": 5}})
    assert only(validate_mechanic("coupons", c, base())) == ("price.pointId", 400, "ValidationError")
    c = coupon({"id": "hat", "codeType": "single", "code": "HAT", "price": {"pointId": "gems", "points": 5}})
    assert only(validate_mechanic("coupons", c, base())) == ("price.pointId", 400, "ValidationError")


def test_coupon_codes_unique_within_and_across_coupons() -> None:
    c = coupon({"id": "cups", "codeType": "multiple", "codes": ["C1", "C2", "C1"]})
    assert only(validate_mechanic("coupons", c, base())) == ("codes.2", 400, "ValidationError")
    c = coupon({"id": "cups", "codeType": "multiple", "codes": ["C1", "M2"]})
    assert only(validate_mechanic("coupons", c, base())) == ("codes.1", 409, "AlreadyExists")
    c = coupon({"id": "hat", "codeType": "single", "code": "TSHIRT"})
    assert only(validate_mechanic("coupons", c, base())) == ("code", 409, "AlreadyExists")
    # Saving a coupon again with its own codes is fine.
    assert validate_mechanic("coupons", base().coupons["mugs"], base()) == []


def test_leaderboard_ranking_by_unknown_things() -> None:
    b = board({"id": "b", "ranksBy": {"points": "gems"}, "periods": ["daily"]})
    assert only(validate_mechanic("leaderboards", b, base())) == ("ranksBy.points", 400, "ValidationError")
    b = board({"id": "b", "ranksBy": {"behaviour": "read"}, "periods": ["daily"]})
    assert only(validate_mechanic("leaderboards", b, base())) == ("ranksBy.behaviour", 400, "ValidationError")


# ---------------------------------------------------------------- referrers


def test_referrers_name_every_mechanic_that_refers() -> None:
    s = base()
    assert referrers("point-types", "xp", s) == [
        "behaviours/watch_video",
        "rewards/silver",
        "leaderboards/xp_board",
    ]
    assert referrers("point-types", "coins", s) == ["coupons/tshirt"]
    assert referrers("behaviours", "watch_video", s) == [
        "behaviours/watch_tv",
        "rewards/binge",
        "kpis/videos",
        "leaderboards/viewers",
    ]
    assert referrers("behaviours", "watch_tv", s) == []
    assert referrers("rewards", "binge", s) == ["rewards/starter"]
    assert referrers("rewards", "starter", s) == ["kpis/starters"]
    assert referrers("coupons", "tshirt", s) == ["rewards/binge"]
    assert referrers("kpis", "videos", s) == []
    assert [p.type for p in validate_delete("rewards", "binge", s)] == ["ReferencedBy"]
    assert validate_delete("rewards", "thanks", s) == []
