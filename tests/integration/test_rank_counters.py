"""Ranks from the counters against a brute-force ranking of the same scores.

The live items are written here the way activity processing writes them (`store.put_live`,
one per user and board, conditional on the item as read), so a test can move hundreds of
scores in a second; blocks and opt-outs go through the API (which marks the user's live items
for the rank job). After every run of the job, every user's rank on the leaderboards tab, the
standings pages and the counters' totals are compared with a ranking computed the plain way:
sort the eligible scores, equal scores share the rank of the first of them ("1224").
"""

from __future__ import annotations

import random
import threading
from typing import Any

import pytest

from chalicelib import clock
from chalicelib.jobs import ranks
from chalicelib.store import ranks as rank_store
from tests.builders import DAY, configure, shift, tab, user
from tests.conftest import Api

BOARD = "xp_board"
PERIODS = ("weekly", "allTime")


class Board:
    """The scores as written, and who is out of the ranking (blocked or opted out)."""

    def __init__(self, api: Api, site: str, uuids: list[str]) -> None:
        self.api, self.site, self.uuids = api, site, uuids
        self.scores: dict[str, tuple[int, str]] = {}  # uuid -> (score, reached at)
        self.out: set[str] = set()
        self.lock = threading.Lock()

    def keys(self) -> dict[str, str]:
        return {period: ranks.current_period_key(period, clock.now(), "Europe/London", "monday") for period in PERIODS}

    def score(self, uuid: str, value: int) -> None:
        """Set the user's score in every period of the board, as a commit would leave it."""
        for _ in range(5):
            seen = rank_store.live_items(self.site, uuid, [BOARD]).get(f"S#L#{BOARD}")
            reached = clock.iso(clock.now())
            entries = {f"c|{period}": {"k": key, "s": value, "r": reached} for period, key in self.keys().items()}
            version = int((seen or {}).get("stateVersion", 0)) + 1
            if rank_store.put_live(self.site, uuid, BOARD, entries, version=version, seen=seen):
                with self.lock:
                    self.scores[uuid] = (value, reached)
                return
        raise AssertionError(f"could not write {uuid}'s live item")

    def block(self, uuid: str, blocked: bool) -> None:
        self.api.ok("POST", f"/sites/{self.site}/users/{uuid}/{'block' if blocked else 'unblock'}")
        (self.out.add if blocked else self.out.discard)(uuid)

    def opt_out(self, uuid: str) -> None:
        settings = self.api.ok("GET", f"/sites/{self.site}/users/{uuid}/settings")
        self.api.ok("PUT", f"/sites/{self.site}/users/{uuid}/settings",
                    {**settings, "optIns": {**settings["optIns"], "showOnLeaderboards": False}})
        self.out.add(uuid)

    def expected(self) -> list[tuple[int, str, int]]:
        """(rank, uuid, score) in standings order, the plain way."""
        kept = sorted(((-score, reached, uuid) for uuid, (score, reached) in self.scores.items()
                       if uuid not in self.out and score > 0))
        listed: list[tuple[int, str, int]] = []
        for position, (negative, _, uuid) in enumerate(kept, start=1):
            rank = listed[-1][0] if listed and listed[-1][2] == -negative else position
            listed.append((rank, uuid, -negative))
        return listed

    def check(self) -> None:
        expected = self.expected()
        for period in PERIODS:
            listed = _standings(self.api, self.site, period, limit=7)
            assert listed == expected, period
            assert _standings(self.api, self.site, period, limit=100) == expected, period
        ranked = {uuid: rank for rank, uuid, _ in expected}
        rows = {uuid: _rows(self.api, self.site, uuid) for uuid in self.uuids}
        for uuid, by_period in rows.items():
            for period in PERIODS:
                assert by_period[period]["rank"] == ranked.get(uuid), (uuid, period)
        for key in self.keys().values():  # the counters count exactly the ranked users
            top = rank_store.histogram_items([(rank_store.histogram_pk(self.site, BOARD, key), "H")])
            assert [sum(rank_store.counts_of(item).values()) for item in top.values()] == [len(expected)]
        from chalicelib.audit.verify import verify

        report = verify([self.site])
        assert report.ok and report.checked["leaderboard periods"] == len(PERIODS), report.summary()


