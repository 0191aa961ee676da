"""Scheduled jobs against users built by real activities: KPI rollup and period close,
leaderboard period close, point expiry, the operator's jobs route.

Activities are processed at chosen instants by moving the clock (`at()`; the suite's conftest
puts it back after each test); the jobs take `now` as a parameter. Expected figures are worked
out by hand from spec/domain.md. Every instant is found from the clock when the test starts (the
TEST_CLOCK_ANCHOR of a date run, or today): the next Sunday on which New York's clocks go back,
the next spring in London, the next Monday; so each test crosses the same year end, DST change
and Sunday week start wherever it starts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest

from chalicelib import clock
from chalicelib.jobs import expiry, ranks, rollup, segments
from chalicelib.store import db
from tests.builders import at, drained, dst_change_day, local_instant, local_today, target_window, week_start
from tests.conftest import Api, make_key, run

pytestmark = pytest.mark.dates

DAY = dt.timedelta(days=1)
NYC, LONDON = "America/New_York", "Europe/London"


def points(api: Api, site: str, uuid: str, action: str, point_id: str, amount: int) -> dict[str, Any]:
    done: dict[str, Any] = run(api, site, uuid, {"type": "point", "action": action,
                                                 "points": [{"pointId": point_id, "points": amount}]})
    assert done["status"] == "SUCCEEDED", done
    return done


def tab(api: Api, site: str, uuid: str, name: str, query: str = "") -> Any:
    return api.ok("GET", f"/sites/{site}/users/{uuid}/tabs/{name}{query}")


def user_items(site: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Every item of the site's users (a test-only Scan, on a client of its own)."""
    raw = boto3.client("dynamodb")
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for page in raw.get_paginator("scan").paginate(TableName=db.table()):
        for item in page["Items"]:
            row = db.deserialize(item)
            if str(row["PK"]).startswith(f"USER#{site}#"):
                out[(row["PK"], row["SK"])] = row
    return out


def forget_job(site: str, job: str) -> None:
    """Lose the job's watermark and checkpoints, as if it had never run on the site."""
    for (pk, sk) in list(_site_items(site)):
        if sk.startswith(f"JOB#{job}"):
            db.delete(pk, sk)


def _site_items(site: str) -> dict[tuple[str, str], dict[str, Any]]:
    raw = boto3.client("dynamodb")
    out = raw.query(TableName=db.table(), KeyConditionExpression="PK = :pk",
                    ExpressionAttributeValues={":pk": {"S": f"SITE#{site}"}})
    return {(i["PK"]["S"], i["SK"]["S"]): db.deserialize(i) for i in out["Items"]}


def closed_of(items: dict[tuple[str, str], dict[str, Any]], site: str, uuid: str, key: str) -> Any:
    return (items.get((f"USER#{site}#{uuid}", f"B#{key}")) or {}).get("closed")


# ---------------------------------------------------------------- segments


def test_segments_cover_every_uuid_once() -> None:
    for count in (1, 2, 3, 7, 62):
        parts = segments.split(count)
        assert len(parts) == count and parts[0].lo == segments.LOWEST
        for uuid in ("0", "00a", "9zz", "A", "Zed", "alice", "bob", "zzz", "~x", " lead", "ünï", "😀", "z" * 128):
            assert sum(1 for s in parts if s.lo <= uuid <= s.hi) == 1, (count, uuid)
    with pytest.raises(ValueError):
        segments.split(63)


def test_periods_to_close_on_a_sunday_week() -> None:
    # Sunday 2026-11-08: the week Sun 1 .. Sat 7 November has just ended.
    first = rollup.periods_to_close(dt.date(2026, 11, 8), "sunday", None)
    assert {(p.kind, p.key) for p in first} == {("day", "day:2026-11-07"), ("week", "week:2026-11-01"),
                                                ("month", "month:2026-10"), ("quarter", "quarter:2026-Q3"),
                                                ("year", "year:2025")}
    # The next day, with the watermark at the 7th: only Sunday the 8th.
    assert [p.key for p in rollup.periods_to_close(dt.date(2026, 11, 9), "sunday", dt.date(2026, 11, 7))] == [
        "day:2026-11-08"]


# ---------------------------------------------------------------- KPI rollup and period close

