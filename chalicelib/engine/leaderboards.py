"""Leaderboards: who is ranked, ranking ("1224"), and the change against a previous period."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.models.mechanics import Leaderboard


def ranked_measure(board: Leaderboard) -> str:
    """The period measure a board ranks by (domain.md: points earned of one type within the
    period, or the count of one behaviour): `pts:{point}` or `beh:{verb}`."""
    ranks_by = board.ranks_by
    return f"pts:{ranks_by.points}" if hasattr(ranks_by, "points") else f"beh:{ranks_by.behaviour}"


def is_ranked(
    board: Leaderboard,
    *,
    tags: Iterable[str],
    blocked: bool,
    member: bool,
    show_on_leaderboards: bool = True,
) -> bool:
    """Blocked users, non-members and opted-out users are never ranked; a board with tags
    ranks only users having any of them."""
    if blocked or not member or not show_on_leaderboards:
        return False
    return not board.tags or not set(board.tags).isdisjoint(tags)


def competition_ranks(scores: Sequence[int], listed: int = 0, last_rank: int = 0,
                      last_score: int | None = None) -> list[int]:
    """The ranks of `scores` in standings order ("1224"), following `listed` entries of which
    the last had `last_rank` and `last_score` (a page after the first)."""
    ranks = []
    for position, score in enumerate(scores, start=listed + 1):
        last_rank = last_rank if score == last_score else position
        last_score = score
        ranks.append(last_rank)
    return ranks


@dataclass(frozen=True)
class FinalRank:
    """A user's rank kept at the close of one period (`period_start`, a local date)."""

    period_start: dt.date
    rank: int | None
    score: int


def previous_rank(history: Sequence[FinalRank], current_period_start: dt.date) -> int | None:
    """The last known final rank with a score above zero in an earlier period, however long ago."""
    earlier = [
        f for f in history if f.period_start < current_period_start and f.score > 0 and f.rank is not None
    ]
    return max(earlier, key=lambda f: f.period_start).rank if earlier else None


@dataclass(frozen=True)
class RankChange:
    previous_rank: int | None
    change: int | None
    """previousRank - rank: positive means the user moved up."""
    new: bool


def rank_change(
    period: str, rank: int | None, history: Sequence[FinalRank], current_period_start: dt.date | None
) -> RankChange:
    """The leaderboards tab's previousRank / change / new for one board and period.

    All-time boards have no earlier period: no previous rank, no change, and not `new`.
    A user not on the board has no change; `new` is reported only for ranked users.
    """
    if period == "allTime" or current_period_start is None:
        return RankChange(None, None, False)
    previous = previous_rank(history, current_period_start)
    if rank is None:
        return RankChange(previous, None, False)
    if previous is None:
        return RankChange(None, None, True)
    return RankChange(previous, previous - rank, False)


# ---------------------------------------------------------------- live scores
#
# A user's live scores on one board are one item: per period kind of the board (`daily`,
# `weekly`, `allTime`...) the current entry `c|{period}` and the one before it `p|{period}`,
# each `{"k": period key, "s": score, "r": reached at (ISO)}`. The previous entry is what the
# rank job closes a period from when the user has already moved on to the next one.

Entry = dict[str, Any]


def current_attr(period: str) -> str:
    return f"c|{period}"


def previous_attr(period: str) -> str:
    return f"p|{period}"


def entries_held(item: Mapping[str, Any]) -> dict[str, Entry]:
    """The entries of a live item (a copy: the item as read is left as it was)."""
    return {k: dict(v) for k, v in item.items() if k.startswith(("c|", "p|"))}


@dataclass(frozen=True)
class ScoreUpdate:
    """A period's score as the user's state item has it now. `rose`: the commit raised it
    (True), moved it without raising it (False), or only restates it (None: a refresh)."""

    period: str
    key: str
    score: int
    rose: bool | None


def next_entries(held: Mapping[str, Any], updates: Iterable[ScoreUpdate], now: str) -> dict[str, Entry]:
    """The entries of a live item after `updates`, from the entries it holds (`held`).

    Within a period the reached-at time moves only when the score rose; a new period's first
    entry takes `now` and pushes the current one to previous. A newer period already held (a
    writer with a later clock) is left alone, and so is a period the user has no score in.
    """
    out: dict[str, Entry] = entries_held(held)
    for update in updates:
        current = out.get(current_attr(update.period))
        if current is not None and current["k"] == update.key:
            reached = now if update.rose else current["r"]
            out[current_attr(update.period)] = {"k": update.key, "s": update.score, "r": reached}
        elif (current is not None and str(current["k"]) > update.key) or (update.score == 0 and update.rose is None):
            continue  # a newer period is held, or a refresh of a period the user has no score in
        else:
            if current is not None:
                out[previous_attr(update.period)] = current
            out[current_attr(update.period)] = {"k": update.key, "s": update.score, "r": now}
    return out


