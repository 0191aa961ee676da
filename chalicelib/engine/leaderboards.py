"""Leaderboards: who is ranked, ranking ("1224"), and the change against a previous period."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from chalicelib.models.mechanics import Leaderboard


def ranked_measure(board: Leaderboard) -> str:
    """The period measure a board ranks by (domain.md: points earned of one type within the
    period, or the count of one behaviour): `pts:{point}` or `beh:{verb}`."""
    ranks_by = board.ranks_by
    return f"pts:{ranks_by.points}" if hasattr(ranks_by, "points") else f"beh:{ranks_by.behaviour}"


@dataclass(frozen=True)
class Score:
    """A user's live score on one board and period, and when it reached that value."""

    uuid: str
    score: int
    reached_at: dt.datetime


@dataclass(frozen=True)
class RankedScore:
    rank: int
    uuid: str
    score: int
    reached_at: dt.datetime


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


def rank_scores(scores: Iterable[Score], include_inactive: bool = False) -> list[RankedScore]:
    """Standard competition ranking ("1224"): equal scores share a rank; they are listed in the
    order they reached the score (earliest first), then by uuid for a stable order.

    Scores of zero or less are left out unless the board includes inactive users.
    """
    kept = [s for s in scores if include_inactive or s.score > 0]
    kept.sort(key=lambda s: (-s.score, s.reached_at, s.uuid))
    ranked: list[RankedScore] = []
    for position, s in enumerate(kept, start=1):
        rank = ranked[-1].rank if ranked and ranked[-1].score == s.score else position
        ranked.append(RankedScore(rank, s.uuid, s.score, s.reached_at))
    return ranked


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