def _standings(api: Api, site: str, period: str, limit: int) -> list[tuple[int, str, int]]:
    out: list[tuple[int, str, int]] = []
    cursor = ""
    while True:
        page = api.ok("GET", f"/sites/{site}/leaderboards/{BOARD}/standings?period={period}&limit={limit}"
                             + (f"&cursor={cursor}" if cursor else ""))
        out += [(i["rank"], i["uuid"], i["score"]) for i in page["items"]]
        if not page["nextCursor"]:
            return out
        cursor = page["nextCursor"]


def _rows(api: Api, site: str, uuid: str) -> dict[str, dict[str, Any]]:
    return {row["period"]: row for row in tab(api, site, uuid, "leaderboards")["items"] if row["leaderboardId"] == BOARD}


def _board(api: Api, site: str, users: int) -> Board:
    configure(api, site)
    uuids = [f"r{n:03d}" for n in range(users)]
    for uuid in uuids:
        user(api, site, uuid, displayName=uuid.upper())
    return Board(api, site, uuids)


def test_ranks_match_a_brute_force_ranking_while_scores_change(api: Api, site: str) -> None:
    rng = random.Random(19)
    board = _board(api, site, 120)
    for uuid in board.uuids:
        board.score(uuid, rng.randint(0, 30))  # few distinct scores: many ties, some zeros
    for uuid in board.uuids[:8]:
        board.block(uuid, True)
    for uuid in board.uuids[8:14]:
        board.opt_out(uuid)
    ranks.run(sites=[site])
    board.check()
    for round_ in range(3):
        movers = rng.sample(board.uuids, 40)
        # Scores move while the job runs: whatever that run saw, the next one settles it.
        moves = [(uuid, rng.choice([0, rng.randint(1, 40)])) for uuid in movers]
        writer = threading.Thread(target=lambda moves=moves: [board.score(u, s) for u, s in moves])
        writer.start()
        ranks.run(sites=[site])
        writer.join()
        board.block(board.uuids[round_], False)  # unblocked: counted again at the score they had
        board.block(board.uuids[20 + round_], True)
        ranks.run(sites=[site])
        board.check()
    assert ranks.run(sites=[site])["written"] == 0  # nothing moved since: nothing written