KPI_SITE = {"id": "nyc", "name": "New York", "timezone": NYC, "weekStart": "sunday"}
MEMBERS = ("alice", "bob", "carol", "dave", "erin", "frank")


def kpi_body(today: dt.date) -> dict[str, Any]:
    """xp_goal, its one target valid around `today` (and for the year and more the tests move on)."""
    return {"id": "xp_goal", "name": "XP", "tracks": {"points": "xp"},
            "targets": [{**target_window(today), "assignTo": {"everyone": True},
                         "values": {"daily": 20, "weekly": 50, "quarterly": 200}}]}


@dataclass(frozen=True)
class DstWeek:
    """The New York site and the week (Sunday to Saturday) in which its clocks go back."""

    site: str
    sunday: dt.date
    kpi: dict[str, Any]

    @property
    def saturday(self) -> dt.date:
        return self.sunday + 6 * DAY

    @property
    def next_sunday(self) -> dt.date:
        return self.sunday + 7 * DAY

    @property
    def close(self) -> dt.datetime:
        """01:00 on the Sunday after, when the week has just ended."""
        return local_instant(self.next_sunday, 1, 0, NYC)

    @property
    def new_year(self) -> dt.datetime:
        """01:00 on the 1st of January after it (the week is always in the year's last quarter)."""
        return local_instant(dt.date(self.sunday.year + 1, 1, 1), 1, 0, NYC)


@pytest.fixture
def kpi_site(api: Api, workflow: str) -> DstWeek:
    """America/New_York, weeks from Sunday; the first Sunday at least two days after the clock's
    today on which DST ends (02:00 EDT -> 01:00 EST: always the first Sunday of November, so the
    week is in the year's last quarter). Its week runs from 00:00 EDT on that Sunday to 24:00
    EST on the Saturday: 169 hours. Every member earns 30 xp at 00:30 EDT on the Sunday (its
    first hour) and 5 xp at 23:30 EST on the Saturday (its last hour); alice earns 20 more then
    (55 >= 50: met), and 100 xp both at 23:30 EDT on the Saturday before and at 00:30 EST on the
    Sunday after, which belong to the weeks around it. The members are created first, at the
    clock's now, before every period the tests close.
    """
    site = KPI_SITE["id"]
    today = local_today(NYC)
    sunday = dst_change_day(today + 2 * DAY, NYC, clocks_go="back")
    assert sunday.weekday() == 6 and sunday.month == 11, sunday
    week = DstWeek(site, sunday, kpi_body(today))
    assert (week.close - local_instant(sunday, 0, 0, NYC)) == dt.timedelta(hours=169 + 1)
    api.ok("POST", "/sites", KPI_SITE)
    api.ok("POST", f"/sites/{site}/point-types", {"id": "xp", "name": "XP"})
    api.ok("POST", f"/sites/{site}/kpis", week.kpi)
    for uuid in MEMBERS:
        api.ok("POST", f"/sites/{site}/users", {"uuid": uuid, "displayName": uuid.title()})
    at(local_instant(sunday - DAY, 23, 30, NYC))  # the Saturday before, 23:30 EDT
    points(api, site, "alice", "increment", "xp", 100)
    at(local_instant(sunday, 0, 30, NYC))  # the Sunday, 00:30 EDT
    for uuid in MEMBERS:
        points(api, site, uuid, "increment", "xp", 30)
    at(local_instant(week.saturday, 23, 30, NYC))  # the Saturday, 23:30 EST
    points(api, site, "alice", "increment", "xp", 25)
    for uuid in MEMBERS[1:]:
        points(api, site, uuid, "increment", "xp", 5)
    at(local_instant(week.next_sunday, 0, 30, NYC))  # the Sunday after, 00:30 EST
    points(api, site, "alice", "increment", "xp", 100)
    return week


