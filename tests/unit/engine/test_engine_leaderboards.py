import datetime as dt

from _engine_fixtures import board, utc

from chalicelib.engine.leaderboards import (
    FinalRank,
    RankChange,
    Score,
    ScoreUpdate,
    adopted_entries,
    entry_of,
    is_ranked,
    next_entries,
    previous_rank,
    rank_change,
    rank_scores,
    restated_entries,
)

D = dt.date


def test_standard_competition_ranking_1224_ties_by_time_reached() -> None:
    scores = [
        Score("dora", 10, utc(2026, 3, 1, 9)),
        Score("bob", 40, utc(2026, 3, 1, 12)),
        Score("alice", 50, utc(2026, 3, 1, 8)),
        Score("carol", 40, utc(2026, 3, 1, 11)),
        Score("zero", 0, utc(2026, 3, 1, 7)),
    ]
    ranked = rank_scores(scores)
    assert [(r.rank, r.uuid, r.score) for r in ranked] == [
        (1, "alice", 50),
        (2, "carol", 40),
        (2, "bob", 40),
        (4, "dora", 10),
    ]


def test_include_inactive_lists_zero_scores_last() -> None:
    ranked = rank_scores(
        [Score("a", 0, utc(2026, 1, 1)), Score("b", 3, utc(2026, 1, 2)), Score("c", 0, utc(2026, 1, 1))],
        include_inactive=True,
    )
    assert [(r.rank, r.uuid) for r in ranked] == [(1, "b"), (2, "a"), (2, "c")]


def test_previous_rank_skips_a_period_with_no_score() -> None:
    history = [
        FinalRank(D(2026, 2, 16), 5, 12),
        FinalRank(D(2026, 2, 23), 3, 20),
        FinalRank(D(2026, 3, 2), None, 0),  # the week just before: no score
    ]
    assert previous_rank(history, D(2026, 3, 9)) == 3
    assert rank_change("weekly", 1, history, D(2026, 3, 9)) == RankChange(3, 2, False)
    assert rank_change("weekly", 6, history, D(2026, 3, 9)) == RankChange(3, -3, False)
    # Ranks of the current or later periods are not "previous".
    assert previous_rank([FinalRank(D(2026, 3, 9), 1, 9)], D(2026, 3, 9)) is None


def test_new_when_no_previous_rank_and_all_time_shows_no_change() -> None:
    assert rank_change("daily", 4, [], D(2026, 3, 9)) == RankChange(None, None, True)
    assert rank_change("allTime", 4, [FinalRank(D(2026, 3, 1), 9, 5)], None) == RankChange(None, None, False)
    assert rank_change("weekly", None, [FinalRank(D(2026, 3, 2), 2, 5)], D(2026, 3, 9)) == RankChange(
        2, None, False
    )


def test_who_is_ranked() -> None:
    b = board({"id": "xp", "ranksBy": {"points": "xp"}, "periods": ["weekly"], "tags": ["sales"]})
    assert is_ranked(b, tags=["sales"], blocked=False, member=True)
    assert not is_ranked(b, tags=["support"], blocked=False, member=True)
    assert not is_ranked(b, tags=["sales"], blocked=True, member=True)
    assert not is_ranked(b, tags=["sales"], blocked=False, member=False)
    assert not is_ranked(b, tags=["sales"], blocked=False, member=True, show_on_leaderboards=False)


# ---------------------------------------------------------------- live scores

W1, W2, W3 = "week:2026-11-23", "week:2026-11-30", "week:2026-12-07"
T1, T2 = "2026-11-24T10:00:00Z", "2026-12-01T09:00:00Z"


def test_a_score_that_rises_moves_its_time_and_one_that_falls_keeps_it() -> None:
    held = {"c|weekly": {"k": W1, "s": 10, "r": T1}, "uuid": "alice", "stateVersion": 3}
    rose = next_entries(held, [ScoreUpdate("weekly", W1, 15, True)], T2)
    assert rose == {"c|weekly": {"k": W1, "s": 15, "r": T2}}
    fell = next_entries(held, [ScoreUpdate("weekly", W1, 4, False)], T2)
    assert fell == {"c|weekly": {"k": W1, "s": 4, "r": T1}}
    assert held["c|weekly"] == {"k": W1, "s": 10, "r": T1}  # the item as read is left as it was


def test_a_new_period_pushes_the_current_entry_to_previous() -> None:
    held = {"c|weekly": {"k": W1, "s": 10, "r": T1}, "p|weekly": {"k": "week:2026-11-16", "s": 3, "r": T1}}
    out = next_entries(held, [ScoreUpdate("weekly", W2, 5, True), ScoreUpdate("allTime", "all", 15, True)], T2)
    assert out == {"c|weekly": {"k": W2, "s": 5, "r": T2}, "p|weekly": {"k": W1, "s": 10, "r": T1},
                   "c|allTime": {"k": "all", "s": 15, "r": T2}}


def test_a_newer_period_held_and_a_refresh_without_a_score_are_left_alone() -> None:
    held = {"c|weekly": {"k": W3, "s": 1, "r": T2}}
    assert next_entries(held, [ScoreUpdate("weekly", W2, 9, True)], T1) == held  # a writer with an older clock
    assert next_entries({}, [ScoreUpdate("weekly", W2, 0, None)], T2) == {}
    # A refresh of a period the user has a score in writes it with its time (the first write).
    assert next_entries({}, [ScoreUpdate("weekly", W2, 4, None)], T2) == {"c|weekly": {"k": W2, "s": 4, "r": T2}}


def test_an_ended_periods_new_score_lands_on_the_entry_that_holds_it() -> None:
    held = {"c|weekly": {"k": W2, "s": 5, "r": T2}, "p|weekly": {"k": W1, "s": 10, "r": T1}}
    assert restated_entries(held, "weekly", W1, 7) == {"c|weekly": {"k": W2, "s": 5, "r": T2},
                                                       "p|weekly": {"k": W1, "s": 7, "r": T1}}
    assert restated_entries(held, "weekly", "week:2026-11-09", 1) == held  # no longer held: nothing to restate
    assert entry_of(held, "weekly", W1) == {"k": W1, "s": 10, "r": T1} and entry_of(held, "weekly", W3) is None


def test_an_older_layouts_score_is_adopted_where_nothing_newer_holds_its_period() -> None:
    old = {"k": W2, "s": 8, "r": T1}
    assert adopted_entries({}, "weekly", old) == {"c|weekly": old}
    later = {"c|weekly": {"k": W3, "s": 2, "r": T2}}
    assert adopted_entries(later, "weekly", old) == {**later, "p|weekly": old}
    earlier = {"c|weekly": {"k": W1, "s": 4, "r": T1}}
    assert adopted_entries(earlier, "weekly", old) == {"c|weekly": old, "p|weekly": earlier["c|weekly"]}
    same = {"c|weekly": {"k": W2, "s": 9, "r": T2}}
    assert adopted_entries(same, "weekly", old) == same  # the live figure is the newer one
