import datetime as dt
from typing import Any

from _engine_fixtures import kpi, point, reward, simple, site, utc

from chalicelib.engine.kpis import (
    KpiPeriodRow,
    choose_target,
    has_target_for,
    kpi_deltas,
    kpi_rows,
    period_row,
    period_value,
)

D = dt.date


def target(frm: str, to: str, assign: dict[str, Any], **values: int) -> dict[str, Any]:
    return {"validFrom": frm, "validTo": to, "assignTo": assign, "values": values}


XP_GOAL = kpi(
    {
        "id": "xp_goal",
        "tracks": {"points": "xp"},
        "targets": [
            target("2026-01-01", "2026-12-31", {"everyone": True}, daily=10, weekly=50),
            target("2026-01-01", "2026-12-31", {"tags": ["sales"]}, weekly=70),
            target("2026-01-01", "2026-12-31", {"tags": ["support"]}, weekly=60),
            target("2026-01-01", "2026-12-31", {"users": ["alice"]}, weekly=100),
        ],
    }
)


def test_user_beats_tag_beats_everyone_and_the_earlier_tag_target_wins() -> None:
    start = D(2026, 3, 2)
    assert choose_target(XP_GOAL, "alice", ["sales"], start, "weekly") == 100
    assert choose_target(XP_GOAL, "bob", ["support", "sales"], start, "weekly") == 70
    assert choose_target(XP_GOAL, "bob", ["support"], start, "weekly") == 60
    assert choose_target(XP_GOAL, "bob", [], start, "weekly") == 50
    # A more specific target without a daily value lets everyone's daily value apply.
    assert choose_target(XP_GOAL, "alice", ["sales"], start, "daily") == 10
    assert choose_target(XP_GOAL, "bob", [], start, "monthly") is None


def test_the_target_valid_at_the_period_start_applies() -> None:
    k = kpi(
        {
            "id": "k",
            "tracks": {"points": "xp"},
            "targets": [
                target("2026-01-01", "2026-03-04", {"everyone": True}, weekly=50),
                target("2026-03-05", "2026-12-31", {"everyone": True}, weekly=80),
            ],
        }
    )
    # The week of 2 March starts on the 2nd, when the first target was valid.
    assert choose_target(k, "u", [], D(2026, 3, 2), "weekly") == 50
    assert choose_target(k, "u", [], D(2026, 3, 9), "weekly") == 80
    assert choose_target(k, "u", [], D(2025, 12, 29), "weekly") is None


def test_period_value_sums_daily_buckets_both_ends_inclusive() -> None:
    buckets = {D(2026, 3, 1): 5, D(2026, 3, 2): 7, D(2026, 3, 8): 11, D(2026, 3, 9): 13}
    assert period_value(buckets, D(2026, 3, 2), D(2026, 3, 8)) == 18
    assert period_value(buckets, D(2026, 1, 1), D(2026, 12, 31)) == 36


def test_percent_is_floored_and_not_capped() -> None:
    buckets = {D(2026, 3, 3): 7}
    k = kpi(
        {
            "id": "k",
            "tracks": {"points": "xp"},
            "targets": [target("2026-01-01", "2026-12-31", {"everyone": True}, daily=3)],
        }
    )
    assert period_row(k, "daily", D(2026, 3, 3), D(2026, 3, 3), buckets, "u", []) == KpiPeriodRow(
        D(2026, 3, 3), D(2026, 3, 3), 7, 3, 233, True
    )
    assert period_row(k, "daily", D(2026, 3, 4), D(2026, 3, 4), {D(2026, 3, 4): 2}, "u", []) == KpiPeriodRow(
        D(2026, 3, 4), D(2026, 3, 4), 2, 3, 66, False
    )
    assert period_row(k, "daily", D(2026, 3, 5), D(2026, 3, 5), {}, "u", []).percent == 0


def test_nulls_without_target() -> None:
    k = kpi({"id": "k", "tracks": {"points": "xp"}})
    row = period_row(k, "weekly", D(2026, 3, 2), D(2026, 3, 8), {D(2026, 3, 3): 4}, "u", [])
    assert (row.value, row.target, row.percent, row.met) == (4, None, None, None)


def test_the_kpis_tab_rows_current_first_and_four_before() -> None:
    buckets = {D(2026, 3, 10): 60, D(2026, 3, 3): 20, D(2026, 2, 9): 55}
    rows = kpi_rows(XP_GOAL, "weekly", utc(2026, 3, 10, 12), "UTC", buckets, "bob", [])
    assert [(r.start, r.value, r.percent, r.met) for r in rows] == [
        (D(2026, 3, 9), 60, 120, True),
        (D(2026, 3, 2), 20, 40, False),
        (D(2026, 2, 23), 0, 0, False),
        (D(2026, 2, 16), 0, 0, False),
        (D(2026, 2, 9), 55, 110, True),
    ]
    assert rows[0].end == D(2026, 3, 15)


def test_has_target_for_counts_assigned_kpis() -> None:
    only_alice = kpi(
        {
            "id": "k",
            "tracks": {"points": "xp"},
            "targets": [target("2026-01-01", "2026-12-31", {"users": ["alice"]}, daily=1)],
        }
    )
    assert has_target_for(only_alice, "alice", [], D(2026, 5, 1))
    assert not has_target_for(only_alice, "bob", [], D(2026, 5, 1))
    assert not has_target_for(only_alice, "alice", [], D(2027, 1, 1))


def test_kpi_deltas_per_tracked_thing() -> None:
    s = site(
        point_types=[point("xp")],
        behaviours=[simple("watch_video")],
        rewards=[
            reward({"id": "binge", "kind": "achievement", "criteria": [{"verb": "watch_video", "times": 1}]}),
            reward(
                {"id": "silver", "kind": "level", "ladder": "s", "criteria": [{"pointId": "xp", "points": 1}]}
            ),
        ],
        kpis=[
            kpi({"id": "xp", "tracks": {"points": "xp"}}),
            kpi({"id": "videos", "tracks": {"behaviour": "watch_video"}}),
            kpi({"id": "achievements", "tracks": {"rewardKind": "achievement"}}),
            kpi({"id": "silvers", "tracks": {"reward": "silver"}}),
        ],
    )
    deltas = kpi_deltas(s, verb="watch_video", points_earned={"xp": 15}, rewards_unlocked=["binge", "silver"])
    assert deltas == {"xp": 15, "videos": 1, "achievements": 1, "silvers": 1}
    assert kpi_deltas(s, verb="watch_video", points_earned={"xp": 15}, sign=-1) == {"xp": -15, "videos": -1}
    assert kpi_deltas(s, verb="other") == {}
