"""The demo site `make run` seeds shows a programme six weeks in, read through the API as the console reads it."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pytest

from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e


def _get(stack: RunningStack, path: str) -> Any:
    status, body = stack.api("GET", path)
    assert status == 200, (path, status, body)
    return body


def _users(stack: RunningStack) -> list[dict[str, Any]]:
    return list(_get(stack, "/sites/demo/users?limit=100")["items"])


def _tab(stack: RunningStack, uuid: str, tab: str, query: str = "") -> Any:
    return _get(stack, f"/sites/demo/users/{uuid}/tabs/{tab}{query}")


def test_thirty_users_who_joined_over_weeks_with_tags(stack: RunningStack) -> None:
    users = _users(stack)
    assert 25 <= len(users) <= 35
    assert {"alice", "bob", "carol", "dave", "erin"} <= {u["uuid"] for u in users}
    assert [u["uuid"] for u in users if u["blocked"]] == ["dave"]
    assert all(u["firstName"] and u["lastName"] and u["displayName"] for u in users)
    assert not [u for u in users if u["pictureUrl"]], "avatars are the console's own, never an external URL"
    assert len({tag for u in users for tag in u["tags"]}) >= 4
    joined = sorted(dt.datetime.fromisoformat(u["createdAt"].replace("Z", "+00:00")) for u in users)
    assert joined[-1] - joined[0] >= dt.timedelta(days=21), "users joined over weeks, not in one minute"
    assert dt.datetime.now(dt.UTC) - joined[0] >= dt.timedelta(days=40)


def test_kpi_history_shows_trends_and_met_targets(stack: RunningStack) -> None:
    values, met, targets = [], 0, 0
    for user in _users(stack):
        for period in ("daily", "weekly"):
            for kpi in _tab(stack, user["uuid"], "kpis", f"?period={period}")["items"]:
                closed = kpi["periods"][1:]  # the current period first, then the four before it
                values += [p["value"] for p in closed]
                met += sum(1 for p in closed if p["met"])
                targets += sum(1 for p in closed if p["target"] is not None)
    assert any(values) and len(set(values)) >= 4, "closed KPI periods hold varied, non-zero values"
    assert 0 < met < targets, "some targets were met, not all"


def test_leaderboards_show_numeric_changes_between_closed_periods(stack: RunningStack) -> None:
    changes: list[int] = []
    fresh = 0
    for user in _users(stack):
        for entry in _tab(stack, user["uuid"], "leaderboards")["items"]:
            if entry["period"] != "allTime" and entry["rank"] is not None:
                if isinstance(entry["change"], int):
                    changes.append(entry["change"])
                fresh += bool(entry["new"])
    assert changes, "at least one rank compared with a closed period's final rank"
    assert any(changes), "and at least one that moved"
    standings = _get(stack, "/sites/demo/leaderboards/xp_board/standings?period=weekly&limit=100")["items"]
    assert len(standings) >= 5 and "dave" not in {s["uuid"] for s in standings}


def test_badges_are_lit_for_some_users_not_all(stack: RunningStack) -> None:
    lit: Counter[str] = Counter()
    some_not_all = 0
    users = [u for u in _users(stack) if not u["blocked"]]
    for user in users:
        rewards = _tab(stack, user["uuid"], "rewards")
        done = {r["rewardId"] for r in rewards["completed"]}
        lit.update(done)
        some_not_all += bool(done) and bool(rewards["inProgress"] or rewards["available"])
    assert some_not_all >= 3, "users with some badges lit and others still to earn"
    assert any(0 < n < len(users) for n in lit.values()), "a badge some users have and others not"
    assert lit["gold"] < len(users)


def test_the_history_holds_every_kind_of_outcome(stack: RunningStack) -> None:
    seen: Counter[str] = Counter()
    exceptions: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    created = []
    for user in _users(stack):
        cursor = ""
        while True:
            page = _tab(stack, user["uuid"], "activity", f"?limit=100{cursor}")
            for a in page["items"]:
                seen[a["type"]] += 1
                seen[a["status"]] += 1
                created.append(a["createdAt"])
                exceptions.update(e["type"] for e in ((a.get("result") or {}).get("exceptions") or []))
                if a["error"]:
                    errors[a["error"]["type"]] += 1
            if not page.get("nextCursor"):
                break
            cursor = f"&cursor={page['nextCursor']}"
    assert {"behaviour", "point", "coupon", "gift", "bounty"} <= set(seen)
    assert seen["SUCCEEDED"] > seen["FAILED"] > 0 and seen["REJECTED"] > 0
    assert seen["QUEUED"] == seen["PROCESSING"] == 0
    assert exceptions["LimitReached"] > 0 and exceptions["CoolOff"] > 0
    assert errors, "some activities failed by a rule (sold out, insufficient points, ...)"
    days = {c[:10] for c in created}
    assert len(days) >= 30, "activities spread over weeks"
    coupons = sum(len(_tab(stack, u["uuid"], "coupons")["items"]) for u in _users(stack))
    assert coupons > 0


def test_the_stack_says_how_long_seeding_took(stack: RunningStack) -> None:
    line = next((p for p in stack.printed if p.strip().startswith("Demo:")), "")
    assert "users" in line and "activities" in line and line.rstrip().endswith(" s"), stack.printed