def test_kpi_week_closes_across_dst_and_the_tab_and_summary_show_it(api: Api, kpi_site: DstWeek) -> None:
    week, site = kpi_site, kpi_site.site
    done = rollup.run(week.close, [site])
    assert done["complete"] and done["users"] == len(MEMBERS)
    assert done["bySite"][site]["runKey"] == week.next_sunday.isoformat()
    items = user_items(site)
    # The whole local week, both DST-shifted edges included, nothing from the weeks around it.
    assert closed_of(items, site, "alice", f"week:{week.sunday}") == {
        "xp_goal": {"value": 55, "target": 50, "percent": 110, "met": True}}
    for uuid in MEMBERS[1:]:
        assert closed_of(items, site, uuid, f"week:{week.sunday}") == {
            "xp_goal": {"value": 35, "target": 50, "percent": 70, "met": False}}, uuid
    # The day that ended (the Saturday), daily target 20.
    assert closed_of(items, site, "alice", f"day:{week.saturday}") == {
        "xp_goal": {"value": 25, "target": 20, "percent": 125, "met": True}}
    assert closed_of(items, site, "bob", f"day:{week.saturday}")["xp_goal"]["met"] is False
    # The running week is not closed.
    assert closed_of(items, site, "alice", f"week:{week.next_sunday}") is None

    at(week.close)
    # The target changes afterwards: the closed week keeps the target it was judged by.
    target = week.kpi["targets"][0]
    api.ok("PUT", f"/sites/{site}/kpis/xp_goal",
           {**week.kpi, "targets": [{**target, "values": {"daily": 20, "weekly": 60, "quarterly": 200}}]})
    from chalicelib.store import mechanics

    mechanics._cache.clear()
    rows = tab(api, site, "alice", "kpis")["items"][0]["periods"]
    assert rows[0] == {"start": week.next_sunday.isoformat(), "end": (week.next_sunday + 6 * DAY).isoformat(),
                       "value": 100, "target": 60, "percent": 166, "met": True}
    assert rows[1] == {"start": week.sunday.isoformat(), "end": week.saturday.isoformat(), "value": 55,
                       "target": 50, "percent": 110, "met": True}
    assert tab(api, site, "bob", "kpis")["items"][0]["periods"][1]["met"] is False
    # The week before was never closed (the first run closes the last finished period):
    # it reads live, alice's 100 xp of the Saturday before.
    assert rows[2]["start"] == (week.sunday - 7 * DAY).isoformat() and rows[2]["value"] == 100
    # A met target lights the summary's KPI badge; a missed one (and one only partly met) not.
    alice = api.ok("GET", f"/sites/{site}/users/alice/summary")["stats"]["kpis"]
    assert alice == {"count": 1, "recent": True}


def test_kpi_quarter_close(api: Api, kpi_site: DstWeek) -> None:
    week, site = kpi_site, kpi_site.site
    year = week.sunday.year
    rollup.run(week.close, [site])
    done = rollup.run(week.new_year, [site])  # 1 January 01:00 EST
    assert done["complete"]
    items = user_items(site)
    # Q4: alice 100 + 30 + 25 + 100 = 255 >= 200; the others 35.
    assert closed_of(items, site, "alice", f"quarter:{year}-Q4") == {
        "xp_goal": {"value": 255, "target": 200, "percent": 127, "met": True}}
    assert closed_of(items, site, "bob", f"quarter:{year}-Q4") == {
        "xp_goal": {"value": 35, "target": 200, "percent": 17, "met": False}}
    # Periods without a target and without a value are not written: no monthly or yearly target.
    assert closed_of(items, site, "bob", f"month:{year}-12") is None
    # The catch-up closed the weeks after the Saturday as well (zero against 50), not the
    # running one (the week holding 1 January).
    running = week_start(dt.date(year + 1, 1, 1), "sunday")
    assert closed_of(items, site, "bob", f"week:{running - 7 * DAY}")["xp_goal"]["value"] == 0
    assert closed_of(items, site, "bob", f"week:{running}") is None
    at(week.new_year)
    rows = tab(api, site, "alice", "kpis", "?period=quarterly")["items"][0]["periods"]
    assert rows[1] == {"start": f"{year}-10-01", "end": f"{year}-12-31", "value": 255, "target": 200,
                       "percent": 127, "met": True}