def test_a_run_that_dies_anywhere_is_finished_by_the_next(api: Api, site: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The job dies (its Lambda times out, the container is lost) after some rank items, after
    some counter items, or just before recording its end: the next run, once the lease has
    expired, finishes it from its rank items and the counters are exact again."""
    rng = random.Random(5)
    board = _board(api, site, 60)
    for uuid in board.uuids:
        board.score(uuid, rng.randint(1, 2000))
    ranks.run(sites=[site])
    board.check()
    moved = 0
    for after in ("put_rank_items", "put_counts", "end_run", "put_counts"):
        for uuid in rng.sample(board.uuids, 25):
            board.score(uuid, rng.randint(0, 2500))
        original = getattr(rank_store, after)
        limit = rng.randint(1, 12)

        def dying(*args: Any, _original: Any = original, _name: str = after, _limit: int = limit,
                  _calls: dict[str, int] = {"n": 0}, **kwargs: Any) -> Any:  # noqa: B006 - one per case
            if _name == "put_rank_items":  # some of the run's rank items written, then the end
                _original(args[0][:_limit])
            elif _name != "end_run" and _calls["n"] < _limit:
                _calls["n"] += 1
                return _original(*args, **kwargs)
            raise RuntimeError("the run dies here")

        monkeypatch.setattr(rank_store, after, dying)
        with pytest.raises(RuntimeError):
            ranks.run(sites=[site])
        monkeypatch.setattr(rank_store, after, original)
        assert ranks.run(sites=[site])["busy"] == 1  # the lease still holds: this pass leaves the board
        moved += 50
        shift(moved)  # past the lease
        ranks.run(sites=[site])
        board.check()
    shift()


@pytest.mark.dates  # a weekly board closes by the site's calendar
def test_period_close_keeps_the_brute_force_final_ranks(api: Api, site: str) -> None:
    rng = random.Random(3)
    board = _board(api, site, 40)
    for uuid in board.uuids:
        board.score(uuid, rng.randint(0, 12))
    board.block(board.uuids[0], True)
    ranks.run(sites=[site])
    final = {uuid: (rank, score) for rank, uuid, score in board.expected()}
    week = board.keys()["weekly"]
    try:
        shift(7 * DAY)
        ranks.run(sites=[site])  # closes the week
        for uuid in board.uuids:
            item = rank_store.rank_items(site, BOARD, [(uuid, week)]).get((uuid, week)) or {}
            assert item.get("finalRank") == (final[uuid][0] if uuid in final else None), uuid
            row = _rows(api, site, uuid)["weekly"]
            assert row["previousRank"] == (final[uuid][0] if uuid in final else None), uuid
            assert row["rank"] is None and row["score"] == 0
    finally:
        shift()


def test_a_tag_a_behaviour_gives_ranks_the_user_on_a_tagged_board(api: Api, site: str, workflow: str) -> None:
    """The behaviour moves no score, only the user's tags: its commit marks the user's live
    items, so the next run counts them on the board that ranks only that tag."""
    from tests.builders import drained, inc, run

    configure(api, site)
    api.ok("POST", f"/sites/{site}/leaderboards", {"id": "vip_board", "name": "VIP", "ranksBy": {"points": "xp"},
                                                    "periods": ["allTime"], "tags": ["vip"]})
    api.ok("POST", f"/sites/{site}/behaviours", {"id": "go_vip", "kind": "simple", "verb": "go_vip", "name": "VIP",
                                                  "prizes": {"addTags": ["vip"]}})
    for uuid in ("ann", "bob"):
        user(api, site, uuid, displayName=uuid.upper())
        inc(api, site, uuid, "xp", 10)
    drained()
    ranks.run(sites=[site])
    assert api.ok("GET", f"/sites/{site}/leaderboards/vip_board/standings")["items"] == []
    assert run(api, site, "bob", {"type": "behaviour", "verb": "go_vip"})["status"] == "SUCCEEDED"
    drained()
    ranks.run(sites=[site])
    items = api.ok("GET", f"/sites/{site}/leaderboards/vip_board/standings")["items"]
    assert [(i["rank"], i["uuid"], i["score"]) for i in items] == [(1, "bob", 10)]
    vip = [r for r in tab(api, site, "bob", "leaderboards")["items"] if r["leaderboardId"] == "vip_board"]
    assert [(r["rank"], r["score"]) for r in vip] == [(1, 10)]


def test_live_items_of_the_layout_before_are_counted_and_restamped_by_the_first_run(api: Api, site: str) -> None:
    """Before the counters, a live item's GSI2 sort key was its uuid alone: the first run of the
    counters' layout reads every live item, counts them, and stamps those with the time, so the
    "changed since" Queries of later runs do not keep finding them."""
    from chalicelib.store import db
    from chalicelib.store.keys import board_live_sk, user_pk

    board = _board(api, site, 6)
    for n, uuid in enumerate(board.uuids):
        board.score(uuid, 10 + n)
    for uuid in board.uuids[:3]:
        db.update(user_pk(site, uuid), board_live_sk(BOARD), "SET GSI2SK = :u", values={":u": uuid}, return_new=False)
    ranks.run(sites=[site])
    board.check()
    keys = [str((db.get(user_pk(site, uuid), board_live_sk(BOARD)) or {})["GSI2SK"]) for uuid in board.uuids]
    assert all("#" in key for key in keys), keys
    try:
        shift(120)  # past the margin: the next run reads nothing
        assert rank_store.live_scores(site, BOARD, clock.iso(clock.now() - ranks.CHANGE_MARGIN)) == []
    finally:
        shift()
