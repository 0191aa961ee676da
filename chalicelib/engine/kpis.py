"""KPIs: which target applies to a user, a period's value, and what an activity adds.

Values are kept as daily buckets (site-local date -> amount) so that any period's value is a
sum of whole days, whatever the period kind, and a reject only has to lower one bucket.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from chalicelib.engine.periods import PERIOD_OF, WeekStart, last_n_periods
from chalicelib.models.mechanics import (
    AssignEveryone,
    AssignTags,
    AssignUsers,
    Kpi,
    KpiTarget,
    SiteMechanics,
    TracksBehaviour,
    TracksPoints,
    TracksReward,
    TracksRewardKind,
)

# The wire names of KPI periods, keyed by period kind, for TargetValues.
_VALUE_FIELD = {
    "day": "daily",
    "week": "weekly",
    "month": "monthly",
    "quarter": "quarterly",
    "year": "yearly",
}


def _priority(target: KpiTarget, uuid: str, tags: Iterable[str]) -> int | None:
    """Lower wins: a user target, then a tag target, then everyone. None when the target is
    not assigned to the user."""
    assign = target.assign_to
    if isinstance(assign, AssignUsers):
        return 0 if uuid in assign.users else None
    if isinstance(assign, AssignTags):
        return 1 if not set(assign.tags).isdisjoint(tags) else None
    assert isinstance(assign, AssignEveryone)
    return 2


def choose_target(kpi: Kpi, uuid: str, tags: Iterable[str], period_start: dt.date, period: str) -> int | None:
    """The target value for a user's period: the target valid on the period's first day.

    User beats tag beats everyone; between two tag targets the one listed earlier in the KPI's
    `targets` wins.
    A more specific target without a value for this period kind lets the next one answer.
    """
    tags = list(tags)
    field = _VALUE_FIELD[PERIOD_OF[period]]
    best: tuple[tuple[int, int], int] | None = None
    for index, target in enumerate(kpi.targets):
        if not (target.valid_from <= period_start <= target.valid_to):
            continue
        rank = _priority(target, uuid, tags)
        value = target.values.for_period(field)
        if rank is None or value is None:
            continue
        key = (rank, index)
        if best is None or key < best[0]:
            best = (key, value)
    return best[1] if best else None


def period_value(buckets: Mapping[dt.date, int], start: dt.date, end: dt.date) -> int:
    """Sum of the daily buckets from `start` to `end`, both inclusive."""
    if end < start:
        return 0
    span = (end - start).days + 1
    if span <= len(buckets):
        return sum(buckets.get(start + dt.timedelta(days=i), 0) for i in range(span))
    return sum(v for d, v in buckets.items() if start <= d <= end)


@dataclass(frozen=True)
class KpiPeriodRow:
    start: dt.date
    end: dt.date
    value: int
    target: int | None
    percent: int | None
    met: bool | None


def period_row(
    kpi: Kpi,
    period: str,
    start: dt.date,
    end: dt.date,
    buckets: Mapping[dt.date, int],
    uuid: str,
    tags: Iterable[str],
) -> KpiPeriodRow:
    """One period row: percent = floor(100 * value / target), not capped; nulls without target."""
    value = period_value(buckets, start, end)
    target = choose_target(kpi, uuid, tags, start, period)
    if target is None:
        return KpiPeriodRow(start, end, value, None, None, None)
    # Floor division floors towards minus infinity, which is right for a negative value too
    # (points net of rejections can go below zero within a period).
    return KpiPeriodRow(start, end, value, target, (100 * value) // target, value >= target)


def kpi_rows(
    kpi: Kpi,
    period: str,
    now: dt.datetime,
    tz: str,
    buckets: Mapping[dt.date, int],
    uuid: str,
    tags: Iterable[str],
    week_start: WeekStart = "monday",
    n: int = 5,
) -> list[KpiPeriodRow]:
    """The KPIs tab: the current period first and the `n - 1` before it."""
    tags = list(tags)
    return [
        period_row(kpi, period, start, end, buckets, uuid, tags)
        for start, end in last_n_periods(period, now, tz, week_start, n)
    ]


def has_target_for(kpi: Kpi, uuid: str, tags: Iterable[str], day: dt.date) -> bool:
    """Whether any target valid on `day` is assigned to the user (the stats bar's KPI count)."""
    tags = list(tags)
    return any(
        t.valid_from <= day <= t.valid_to and _priority(t, uuid, tags) is not None for t in kpi.targets
    )


def kpi_deltas(
    site: SiteMechanics,
    *,
    verb: str | None = None,
    behaviour_ids: Iterable[str] = (),
    points_earned: Mapping[str, int] | None = None,
    rewards_unlocked: Iterable[str] = (),
    sign: int = 1,
) -> dict[str, int]:
    """How much one activity moves each KPI (for the bucket of the activity's local date).

    `points_earned` is the change of `earned` per point type (behaviour and prize points,
    increments, gifts and bounties received); `verb` the behaviour activity's verb (counted
    once per activity); `behaviour_ids` the behaviours it awarded; `rewards_unlocked` the
    reward ids it unlocked. A reject passes the same with `sign=-1`.
    """
    points_earned = points_earned or {}
    awarded = set(behaviour_ids)
    unlocked = list(rewards_unlocked)
    out: dict[str, int] = {}
    for kpi in site.kpis.values():
        tracks = kpi.tracks
        delta = 0
        if isinstance(tracks, TracksPoints):
            delta = points_earned.get(tracks.points, 0)
        elif isinstance(tracks, TracksBehaviour):
            if tracks.behaviour in site.simple_by_verb:
                delta = int(verb == tracks.behaviour)
            else:
                delta = int(tracks.behaviour in awarded)
        elif isinstance(tracks, TracksRewardKind):
            delta = sum(
                1 for rid in unlocked if rid in site.rewards and site.rewards[rid].kind == tracks.reward_kind
            )
        elif isinstance(tracks, TracksReward):
            delta = sum(1 for rid in unlocked if rid == tracks.reward)
        if delta:
            out[kpi.id] = sign * delta
    return out