def test_rollup_twice_and_rollup_resumed_give_the_same_items(api: Api, kpi_site: DstWeek,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    site, close = kpi_site.site, kpi_site.close
    # 1. Interrupted after about half the users (a Lambda out of time), then resumed.
    first = rollup.run(close, [site], page_size=2, budget=segments.Budget(users=3))
    assert not first["complete"] and 0 < first["users"] < len(MEMBERS)
    partial = user_items(site)
    closed_users = {pk for (pk, sk), i in partial.items() if sk == f"B#week:{kpi_site.sunday}" and "closed" in i}
    assert 0 < len(closed_users) < len(MEMBERS)
    second = rollup.run(close, [site], page_size=2)
    assert second["complete"] and second["users"] == len(MEMBERS) - first["users"]
    resumed = user_items(site)

    # 2. The same close in one run, from scratch.
    for (pk, sk), item in resumed.items():
        if "closed" in item:
            db.update(pk, sk, "REMOVE closed", return_new=False)
    forget_job(site, "rollup")
    assert rollup.run(close, [site])["complete"]
    assert user_items(site) == resumed

    # 3. Twice: the second call for the same day does nothing; a forced re-run writes nothing new.
    again = rollup.run(close, [site])
    assert again["bySite"][site]["skipped"] is True
    forget_job(site, "rollup")
    rerun = rollup.run(close, [site], segments=3, workers=2)
    assert rerun["complete"] and rerun["bySite"][site].get("closed", 0) == 0
    assert user_items(site) == resumed

    # 4. A crash half-way (the store fails on the 4th write), then the next run.
    for (pk, sk), item in resumed.items():
        if "closed" in item:
            db.update(pk, sk, "REMOVE closed", return_new=False)
    forget_job(site, "rollup")
    from chalicelib.store import jobs as job_store

    real = job_store.close_bucket
    calls = {"n": 0}

    def failing(*args: Any, **kwargs: Any) -> bool:
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("lost the connection")
        return real(*args, **kwargs)

    monkeypatch.setattr(job_store, "close_bucket", failing)
    with pytest.raises(RuntimeError):
        rollup.run(close, [site], page_size=2)
    monkeypatch.setattr(job_store, "close_bucket", real)
    assert rollup.run(close, [site], page_size=2)["complete"]
    assert user_items(site) == resumed


# ---------------------------------------------------------------- leaderboard period close


def board_row(api: Api, site: str, uuid: str) -> dict[str, Any]:
    rows = tab(api, site, uuid, "leaderboards")["items"]
    row: dict[str, Any] = next(r for r in rows if r["leaderboardId"] == "xp_board" and r["period"] == "weekly")
    return row


def test_previous_rank_is_the_last_known_final_rank(api: Api, game: str) -> None:
    """London, weeks from Monday, the first three from the Monday after the clock's today.
    Week 1: alice 50, bob 30. Week 2: bob 10, alice absent. Week 3: carol 40, alice 20. The
    rank job ran in week 1 and not again until week 3, so it closes weeks 1 and 2 then."""
    site = game
    monday = week_start(local_today(LONDON), "monday") + 7 * DAY
    week1, week2, week3 = (local_instant(monday + n * 7 * DAY + 2 * DAY, 12, 0, LONDON) for n in range(3))
    at(week1)
    points(api, site, "alice", "increment", "xp", 50)
    points(api, site, "bob", "increment", "xp", 30)
    drained()  # every score item set (just after each commit) before the pass reads them
    ranks.run(week1, [site])
    at(week2)
    points(api, site, "bob", "increment", "xp", 10)
    at(week3)
    points(api, site, "carol", "increment", "xp", 40)
    points(api, site, "alice", "increment", "xp", 20)
    drained()
    ranks.run(week3, [site])
    alice = board_row(api, site, "alice")
    assert (alice["rank"], alice["previousRank"], alice["change"], alice["new"]) == (2, 1, -1, False)
    # bob's last final rank is week 2's (1st, alone), not week 1's 2nd.
    bob = board_row(api, site, "bob")
    assert (bob["rank"], bob["previousRank"], bob["change"], bob["new"]) == (None, 1, None, False)
    carol = board_row(api, site, "carol")
    assert (carol["rank"], carol["previousRank"], carol["new"]) == (1, None, True)
    # The final ranks of both weeks are kept on the score items.
    items = user_items(site)
    first, second = f"S#K#xp_board#week:{monday}", f"S#K#xp_board#week:{monday + 7 * DAY}"
    assert items[(f"USER#{site}#alice", first)]["finalRank"] == 1
    assert items[(f"USER#{site}#bob", first)]["finalRank"] == 2
    assert items[(f"USER#{site}#bob", second)]["finalRank"] == 1


# ---------------------------------------------------------------- point expiry


def stars(api: Api, site: str, uuid: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The stars wallet and every ledger entry of the user (all pages)."""
    entries: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = tab(api, site, uuid, "points", "?limit=100" + (f"&cursor={cursor}" if cursor else ""))
        entries += page["ledger"]["items"]
        cursor = page["ledger"]["nextCursor"]
        if not cursor:
            wallet = next(w for w in page["items"] if w["pointId"] == "stars")
            return wallet, [e for e in entries if e["pointId"] == "stars"]


def balanced(api: Api, site: str, uuid: str) -> dict[str, Any]:
    wallet, entries = stars(api, site, uuid)
    assert wallet["balance"] == sum(e["amount"] for e in entries)
    assert wallet["balance"] == (wallet["earned"] - wallet["spent"] - wallet["redeemed"] - wallet["expired"]
                                 - wallet["adjusted"])
    return wallet


def test_expiry_oldest_first_on_the_right_days(api: Api, game: str) -> None:
    """London: stars expire 30 days after the local date earned, at 00:00 local. The first day
    on which London's clocks go forward, at least 28 days after the clock's today, is S (a
    Sunday in March): +100 on S-27 (expires on S+3 at 00:00 BST, 23:00Z the day before), +50
    on S-17 (S+13), +30 on S-7 (S+23), all earned in GMT; redeeming 60 on S-2 takes them from
    the first batch. The demoting ladder's level needs 150 of earned - expired."""
    site = game
    spring = dst_change_day(local_today(LONDON) + 28 * DAY, LONDON, clocks_go="forward")
    first = spring - 27 * DAY
    api.ok("POST", f"/sites/{site}/rewards", {"id": "star_gold", "kind": "level", "ladder": "stargazer",
                                              "canDemote": True, "name": "Star gold",
                                              "criteria": [{"pointId": "stars", "points": 150}]})
    for day, amount in ((first, 100), (first + 10 * DAY, 50), (first + 20 * DAY, 30)):
        at(local_instant(day, 12, 0, LONDON))
        points(api, site, "alice", "increment", "stars", amount)
        balanced(api, site, "alice")
    assert "star_gold" in [r["rewardId"] for r in tab(api, site, "alice", "rewards")["completed"]]
    at(local_instant(first + 25 * DAY, 12, 0, LONDON))
    points(api, site, "alice", "redeem", "stars", 60)
    assert balanced(api, site, "alice")["balance"] == 120

    def expire(when: dt.datetime) -> dict[str, Any]:
        done = expiry.run(when, [site])
        assert done["complete"]
        at(when)
        return balanced(api, site, "alice")

    def evening_before(earned: dt.date) -> dt.datetime:
        return local_instant(earned + 29 * DAY, 23, 30, LONDON)

    def after_midnight(earned: dt.date) -> dt.datetime:
        return local_instant(earned + 30 * DAY, 0, 30, LONDON)

    steps = [
        (evening_before(first), 120, 0),            # 23:30 the evening before: nothing is due yet
        (after_midnight(first), 80, 40),            # 00:30 BST on the day: the first batch's unspent 40
        (evening_before(first + 10 * DAY), 80, 40),  # the evening before the second batch's day
        (after_midnight(first + 10 * DAY), 30, 90),  # the second batch, 50
        (after_midnight(first + 20 * DAY), 0, 120),  # the third, 30
    ]
    assert steps[1][0].hour == 23  # 00:30 BST is 23:30Z: the batches expire in summer time
    for n, (when, balance, expired) in enumerate(steps):
        wallet = expire(when)
        assert (wallet["balance"], wallet["expired"]) == (balance, expired), when
        if n == 1:
            # 180 - 40 = 140 < 150 on a demoting ladder: the level is lost.
            rewards = tab(api, site, "alice", "rewards")
            assert "star_gold" not in [r["rewardId"] for r in rewards["completed"]]
            assert "star_gold" in [r["rewardId"] for r in rewards["inProgress"]]
    _, entries = stars(api, site, "alice")
    assert sorted(e["amount"] for e in entries if e["kind"] == "expiry") == [-50, -40, -30]
    assert all(e["bookedUnder"] == "expired" for e in entries if e["kind"] == "expiry")
    # Again, and again from scratch (watermark lost): nothing more expires.
    last = steps[-1][0]
    assert expiry.run(last, [site])["bySite"][site]["skipped"] is True
    forget_job(site, "expiry")
    done = expiry.run(last + dt.timedelta(minutes=15), [site])
    assert done["complete"] and "usersExpired" not in done["bySite"][site]
    assert balanced(api, site, "alice")["expired"] == 120
    # bob and carol never had stars: untouched.
    assert stars(api, site, "bob")[0]["expired"] == 0


# ---------------------------------------------------------------- wiring and the route


def test_schedules_are_wired_and_run_locally(api: Api, site: str) -> None:
    import app as app_module
    from local.runtime import _schedules, scheduled_event

    names = {getattr(s, "name", "") for s in app_module.app.event_sources}
    assert {"rank_leaderboards", "kpi_rollup", "point_expiry"} <= names
    periods = {getattr(handler, "func", handler).__name__: period for period, handler in _schedules()}
    assert periods["kpi_rollup"] == 3600 and periods["point_expiry"] == 3600
    assert app_module.kpi_rollup(scheduled_event(), None)["complete"] is True
    assert app_module.point_expiry(scheduled_event(), None)["sites"] >= 1


def test_jobs_route(api: Api, site: str) -> None:
    api.ok("POST", f"/sites/{site}/point-types", {"id": "xp", "name": "XP"})
    api.ok("POST", f"/sites/{site}/kpis", kpi_body(local_today(LONDON)))
    api.ok("POST", f"/sites/{site}/users", {"uuid": "zed"})
    later = clock.now() + 30 * DAY  # a `now` of the operator's choosing, after the user exists
    status, data, _ = api.post("/jobs/rollup/run", {"site": site, "now": clock.iso(later)})
    assert status == 200 and data["complete"] and data["users"] == 1, data
    assert data["bySite"][site]["runKey"] == later.astimezone(ZoneInfo(LONDON)).date().isoformat()
    status, data, _ = api.call("POST", "/jobs/expiry/run")  # no body: every site, now
    assert status == 200 and data["job"] == "expiry"
    status, data, _ = api.post("/jobs/ranks/run", {})
    assert status == 200 and data["job"] == "ranks"
    status, data, _ = api.post("/jobs/nope/run", {})
    assert status == 404 and data["error"]["type"] == "NotFound"
    status, data, _ = api.post("/jobs/rollup/run", {"now": "yesterday"})
    assert status == 400 and data["error"]["details"][0]["field"] == "now"
    status, data, _ = api.post("/jobs/rollup/run", {"site": "ghost"})
    assert status == 404 and data["error"]["type"] == "SiteNotFound"
    status, data, _ = api.post("/jobs/rollup/run", {"segments": 0})
    assert status == 400
    status, data, _ = api.post("/jobs/rollup/run", {}, token=make_key(api, site, "admin"))
    assert status == 403 and data["error"]["type"] == "Forbidden"


def test_expiry_retries_when_a_debit_races_it(api: Api, game: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A debit landing between the job's read and its transaction cancels the transaction on a
    condition: the job reads the user again and expires what is left, once."""
    from botocore.exceptions import ClientError

    site = game
    earned = local_today(LONDON) + DAY
    at(local_instant(earned, 12, 0, LONDON))
    points(api, site, "alice", "increment", "stars", 100)
    at(local_instant(earned + 6 * DAY, 12, 0, LONDON))
    points(api, site, "alice", "redeem", "stars", 10)
    due = local_instant(earned + 30 * DAY, 0, 30, LONDON)  # 00:30 local, 30 days after the day earned
    real = db.transact
    calls = {"n": 0}

    def racing(ops: Any, token: str | None = None) -> None:
        calls["n"] += 1
        if calls["n"] == 1:  # the batch changed under us: as DynamoDB answers it, as the store raises it
            raise db.refusal(ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                                          "CancellationReasons": [{"Code": "None"},
                                                                  {"Code": "ConditionalCheckFailed"}]},
                                         "TransactWriteItems"))
        real(ops, token)

    monkeypatch.setattr(db, "transact", racing)
    done = expiry.run(due, [site])
    assert done["complete"] and calls["n"] == 2
    assert done["bySite"][site]["points:stars"] == 90
    at(due)
    wallet = balanced(api, site, "alice")
    assert (wallet["balance"], wallet["expired"]) == (0, 90)
    assert [e["amount"] for e in stars(api, site, "alice")[1] if e["kind"] == "expiry"] == [-90]