def restated_entries(held: Mapping[str, Any], period: str, key: str, score: int) -> dict[str, Entry]:
    """The entries after an ended period's score changed (a reject after the period turned):
    the entry holding that period, current or previous, takes the new score."""
    out: dict[str, Entry] = entries_held(held)
    for attr in (current_attr(period), previous_attr(period)):
        if (out.get(attr) or {}).get("k") == key:
            out[attr]["s"] = score
    return out


def adopted_entries(held: Mapping[str, Any], period: str, entry: Entry) -> dict[str, Entry]:
    """The entries with an older layout's score of one period (`entry`) taken in where the live
    item has nothing newer for it: as current, or as previous behind a later current."""
    out: dict[str, Entry] = entries_held(held)
    current, previous = out.get(current_attr(period)), out.get(previous_attr(period))
    if current is None:
        out[current_attr(period)] = entry
    elif str(current["k"]) < str(entry["k"]):
        out[previous_attr(period)], out[current_attr(period)] = current, entry
    elif str(current["k"]) > str(entry["k"]) and (previous is None or str(previous["k"]) < str(entry["k"])):
        out[previous_attr(period)] = entry
    return out


def entry_of(item: Mapping[str, Any], period: str, key: str) -> Entry | None:
    """The live item's entry for one period key (current or previous), if it holds one."""
    for attr in (current_attr(period), previous_attr(period)):
        entry = item.get(attr)
        if entry is not None and entry.get("k") == key:
            return dict(entry)
    return None


# ---------------------------------------------------------------- the rank histogram
#
# A board period's ranks are counted, not listed: how many users are counted at each score,
# in three levels of counters (`store.ranks`), so a user's competition rank is 1 + the users
# above their score, read from three small items however large the board. A score falls in a
# band (its magnitude: the bits above the top BAND_BITS) and a bucket within it (its top
# BAND_BITS bits), so a bucket spans 2**band values: one value each below 1,024, a 512th of the
# magnitude above (at most 1,024 distinct values per bucket item below 2**20).

BAND_BITS = 10
Counts = dict[int, int]


@dataclass(frozen=True)
class Slot:
    """Where a score is counted: its band and its bucket (both ordered as the scores are)."""

    band: int
    bucket: int


def slot_of(score: int) -> Slot:
    """The band and bucket of `score`; both grow with the score, negative ones included."""
    shift = max(0, abs(score).bit_length() - BAND_BITS)
    if score >= 0:
        return Slot(shift, score >> shift)
    return Slot(-shift - 1, -((-score) >> shift))


def count_above(score: int, bands: Mapping[int, int], buckets: Mapping[int, int], values: Mapping[int, int]) -> int:
    """The users counted above `score`: every band above its band, every bucket above its
    bucket in that band (`buckets`), every value above it in its bucket (`values`)."""
    slot = slot_of(score)
    return (sum(n for band, n in bands.items() if band > slot.band)
            + sum(n for bucket, n in buckets.items() if bucket > slot.bucket)
            + sum(n for value, n in values.items() if value > score))


def competition_rank(score: int, bands: Mapping[int, int], buckets: Mapping[int, int],
                     values: Mapping[int, int]) -> int:
    """Standard competition rank ("1224") of a counted score: 1 + the users above it."""
    return 1 + count_above(score, bands, buckets, values)


def counted_score(board: Leaderboard, score: int, eligible: bool) -> int | None:
    """The score a user is counted at on a board period, or None when they are not counted
    (not eligible, or no score above zero on a board that leaves inactive users out)."""
    return score if eligible and (board.include_inactive or score > 0) else None


def score_moves(moves: Iterable[tuple[int | None, int | None]]) -> Counts:
    """Per score, how many users arrive (+) or leave (-), from (counted before, counted now)."""
    out: Counts = {}
    for before, after in moves:
        if before == after:
            continue
        if before is not None:
            out[before] = out.get(before, 0) - 1
        if after is not None:
            out[after] = out.get(after, 0) + 1
    return {score: n for score, n in out.items() if n}


def moved(counts: Mapping[int, int], deltas: Mapping[int, int]) -> Counts:
    """`counts` plus `deltas`, keys whose count reaches zero left out."""
    out = dict(counts)
    for key, n in deltas.items():
        out[key] = out.get(key, 0) + n
    return {key: n for key, n in out.items() if n}


def deltas_by_level(deltas: Mapping[int, int]) -> tuple[Counts, dict[int, Counts], dict[Slot, Counts]]:
    """Score deltas grouped for the three levels: per band, per bucket of each band, per value
    of each bucket."""
    bands: Counts = {}
    buckets: dict[int, Counts] = {}
    values: dict[Slot, Counts] = {}
    for score, n in deltas.items():
        slot = slot_of(score)
        bands[slot.band] = bands.get(slot.band, 0) + n
        band = buckets.setdefault(slot.band, {})
        band[slot.bucket] = band.get(slot.bucket, 0) + n
        values.setdefault(slot, {})[score] = n
    return bands, buckets, values
