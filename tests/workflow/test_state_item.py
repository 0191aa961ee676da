"""The user's state item (store/userstate.py): what an activity changes is one update of one item,
the first write after a period ended moves that period to its bucket, and the KPI rollup sees
a period's figures whether they are still on the state item or already moved.

Activities run at chosen instants (`at()`), days ahead of the clock's today, on a UTC site.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from chalicelib.audit.verify import verify
from chalicelib.jobs import rollup
from chalicelib.store import db
from chalicelib.store.keys import USER_STATE_SK, bucket_sk, user_pk
from chalicelib.store.userstate import measure_attr, period_attr
from tests.builders import at, drained, local_instant, local_today, stored_state, target_window
from tests.conftest import Api, run

pytestmark = pytest.mark.dates

SITE = "stateitem"
DAY = dt.timedelta(days=1)


def earn(api: Api, uuid: str, amount: int) -> None:
    done = run(api, SITE, uuid, {"type": "point", "action": "increment",
                                 "points": [{"pointId": "xp", "points": amount}]})
    assert done["status"] == "SUCCEEDED", done


@pytest.fixture
def first_day(api: Api, workflow: str) -> dt.date:
    """A UTC site with xp and a daily xp KPI (target 20); alice and bob; the day the test starts on."""
    today = local_today("UTC")
    api.ok("POST", "/sites", {"id": SITE, "name": "State item", "timezone": "UTC"})
    api.ok("POST", f"/sites/{SITE}/point-types", {"id": "xp", "name": "XP"})
    api.ok("POST", f"/sites/{SITE}/kpis", {"id": "xp_goal", "name": "XP", "tracks": {"points": "xp"},
                                           "targets": [{**target_window(today), "assignTo": {"everyone": True},
                                                        "values": {"daily": 20}}]})
    for uuid in ("alice", "bob"):
        api.ok("POST", f"/sites/{SITE}/users", {"uuid": uuid, "displayName": uuid.title()})
    return today + 2 * DAY


def bucket(uuid: str, day: dt.date) -> dict[str, Any] | None:
    return db.get(user_pk(SITE, uuid), bucket_sk(f"day:{day}"))


def test_a_period_moves_out_on_the_next_write_and_the_rollup_sees_it_in_either_place(
        api: Api, first_day: dt.date) -> None:
    d1, d2 = first_day, first_day + DAY
    at(local_instant(d1, 10, 0, "UTC"))
    earn(api, "alice", 30)
    earn(api, "bob", 5)
    alice = stored_state("alice", SITE)
    assert alice.periods["day"] == f"day:{d1}" and alice.measures[f"day:{d1}"]["pts:xp"] == 30
    assert alice.wallet("xp").balance == 30 and alice.stats["activities"] == 1
    assert bucket("alice", d1) is None  # the current day lives on the state item only

    # The day ended; nobody acted since: the rollup reads it from the state items.
    done = rollup.run(local_instant(d2, 1, 0, "UTC"), [SITE])
    assert done["complete"]
    assert bucket("alice", d1)["closed"] == {"xp_goal": {"value": 30, "target": 20, "percent": 150, "met": True}}
    assert bucket("bob", d1)["closed"]["xp_goal"]["met"] is False

    # alice's next write moves the day out (next to the closed figures) and starts the new one.
    at(local_instant(d2, 10, 0, "UTC"))
    earn(api, "alice", 7)
    alice = stored_state("alice", SITE)
    assert alice.periods["day"] == f"day:{d2}" and [k for k in alice.measures if k.startswith("day:")] == [f"day:{d2}"]
    assert alice.measures[f"day:{d2}"]["pts:xp"] == 7
    moved = bucket("alice", d1)
    assert moved is not None and moved["pts:xp"] == 30 and moved["n:activities"] == 1 and "closed" in moved
    assert alice.stats["activities"] == 2 and alice.measures["all"]["pts:xp"] == 37

    # Every reader adds the two places: the KPIs tab shows both days, bob's still unmoved.
    rows = api.ok("GET", f"/sites/{SITE}/users/alice/tabs/kpis?period=daily")["items"][0]["periods"]
    assert (rows[0]["value"], rows[1]["value"], rows[1]["met"]) == (7, 30, True)
    rows = api.ok("GET", f"/sites/{SITE}/users/bob/tabs/kpis?period=daily")["items"][0]["periods"]
    assert (rows[0]["value"], rows[1]["value"]) == (0, 5)
    assert api.ok("GET", f"/sites/{SITE}/users/alice/summary")["stats"]["activities"] == {"count": 2, "recent": True}
    report = verify([SITE])
    assert report.ok, report.summary()


def test_a_write_between_the_read_and_the_move_makes_the_mover_read_again(
        api: Api, first_day: dt.date, monkeypatch: pytest.MonkeyPatch) -> None:
    d1, d2 = first_day, first_day + DAY
    at(local_instant(d1, 10, 0, "UTC"))
    earn(api, "alice", 30)
    original = db.transact
    raced: list[int] = []

    def transact(operations: Any, token: str | None = None) -> None:
        moving = [op for op in operations if "Update" in op and op["Update"]["Key"]["SK"]["S"] == USER_STATE_SK
                  and period_attr("day") in op["Update"].get("ExpressionAttributeNames", {}).values()]
        if moving and not raced:
            # A credit for the ended day lands after the mover read the item (a gift processed
            # at 23:59:59, say): the move, decided on the older figures, must not go through.
            db.update(user_pk(SITE, "alice"), USER_STATE_SK, "ADD #m :one, v :one", values={":one": 1},
                      names={"#m": measure_attr("day", "pts:xp")}, return_new=False)
            raced.append(1)
        original(operations, token)

    monkeypatch.setattr(db, "transact", transact)
    at(local_instant(d2, 10, 0, "UTC"))
    earn(api, "alice", 7)
    assert raced == [1]
    # The mover read again and moved everything the ended day had: nothing lost, nothing twice.
    assert bucket("alice", d1)["pts:xp"] == 31
    alice = stored_state("alice", SITE)
    assert alice.measures[f"day:{d2}"]["pts:xp"] == 7 and alice.wallet("xp").balance == 37


def test_a_step_dying_between_its_commit_and_the_scores_sets_them_on_its_retry(
        api: Api, game: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The scores are written after the commit: a run that dies there (here a throttle on the
    first live score write, which the ASL retries) finds its work ended on the retry and sets
    every board period from the state item, as if nothing had happened."""
    from chalicelib.activities.effects import TransientError
    from chalicelib.store import ranks
    from chalicelib.store.keys import board_live_sk

    original = ranks.put_live
    died: list[str] = []

    def put_live(*args: Any, **kwargs: Any) -> bool:
        if not died:
            died.append(args[2])
            raise TransientError("throttled after the commit")
        return original(*args, **kwargs)

    def scores() -> list[Any]:
        week = stored_state("alice", game).periods["week"]
        item = db.get(user_pk(game, "alice"), board_live_sk("xp_board"))
        if item is None:
            return [None, None]
        assert item["c|weekly"]["k"] == week and item["c|allTime"]["k"] == "all"
        return [(item[attr]["s"], item["stateVersion"]) for attr in ("c|weekly", "c|allTime")]

    monkeypatch.setattr(ranks, "put_live", put_live)
    earn_xp = {"type": "point", "action": "increment", "points": [{"pointId": "xp", "points": 10}]}
    done = run(api, game, "alice", earn_xp)
    # The commit carried the finish: the status reads SUCCEEDED while the run is still dying.
    assert done["status"] == "SUCCEEDED", done
    drained()  # the retry finds the work ended and sets the scores from the state item
    assert died == ["xp_board"]
    assert scores() == [(10, 1), (10, 1)]
    done = run(api, game, "alice", {**earn_xp, "points": [{"pointId": "xp", "points": 5}]})
    assert done["status"] == "SUCCEEDED", done
    drained()
    alice = stored_state("alice", game)
    assert scores() == [(15, alice.version)] * 2 and alice.version == 2
    assert alice.wallet("xp").balance == 15 and alice.stats["activities"] == 2
    report = verify([game])
    assert report.ok, report.summary()


