"""Calendar periods in a site's time zone.

Every boundary (limits, KPIs, leaderboards, expiry) is a local calendar date in the site's IANA
zone; instants are converted only at the edges, so DST changes never shift a boundary: a week
that contains a DST change is still seven local days, 167 or 169 hours long.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

PeriodKind = Literal["day", "week", "month", "quarter", "year"]
WeekStart = Literal["monday", "sunday"]

# KPI and leaderboard periods use adjectives on the wire; limits and repeats use nouns.
PERIOD_OF: dict[str, PeriodKind] = {
    "day": "day",
    "week": "week",
    "month": "month",
    "quarter": "quarter",
    "year": "year",
    "daily": "day",
    "weekly": "week",
    "monthly": "month",
    "quarterly": "quarter",
    "yearly": "year",
}


@lru_cache(maxsize=256)
def zone(tz: str) -> ZoneInfo:
    """The ZoneInfo for an IANA name (cached: building one reads the tz database)."""
    return ZoneInfo(tz)


def _utc(instant: dt.datetime) -> dt.datetime:
    if instant.tzinfo is None:
        raise ValueError("instants must be timezone-aware (UTC)")
    return instant


def local_date(instant_utc: dt.datetime, tz: str) -> dt.date:
    """The site-local calendar date of an instant."""
    return _utc(instant_utc).astimezone(zone(tz)).date()


def local_midnight_utc(day: dt.date, tz: str) -> dt.datetime:
    """The UTC instant at which local `day` begins.

    Where a DST gap swallows midnight, fold=0 resolves 00:00 with the pre-transition offset,
    which is exactly the transition instant: the first instant that belongs to `day`.
    """
    local = dt.datetime(day.year, day.month, day.day, tzinfo=zone(tz))
    return local.astimezone(dt.UTC)


def period_bounds_of_date(
    kind: str, day: dt.date, week_start: WeekStart = "monday"
) -> tuple[dt.date, dt.date]:
    """First and last local date (both inclusive) of the period of `kind` containing `day`."""
    k = PERIOD_OF[kind]
    if k == "day":
        return day, day
    if k == "week":
        first_weekday = 0 if week_start == "monday" else 6
        start = day - dt.timedelta(days=(day.weekday() - first_weekday) % 7)
        return start, start + dt.timedelta(days=6)
    if k == "month":
        start = day.replace(day=1)
        return start, _next_month(start) - dt.timedelta(days=1)
    if k == "quarter":
        start = dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
        return start, _add_months(start, 3) - dt.timedelta(days=1)
    start = dt.date(day.year, 1, 1)
    return start, dt.date(day.year, 12, 31)


def _next_month(first: dt.date) -> dt.date:
    return _add_months(first, 1)


def _add_months(first: dt.date, months: int) -> dt.date:
    index = first.year * 12 + first.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def period_bounds(
    kind: str, instant_utc: dt.datetime, tz: str, week_start: WeekStart = "monday"
) -> tuple[dt.date, dt.date]:
    """First and last local date (both inclusive) of the period containing an instant."""
    return period_bounds_of_date(kind, local_date(instant_utc, tz), week_start)


def period_key_of_date(kind: str, day: dt.date, week_start: WeekStart = "monday") -> str:
    """A stable, sortable key for the period containing `day` (e.g. `week:2026-11-23`).

    Weeks are keyed by their first day rather than an ISO week number, because ISO numbering
    assumes Monday weeks and sites may start on Sunday.
    """
    k = PERIOD_OF[kind]
    start, _ = period_bounds_of_date(k, day, week_start)
    if k in ("day", "week"):
        return f"{k}:{start.isoformat()}"
    if k == "month":
        return f"month:{start.year:04d}-{start.month:02d}"
    if k == "quarter":
        return f"quarter:{start.year:04d}-Q{(start.month - 1) // 3 + 1}"
    return f"year:{start.year:04d}"


def period_key(kind: str, instant_utc: dt.datetime, tz: str, week_start: WeekStart = "monday") -> str:
    """The key of the period containing an instant, in the site's zone."""
    return period_key_of_date(kind, local_date(instant_utc, tz), week_start)


def previous_period_bounds(
    kind: str, start: dt.date, week_start: WeekStart = "monday"
) -> tuple[dt.date, dt.date]:
    """The period just before the one starting on `start`."""
    return period_bounds_of_date(kind, start - dt.timedelta(days=1), week_start)


def last_n_periods(
    kind: str, instant_utc: dt.datetime, tz: str, week_start: WeekStart = "monday", n: int = 5
) -> list[tuple[dt.date, dt.date]]:
    """The current period first, then the `n - 1` before it ("current and the four before")."""
    bounds = [period_bounds(kind, instant_utc, tz, week_start)]
    while len(bounds) < n:
        bounds.append(previous_period_bounds(kind, bounds[-1][0], week_start))
    return bounds


def period_instants(
    kind: str, start: dt.date, tz: str, week_start: WeekStart = "monday"
) -> tuple[dt.datetime, dt.datetime]:
    """UTC instants of a period's start (inclusive) and end (exclusive: the next one's start)."""
    first, last = period_bounds_of_date(kind, start, week_start)
    return local_midnight_utc(first, tz), local_midnight_utc(last + dt.timedelta(days=1), tz)


def expiry_instant(earned_at_utc: dt.datetime, days: int, tz: str) -> dt.datetime:
    """When a credit (or an expiring achievement) lapses: 00:00 site time, `days` days after
    the local date it was earned."""
    return local_midnight_utc(local_date(earned_at_utc, tz) + dt.timedelta(days=days), tz)
