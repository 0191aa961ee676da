import datetime as dt

from _engine_fixtures import board, utc

from chalicelib.engine.leaderboards import (
    FinalRank,
    RankChange,
    Score,
    is_ranked,
    previous_rank,
    rank_change,
    rank_scores,
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