def test_the_live_items_are_written_from_the_commit_and_a_write_in_between_makes_it_read_again(
        api: Api, game: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The activity's own user is pinned: the commit requires the state item's version as read,
    so the live items are set from what the commit left, with no read after it. A credit that
    lands between the read and the commit fails the commit's condition: the step reads again,
    and the live item carries the credit too."""
    from chalicelib.store import ranks
    from chalicelib.store.keys import board_live_sk

    reads: list[str] = []
    original_live_items = ranks.live_items

    def live_items(site: str, uuid: str, *args: Any, **kwargs: Any) -> Any:
        reads.append(uuid)
        return original_live_items(site, uuid, *args, **kwargs)

    monkeypatch.setattr(ranks, "live_items", live_items)
    earn_xp = {"type": "point", "action": "increment", "points": [{"pointId": "xp", "points": 10}]}
    assert run(api, game, "alice", earn_xp)["status"] == "SUCCEEDED"
    assert reads == []  # nothing read back after the commit

    original = db.transact
    raced: list[int] = []
    commits: list[int] = []

    def transact(operations: Any, token: str | None = None) -> None:
        touches = [op for op in operations if "Update" in op and op["Update"]["Key"]["SK"]["S"] == USER_STATE_SK
                   and op["Update"]["Key"]["PK"]["S"] == user_pk(game, "alice")]
        commits.append(len(touches))
        if touches and not raced:
            # Another writer credits alice's all-time xp measure after the step read her state.
            db.update(user_pk(game, "alice"), USER_STATE_SK, "ADD #m :three, v :one",
                      values={":three": 3, ":one": 1}, names={"#m": measure_attr("all", "pts:xp")},
                      return_new=False)
            raced.append(1)
        original(operations, token)

    monkeypatch.setattr(db, "transact", transact)
    assert run(api, game, "alice", {**earn_xp, "points": [{"pointId": "xp", "points": 5}]})["status"] == "SUCCEEDED"
    drained()
    assert raced == [1] and commits == [1, 1]  # the pinned commit was refused and made again
    alice = stored_state("alice", game)
    # Adds commute, so the wallet and the measure would be right either way; the live item shows
    # the second run was decided on the state as it was then (18, not the 15 of the first read).
    assert alice.measures["all"]["pts:xp"] == 18 and alice.wallet("xp").balance == 15
    live = db.get(user_pk(game, "alice"), board_live_sk("xp_board"))
    assert live is not None and live["c|allTime"]["s"] == 18 and live["stateVersion"] == alice.version
    assert reads == []  # the step's second run was pinned on what it read again
