"""The user details page read side, against users built by real activities through the workflow.

Expected figures are worked out by hand from spec/domain.md, never by calling the code under
test. Mechanics come from `configure()` (tests/builders.py): coins (redeemable, giftable,
bountiable), xp, stars (expirable); watch_video gives 10 xp, watch_tv (category tv) 5 more;
binge = 3 watch_video; silver = 100 xp earned; starter = binge + silver; xp_goal weekly 50;
tshirt costs 30 coins; xp_board ranks xp weekly and all-time.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.builders import (
    DAY,
    configure,
    inc,
    local_today,
    ok,
    reject,
    shift,
    summary,
    tab,
    target_window,
    user,
    watch,
    week_start,
)
from tests.conftest import Api, RequestCounter, run

# Tests marked `dates` read figures by period, by date or the 30-day badges: `make test` runs
# them again with the clock elsewhere (TEST_CLOCK_ANCHOR, tests/builders.py).

# ---------------------------------------------------------------- wallets, ledger, activity list


@pytest.fixture
def history(api: Api, site: str, workflow: str) -> dict[str, str]:
    """alice: +100 coins, +20 xp, redeem 10, gift 15 to bob, buy a 30-coin t-shirt,
    +7 coins (rejected), watch a tv video (+15 xp), set coins to 40, redeem 1000 (FAILED)."""
    configure(api, site)
    user(api, site, "alice", displayName="Alice")
    user(api, site, "bob", displayName="Bob")
    ids = {}
    ids["inc"] = inc(api, site, "alice", "coins", 100)["id"]
    inc(api, site, "alice", "xp", 20)
    ids["redeem"] = ok(run(api, site, "alice", {"type": "point", "action": "redeem",
                                                "points": [{"pointId": "coins", "points": 10}]}))["id"]
    ids["gift"] = ok(run(api, site, "alice", {"type": "gift", "targetUuid": "bob",
                                              "points": [{"pointId": "coins", "points": 15}]},
                         reason="thanks"))["id"]
    ids["buy"] = ok(run(api, site, "alice", {"type": "coupon", "action": "buy", "couponId": "tshirt"}))["id"]
    ids["rejected"] = inc(api, site, "alice", "coins", 7)["id"]
    reject(api, site, ids["rejected"])
    ids["watch"] = watch(api, site, "alice", category=["tv"])["id"]
    ids["set"] = ok(run(api, site, "alice", {"type": "point", "action": "set",
                                             "points": [{"pointId": "coins", "points": 40}]}))["id"]
    ids["failed"] = ok(run(api, site, "alice", {"type": "point", "action": "redeem",
                                                "points": [{"pointId": "coins", "points": 1000}]}), "FAILED")["id"]
    return ids


def test_points_tab_wallet_figures_and_ledger(api: Api, site: str, history: dict[str, str]) -> None:
    data = tab(api, site, "alice", "points")
    wallets = {w["pointId"]: w for w in data["items"]}
    # coins: earned 100 (the rejected +7 is as if it never happened); spent 15 gift + 30 coupon;
    # redeemed 10; set 45 -> 40 is adjusted 5; balance 100 - 45 - 10 - 5 = 40.
    assert wallets["coins"] == {"pointId": "coins", "name": "Coins", "balance": 40, "earned": 100, "spent": 45,
                                "redeemed": 10, "expired": 0, "adjusted": 5}
    assert wallets["xp"] == {"pointId": "xp", "name": "XP", "balance": 35, "earned": 35, "spent": 0,
                             "redeemed": 0, "expired": 0, "adjusted": 0}
    assert wallets["stars"]["balance"] == 0 and wallets["stars"]["earned"] == 0
    bob = {w["pointId"]: w for w in tab(api, site, "bob", "points")["items"]}
    assert bob["coins"]["earned"] == 15 and bob["coins"]["balance"] == 15
    # The ledger, paged newest first, sums to each balance.
    entries: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = tab(api, site, "alice", "points", "?limit=3" + (f"&cursor={cursor}" if cursor else ""))
        assert len(page["ledger"]["items"]) <= 3
        entries += page["ledger"]["items"]
        cursor = page["ledger"]["nextCursor"]
        if not cursor:
            break
    assert [e["id"] for e in entries] == sorted((e["id"] for e in entries), reverse=True)
    for point_id in ("coins", "xp"):
        assert sum(e["amount"] for e in entries if e["pointId"] == point_id) == wallets[point_id]["balance"]
    # +100, redeem, gift, coupon, +7, its reversal, set (coins) and +20, +15 (xp)
    assert len(entries) == 9
    assert entries[0]["activityId"] == history["set"] and entries[0]["amount"] == -5
    reversal = [e for e in entries if e["activityId"] == history["rejected"]]
    assert sorted(e["amount"] for e in reversal) == [-7, 7]


@pytest.mark.dates
def test_activity_tab_lists_filters_and_sorts(api: Api, site: str, history: dict[str, str]) -> None:
    items = tab(api, site, "alice", "activity")["items"]
    assert len(items) == 9
    assert [i["id"] for i in items] == sorted((i["id"] for i in items), reverse=True)  # newest first
    assert items[0]["id"] == history["failed"] and items[0]["status"] == "FAILED"
    assert items[0]["error"]["type"] == "InsufficientPoints"
    gift = next(i for i in items if i["id"] == history["gift"])
    assert gift["type"] == "gift" and gift["targetUuid"] == "bob" and gift["reason"] == "thanks"
    # bob sees the gift he received, as the same activity resource
    received = tab(api, site, "bob", "activity")["items"]
    assert [i["id"] for i in received] == [history["gift"]] and received[0]["uuid"] == "alice"

    def ids(query: str) -> set[str]:
        return {i["id"] for i in tab(api, site, "alice", "activity", query)["items"]}

    assert ids("?status=REJECTED") == {history["rejected"]}
    assert ids("?type=gift&type=coupon") == {history["gift"], history["buy"]}  # OR within
    assert ids("?type=point&status=REJECTED") == {history["rejected"]}  # AND across
    xp_increment = next(i["id"] for i in items if i["attrs"].get("points") == [{"pointId": "xp", "points": 20}])
    assert ids("?type=point&status=SUCCEEDED") == {history["inc"], history["redeem"], history["set"], xp_increment}
    assert ids("?verb=watch_video") == {history["watch"]}
    at = {i["id"]: i["createdAt"] for i in items}
    assert ids(f"?from={at[history['buy']]}&to={at[history['watch']]}") == {
        history["buy"], history["rejected"], history["watch"]}
    # A bare date is a whole site-local day (London), both ends inclusive.
    london = ZoneInfo("Europe/London")
    local_day = {k: dt.datetime.fromisoformat(v.replace("Z", "+00:00")).astimezone(london).date()
                 for k, v in at.items()}
    newest_day = local_day[history["failed"]]
    assert ids(f"?from={newest_day}") == {k for k, d in local_day.items() if d >= newest_day}
    assert ids(f"?to={newest_day - dt.timedelta(days=1)}") == {k for k, d in local_day.items() if d < newest_day}
    assert ids(f"?from={newest_day}&to={newest_day}") == {k for k, d in local_day.items() if d == newest_day}
    # paging: limit 4 gives pages of 4, 4, 1 and no overlap
    seen: list[str] = []
    cursor = None
    for expected in (4, 4, 1):
        page = tab(api, site, "alice", "activity", "?limit=4" + (f"&cursor={cursor}" if cursor else ""))
        assert len(page["items"]) == expected
        seen += [i["id"] for i in page["items"]]
        cursor = page["nextCursor"]
    assert seen == [i["id"] for i in items]
    oldest_first = tab(api, site, "alice", "activity", "?order=asc")["items"]
    assert [i["id"] for i in oldest_first] == [i["id"] for i in reversed(items)]
    by_type = tab(api, site, "alice", "activity", "?sort=type")["items"]
    assert [i["type"] for i in by_type] == sorted(i["type"] for i in items)
    points_rows = [i["id"] for i in by_type if i["type"] == "point"]
    assert points_rows == sorted(points_rows, reverse=True)  # newest first among equals
    by_status = tab(api, site, "alice", "activity", "?sort=status&order=desc")["items"]
    assert [i["status"] for i in by_status] == sorted((i["status"] for i in items), reverse=True)


@pytest.mark.parametrize(("query", "field"), [
    ("?type=dance", "type"), ("?status=DONE", "status"), ("?verb=Bad-Verb", "verb"), ("?sort=points", "sort"),
    ("?order=up", "order"), ("?from=yesterday", "from"), ("?to=2026-11-01T00:00:00", "to"),
    ("?from=2026-11-02&to=2026-11-01", "from"), ("?limit=0", "limit"), ("?limit=101", "limit"),
    ("?cursor=nonsense", "cursor"),
])
def test_activity_tab_refuses_bad_filters(api: Api, site: str, query: str, field: str) -> None:
    user(api, site, "alice")
    status, data, _ = api.get(f"/sites/{site}/users/alice/tabs/activity{query}")
    assert status == 400, data
    assert data["error"]["type"] == "ValidationError"
    assert [d["field"] for d in data["error"]["details"]] == [field]


@pytest.mark.dates
def test_summary_counts_and_coupons_tab(api: Api, site: str, history: dict[str, str]) -> None:
    stats = summary(api, site, "alice")
    # own SUCCEEDED: +100, +20, redeem, gift, buy, watch, set (the rejected and the FAILED ones not)
    assert stats["activities"] == {"count": 7, "recent": True}
    assert stats["coupons"] == {"count": 1, "recent": True}
    assert stats["gifts"] == {"count": 0, "recent": False}
    assert stats["kpis"] == {"count": 1, "recent": False}  # 35 xp this week, target 50
    for key in ("rewards", "achievements", "levels", "missions"):
        assert stats[key] == {"count": 0, "recent": False}
    bob = summary(api, site, "bob")
    assert bob["gifts"] == {"count": 1, "recent": True}
    assert bob["activities"] == {"count": 0, "recent": False}  # a received gift is not his activity
    coupons = tab(api, site, "alice", "coupons")["items"]
    assert len(coupons) == 1
    coupon = coupons[0]
    assert coupon["couponId"] == "tshirt" and coupon["code"] == "TSHIRT" and coupon["status"] == "available"
    assert coupon["acquiredBy"] == "purchase" and coupon["pointsSpent"] == 30 and coupon["redeemedAt"] is None
    assert coupon["userCouponId"].startswith(history["buy"])
    assert tab(api, site, "bob", "coupons") == {"items": []}
    data = api.ok("GET", f"/sites/{site}/users/alice/summary")
    assert data["user"]["uuid"] == "alice" and data["user"]["displayName"] == "Alice"


@pytest.mark.dates
def test_overview(api: Api, site: str, history: dict[str, str]) -> None:
    data = tab(api, site, "alice", "overview")
    assert [a["id"] for a in data["recentActivities"]] == [
        history["failed"], history["set"], history["watch"], history["rejected"], history["buy"]]
    assert {b["pointId"]: b["balance"] for b in data["balances"]} == {"coins": 40, "xp": 35, "stars": 0}
    assert [c["couponId"] for c in data["coupons"]] == ["tshirt"]
    assert data["rewards"] == []
    boards = {(b["leaderboardId"], b["period"]): b for b in data["leaderboards"]}
    assert set(boards) == {("xp_board", "weekly"), ("xp_board", "allTime")}
    assert boards[("xp_board", "weekly")]["score"] == 35
    assert boards[("xp_board", "weekly")]["rank"] is None  # the rank job has not run


# ---------------------------------------------------------------- rewards


@pytest.mark.dates
def test_a_received_gift_is_completed_on_the_day_it_came(api: Api, site: str, workflow: str) -> None:
    """Issue 18, defect 7: a received gift counted in the Rewards stat, but the tab showed no
    completion date for it."""
    configure(api, site)
    api.ok("POST", f"/sites/{site}/rewards", {"id": "thanks", "kind": "gift", "name": "Thank you"})
    user(api, site, "gia")
    user(api, site, "hal")
    first = ok(run(api, site, "gia", {"type": "gift", "targetUuid": "hal", "rewardId": "thanks"}))
    second = ok(run(api, site, "gia", {"type": "gift", "targetUuid": "hal", "rewardId": "thanks"}))
    completed = tab(api, site, "hal", "rewards")["completed"]
    assert [(r["rewardId"], r["kind"]) for r in completed] == [("thanks", "gift")]
    assert completed[0]["completedAt"] is not None
    assert first["createdAt"] <= second["createdAt"] <= completed[0]["completedAt"]  # the latest one
    assert summary(api, site, "hal")["rewards"] == {"count": 2, "recent": True}
    assert tab(api, site, "gia", "rewards")["completed"] == []  # the sender completed nothing


@pytest.mark.dates
def test_rewards_tab_progress_completion_and_revocation(api: Api, site: str, workflow: str) -> None:
    configure(api, site)
    user(api, site, "carol")
    watch(api, site, "carol")
    watch(api, site, "carol")
    data = tab(api, site, "carol", "rewards")
    progress = {r["rewardId"]: r for r in data["inProgress"]}
    assert set(progress) == {"binge", "silver"}
    assert progress["binge"]["criteria"] == [{"label": "Watch a video", "current": 2, "required": 3, "done": False}]
    assert progress["silver"]["criteria"] == [{"label": "XP", "current": 20, "required": 100, "done": False}]
    assert progress["binge"]["completedAt"] is None and progress["binge"]["kind"] == "achievement"
    assert [r["rewardId"] for r in data["available"]] == ["starter"]
    assert data["available"][0]["criteria"] == [
        {"label": "Binge", "current": 0, "required": 1, "done": False},
        {"label": "Silver", "current": 0, "required": 1, "done": False}]
    assert data["completed"] == []
    third = watch(api, site, "carol")
    data = tab(api, site, "carol", "rewards")
    assert [r["rewardId"] for r in data["completed"]] == ["binge"]
    done = data["completed"][0]
    assert done["criteria"] == [{"label": "Watch a video", "current": 3, "required": 3, "done": True}]
    assert done["completedAt"] is not None and done["completedAt"] >= third["createdAt"]
    starter = next(r for r in data["inProgress"] if r["rewardId"] == "starter")
    assert [c["done"] for c in starter["criteria"]] == [True, False]
    stats = summary(api, site, "carol")
    assert stats["rewards"] == {"count": 1, "recent": True}
    assert stats["achievements"] == {"count": 1, "recent": True}
    assert stats["activities"] == {"count": 3, "recent": True}
    reject(api, site, third["id"])
    data = tab(api, site, "carol", "rewards")
    assert data["completed"] == []
    assert {r["rewardId"]: r["criteria"][0]["current"] for r in data["inProgress"]} == {"binge": 2, "silver": 20}
    stats = summary(api, site, "carol")
    assert stats["rewards"] == {"count": 0, "recent": False}  # revoked does not count
    assert stats["achievements"] == {"count": 0, "recent": False}
    assert stats["activities"] == {"count": 2, "recent": True}


# ---------------------------------------------------------------- KPIs


def nyc_kpis() -> list[dict[str, Any]]:
    window = target_window(local_today("America/New_York"))
    return [
        {"id": "xp_goal", "name": "XP goal", "tracks": {"points": "xp"},
         "targets": [{**window, "assignTo": {"everyone": True}, "values": {"daily": 10, "weekly": 50, "monthly": 200}}]},
        {"id": "vip_watch", "name": "VIP watching", "tracks": {"behaviour": "watch_video"},
         "targets": [{**window, "assignTo": {"users": ["someone-else"]}, "values": {"weekly": 3}}]},
    ]


@pytest.mark.dates
def test_kpis_tab_sunday_week_in_new_york(api: Api, workflow: str) -> None:
    api.ok("POST", "/sites", {"id": "nyc", "name": "NYC", "timezone": "America/New_York", "weekStart": "sunday"})
    api.ok("POST", "/sites/nyc/point-types", {"id": "xp", "name": "XP"})
    api.ok("POST", "/sites/nyc/behaviours", {"id": "watch_video", "kind": "simple", "verb": "watch_video",
                                             "name": "Watch", "prizes": {"points": [{"pointId": "xp", "points": 5}]}})
    for kpi in nyc_kpis():
        api.ok("POST", "/sites/nyc/kpis", kpi)
    user(api, "nyc", "nina")
    inc(api, "nyc", "nina", "xp", 30)
    ok(run(api, "nyc", "nina", {"type": "behaviour", "verb": "watch_video"}))  # +5 xp, one watch
    local = local_today("America/New_York")
    sunday = week_start(local, "sunday")
    data = tab(api, "nyc", "nina", "kpis")  # weekly by default
    rows = {k["kpiId"]: k for k in data["items"]}
    weeks = rows["xp_goal"]["periods"]
    assert len(weeks) == 5
    assert weeks[0] == {"start": sunday.isoformat(), "end": (sunday + dt.timedelta(days=6)).isoformat(),
                        "value": 35, "target": 50, "percent": 70, "met": False}
    for i, row in enumerate(weeks[1:], start=1):
        start = sunday - dt.timedelta(days=7 * i)
        assert row == {"start": start.isoformat(), "end": (start + dt.timedelta(days=6)).isoformat(),
                       "value": 0, "target": 50, "percent": 0, "met": False}
    # a target assigned to someone else: value shown, target/percent/met null
    assert rows["vip_watch"]["periods"][0] == {"start": sunday.isoformat(),
                                               "end": (sunday + dt.timedelta(days=6)).isoformat(),
                                               "value": 1, "target": None, "percent": None, "met": None}
    def kpi(period: str) -> list[dict[str, Any]]:
        found = tab(api, "nyc", "nina", "kpis", f"?period={period}")["items"]
        periods: list[dict[str, Any]] = next(k["periods"] for k in found if k["kpiId"] == "xp_goal")
        return periods

    today = kpi("daily")[0]
    assert today == {"start": local.isoformat(), "end": local.isoformat(), "value": 35, "target": 10,
                     "percent": 350, "met": True}  # not capped
    yearly = kpi("yearly")
    assert [p["start"] for p in yearly] == [f"{local.year - i}-01-01" for i in range(5)]
    assert yearly[0]["value"] == 35 and yearly[0]["target"] is None
    stats = summary(api, "nyc", "nina")
    assert stats["kpis"] == {"count": 1, "recent": True}  # daily 10 met today
    status, data, _ = api.get("/sites/nyc/users/nina/tabs/kpis?period=hourly")
    assert status == 400 and data["error"]["details"][0]["field"] == "period"


# ---------------------------------------------------------------- the 30-day badges


@pytest.mark.dates
def test_recent_badges_follow_the_720_hour_window(api: Api, site: str, workflow: str) -> None:
    configure(api, site)
    for uuid in ("dave", "erin", "frank"):
        user(api, site, uuid)
    inc(api, site, "dave", "coins", 30)
    ok(run(api, site, "dave", {"type": "coupon", "action": "buy", "couponId": "tshirt"}))
    inc(api, site, "dave", "xp", 60)  # weekly xp target 50 met
    for _ in range(3):
        watch(api, site, "dave")  # binge
    inc(api, site, "erin", "coins", 5)
    ok(run(api, site, "erin", {"type": "gift", "targetUuid": "dave", "points": [{"pointId": "coins", "points": 5}]}))
    # frank: an activity and an achievement, both taken back
    watch(api, site, "frank")
    watch(api, site, "frank")
    last = watch(api, site, "frank")
    reject(api, site, last["id"])
    first = tab(api, site, "frank", "activity", "?type=behaviour&status=SUCCEEDED")["items"]
    for item in first:
        reject(api, site, item["id"])
    keys = ("activities", "rewards", "achievements", "gifts", "kpis", "coupons")
    now = summary(api, site, "dave")
    assert {k: now[k] for k in keys} == {
        "activities": {"count": 6, "recent": True}, "rewards": {"count": 1, "recent": True},
        "achievements": {"count": 1, "recent": True}, "gifts": {"count": 1, "recent": True},
        "kpis": {"count": 1, "recent": True}, "coupons": {"count": 1, "recent": True}}
    try:
        shift(29 * DAY)
        later = summary(api, site, "dave")
        assert all(later[k]["recent"] for k in keys), later
        shift(31 * DAY)
        much_later = summary(api, site, "dave")
        assert not any(much_later[k]["recent"] for k in keys), much_later
        assert {k: much_later[k]["count"] for k in keys} == {k: now[k]["count"] for k in keys}
    finally:
        shift()
    frank = summary(api, site, "frank")
    assert frank["activities"] == {"count": 0, "recent": False}
    assert frank["rewards"] == {"count": 0, "recent": False}
    assert frank["achievements"] == {"count": 0, "recent": False}


# ---------------------------------------------------------------- bounties, settings, 404s


def test_bounties_and_settings(api: Api, site: str, workflow: str) -> None:
    configure(api, site)
    user(api, site, "gina")
    user(api, site, "hugo")
    inc(api, site, "gina", "coins", 50)
    start = ok(run(api, site, "gina", {"type": "bounty", "action": "start",
                                       "points": [{"pointId": "coins", "points": 20}]}, reason="fix the bug"))
    other = ok(run(api, site, "gina", {"type": "bounty", "action": "start",
                                       "points": [{"pointId": "coins", "points": 5}]}))
    ok(run(api, site, "gina", {"type": "bounty", "action": "award", "bountyId": start["id"], "targetUuid": "hugo"}))
    everything = api.ok("GET", f"/sites/{site}/users/gina/bounties")
    assert [b["bountyId"] for b in everything["items"]] == [other["id"], start["id"]]
    awarded = api.ok("GET", f"/sites/{site}/users/gina/bounties?status=awarded")["items"]
    assert awarded == [{"bountyId": start["id"], "points": [{"pointId": "coins", "points": 20}],
                        "reason": "fix the bug", "status": "awarded", "createdAt": awarded[0]["createdAt"],
                        "awardedTo": "hugo"}]
    assert [b["bountyId"] for b in api.ok("GET", f"/sites/{site}/users/gina/bounties?status=open")["items"]] == [
        other["id"]]
    assert api.get(f"/sites/{site}/users/gina/bounties?status=closed")[0] == 400
    assert [i["id"] for i in tab(api, site, "hugo", "activity")["items"]] == [
        tab(api, site, "gina", "activity", "?type=bounty&limit=1")["items"][0]["id"]]
    settings = api.ok("GET", f"/sites/{site}/users/gina/settings")
    assert tab(api, site, "gina", "settings") == settings
    changed = {**settings, "optIns": {**settings["optIns"], "marketing": True}}
    api.ok("PUT", f"/sites/{site}/users/gina/settings", changed)
    assert tab(api, site, "gina", "settings")["optIns"]["marketing"] is True


TABS = ("overview", "activity", "points", "rewards", "kpis", "coupons", "leaderboards", "settings")


@pytest.mark.parametrize("path", [f"tabs/{t}" for t in TABS] + ["summary", "bounties"])
def test_unknown_user_is_404_and_viewer_may_read(api: Api, site: str, path: str) -> None:
    from tests.conftest import make_key

    status, data, _ = api.get(f"/sites/{site}/users/nobody/{path}")
    assert status == 404 and data["error"]["type"] == "UserNotFound", data
    user(api, site, "ivy")
    viewer = make_key(api, site, "viewer")
    assert api.get(f"/sites/{site}/users/ivy/{path}", token=viewer)[0] == 200
    assert api.get(f"/sites/{site}/users/ivy/{path}", token=None)[0] == 401


# ---------------------------------------------------------------- request budget


def test_each_tab_and_the_summary_cost_at_most_two_requests(api: Api, site: str, workflow: str,
                                                            requests_counter: RequestCounter,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.store import mechanics as mechanics_store
    from chalicelib.store import sites as sites_store

    # "Caches warm" must hold however slow the machine is: no expiry during the test.
    monkeypatch.setattr(mechanics_store, "CACHE_SECONDS", 3600.0)
    monkeypatch.setattr(sites_store, "_CACHE_SECONDS", 3600.0)
    configure(api, site)
    user(api, site, "jack")
    user(api, site, "kate")
    inc(api, site, "jack", "coins", 100)
    for _ in range(3):
        watch(api, site, "jack", category=["tv"])
    ok(run(api, site, "jack", {"type": "coupon", "action": "buy", "couponId": "tshirt"}))
    ok(run(api, site, "jack", {"type": "gift", "targetUuid": "kate", "points": [{"pointId": "coins", "points": 1}]}))
    # Waited for: a step still running in the background would be counted with the reads.
    ok(run(api, site, "jack", {"type": "point", "action": "increment", "points": [{"pointId": "xp", "points": 1}]}))
    from chalicelib.jobs import ranks

    ranks.run(sites=[site])
    paths = [f"tabs/{t}" for t in TABS] + ["summary", "bounties", "tabs/kpis?period=monthly",
                                           "tabs/activity?type=point&type=behaviour&status=SUCCEEDED&verb=x"]
    for path in paths:  # warm the site and mechanics caches
        api.ok("GET", f"/sites/{site}/users/jack/{path}")
    api.ok("GET", f"/sites/{site}/leaderboards/xp_board/standings")
    for path in paths:
        requests_counter.reset()
        api.ok("GET", f"/sites/{site}/users/jack/{path}")
        assert requests_counter.count <= 2, (path, requests_counter.calls)
    requests_counter.reset()
    api.ok("GET", f"/sites/{site}/leaderboards/xp_board/standings?period=allTime")
    assert requests_counter.count <= 1, requests_counter.calls


def _fields(model: Any) -> set[str]:
    return {f.alias or name for name, f in model.model_fields.items()}


@pytest.mark.dates
def test_responses_have_exactly_the_documented_shapes(api: Api, site: str, workflow: str) -> None:
    from chalicelib.models import activities, tabs, users

    configure(api, site)
    user(api, site, "liz", displayName="Liz")
    user(api, site, "max")
    inc(api, site, "liz", "coins", 50)
    watch(api, site, "liz")
    ok(run(api, site, "liz", {"type": "coupon", "action": "buy", "couponId": "tshirt"}))
    ok(run(api, site, "liz", {"type": "bounty", "action": "start", "points": [{"pointId": "coins", "points": 5}]}))
    from chalicelib.jobs import ranks

    ranks.run(sites=[site])
    shapes = {"summary": tabs.Summary, "tabs/overview": tabs.Overview, "tabs/activity": activities.ActivityList,
              "tabs/points": tabs.PointsTab, "tabs/rewards": tabs.RewardsTab, "tabs/kpis": tabs.KpisTab,
              "tabs/coupons": tabs.CouponsTab, "tabs/leaderboards": tabs.LeaderboardsTab,
              "tabs/settings": users.UserSettings, "bounties": tabs.BountyList}
    nested = {"tabs/points": ("ledger", tabs.LedgerPage), "summary": ("stats", tabs.Stats)}
    for path, model in shapes.items():
        data = api.ok("GET", f"/sites/{site}/users/liz/{path}")
        model.model_validate(data)
        assert set(data) == _fields(model), path
        if path in nested:
            key, inner = nested[path]
            assert set(data[key]) == _fields(inner), path
    rows = {
        "tabs/points": ("items", tabs.Wallet), "tabs/coupons": ("items", tabs.UserCoupon),
        "tabs/leaderboards": ("items", tabs.LeaderboardPosition), "bounties": ("items", tabs.Bounty),
        "tabs/rewards": ("inProgress", tabs.RewardEntry), "tabs/kpis": ("items", tabs.KpiEntry),
    }
    for path, (key, model) in rows.items():
        data = api.ok("GET", f"/sites/{site}/users/liz/{path}")
        assert data[key], path
        for row in data[key]:
            assert set(row) == _fields(model), (path, row)
    points = api.ok("GET", f"/sites/{site}/users/liz/tabs/points")["ledger"]["items"]
    assert all(set(e) == _fields(tabs.LedgerEntry) for e in points)
    standing = api.ok("GET", f"/sites/{site}/leaderboards/xp_board/standings")
    tabs.Standings.model_validate(standing)
    assert [set(i) for i in standing["items"]] == [_fields(tabs.Standing)]
    assert standing["items"][0]["displayName"] == "Liz"
