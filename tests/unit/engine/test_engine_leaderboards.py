import datetime as dt
import itertools
import random

from _engine_fixtures import board

from chalicelib.engine.leaderboards import (
    FinalRank,
    RankChange,
    ScoreUpdate,
    Slot,
    adopted_entries,
    competition_rank,
    competition_ranks,
    counted_score,
    deltas_by_level,
    entry_of,
    is_ranked,
    moved,
    next_entries,
    previous_rank,
    rank_change,
    restated_entries,
    score_moves,
    slot_of,
)

D = dt.date


def test_standard_competition_ranking_1224_and_across_pages() -> None:
    assert competition_ranks([50, 40, 40, 10]) == [1, 2, 2, 4]
    # A page after the first goes on from the last entry listed before it (2 entries, rank 2, 40).
    assert competition_ranks([40, 10, 10, 5], listed=2, last_rank=2, last_score=40) == [2, 4, 4, 6]
    assert competition_ranks([]) == []


def test_who_is_counted_and_at_what() -> None:
    b = board({"id": "xp", "ranksBy": {"points": "xp"}, "periods": ["weekly"]})
    inactive = board({"id": "xp", "ranksBy": {"points": "xp"}, "periods": ["weekly"], "includeInactive": True})
    assert counted_score(b, 5, True) == 5
    assert counted_score(b, 0, True) is None and counted_score(b, 7, False) is None
    assert counted_score(inactive, 0, True) == 0


def test_slots_are_ordered_as_their_scores() -> None:
    rng = random.Random(1)
    scores = sorted({0, 1, -1, 1023, 1024, 1025, 2047, 2048, -1024, -1025, 10**12, -(10**12),
                     *(rng.randint(-(10**9), 10**9) for _ in range(2000)), *(rng.randint(-3000, 3000) for _ in range(2000))})
    slots = [slot_of(s) for s in scores]
    assert all((a.band, a.bucket) <= (b.band, b.bucket) for a, b in itertools.pairwise(slots))
    assert slot_of(1000) == Slot(0, 1000) and slot_of(4096).band == 3  # one value per bucket below 1,024


def test_ranks_from_the_three_levels_match_a_brute_force_count() -> None:
    rng = random.Random(2)
    counted: dict[str, int] = {}
    bands: dict[int, int] = {}
    buckets: dict[int, dict[int, int]] = {}
    values: dict[Slot, dict[int, int]] = {}
    for _ in range(30):  # rounds of moves, as the rank job makes them
        moves = []
        for uuid in rng.sample([f"u{n}" for n in range(300)], 60):
            after = rng.choice([None, rng.randint(-50, 50), rng.randint(0, 5000), rng.randint(0, 10**7)])
            moves.append((counted.get(uuid), after))
            if after is None:
                counted.pop(uuid, None)
            else:
                counted[uuid] = after
        band_moves, bucket_moves, value_moves = deltas_by_level(score_moves(moves))
        bands = moved(bands, band_moves)
        for band, m in bucket_moves.items():
            buckets[band] = moved(buckets.get(band, {}), m)
        for slot, m in value_moves.items():
            values[slot] = moved(values.get(slot, {}), m)
        for score in set(counted.values()):
            slot = slot_of(score)
            expected = 1 + sum(1 for s in counted.values() if s > score)
            assert competition_rank(score, bands, buckets.get(slot.band, {}), values.get(slot, {})) == expected
    assert sum(bands.values()) == len(counted)


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
