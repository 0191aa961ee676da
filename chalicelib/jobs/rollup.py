"""KPI rollup and period close: the final value, target and met flag of every finished period.

Once a day per site (the schedule runs hourly: sites live in different time zones, and a run
whose run key, the site-local date, is already done costs one GetItem), for every user and
every KPI, the periods (day, week, month, quarter, year, in the site's zone and week start)
that ended since the last complete run are closed: `closed = {kpiId: {value, target, percent,
met}}` is written on the period's bucket item `B#{periodKey}`, which the KPIs tab reads anyway
(it prefers these figures for finished periods). The figures are computed by the engine's
`kpis.period_row` from the bucket and the target valid at the period's start, so they are
deterministic, and they are written once (`attribute_not_exists(closed)`): running the job
twice, or resuming it after a crash half-way, gives identical items.

Which periods: those whose last day lies after the watermark's `through` (the day before the
last complete run) and before today; on a site's first run, the last finished period of each
kind; never more than `MAX_CATCH_UP_DAYS` back. A KPI entry is written when a target applies
to the user or the value is not zero; periods that ended before the user existed are skipped.
A reject processed after the close lowers the bucket but not the closed figures (docs/jobs.md).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

from chalicelib import clock
from chalicelib.engine.kpis import period_row
from chalicelib.engine.periods import (
    WeekStart,
    local_date,
    period_bounds_of_date,
    period_key_of_date,
    previous_period_bounds,
)
from chalicelib.jobs import segments
from chalicelib.models.mechanics import Kpi, SiteMechanics
from chalicelib.store import jobs as store
from chalicelib.store.userstate import parse_time

JOB = "rollup"
KINDS = ("day", "week", "month", "quarter", "year")
_PERIOD_WORD = {"day": "daily", "week": "weekly", "month": "monthly", "quarter": "quarterly", "year": "yearly"}
MAX_CATCH_UP_DAYS = 35
Item = dict[str, Any]


@dataclass(frozen=True)
class Period:
    kind: str
    start: dt.date
    end: dt.date

    @property
    def key(self) -> str:
        """`day:2026-11-01`, `week:2026-11-01` (its first day, whatever the week start)..."""
        if self.kind in ("day", "week"):
            return f"{self.kind}:{self.start.isoformat()}"
        return period_key_of_date(self.kind, self.start)


def periods_to_close(today: dt.date, week_start: WeekStart, closed_through: dt.date | None) -> list[Period]:
    """Finished periods (they end before `today`) not closed by an earlier complete run."""
    out: list[Period] = []
    oldest = today - dt.timedelta(days=MAX_CATCH_UP_DAYS)
    for kind in KINDS:
        current_start, _ = period_bounds_of_date(kind, today, week_start)
        start, end = previous_period_bounds(kind, current_start, week_start)
        while True:
            if closed_through is not None and end <= closed_through:
                break
            out.append(Period(kind, start, end))
            if closed_through is None or end < oldest:
                break
            start, end = previous_period_bounds(kind, start, week_start)
    return out


def closed_figures(mechanics: SiteMechanics, kpis: list[Kpi], period: Period, bucket: Item | None, uuid: str,
                   tags: list[str]) -> dict[str, Any]:
    """`{kpiId: {value, target, percent, met}}` of one user's finished period."""
    from chalicelib.domain.tabs import _kpi_measure

    out: dict[str, Any] = {}
    for kpi in kpis:
        measure = _kpi_measure(kpi, mechanics)
        value = int((bucket or {}).get(measure, 0)) if measure else 0
        row = period_row(kpi, _PERIOD_WORD[period.kind], period.start, period.end, {period.start: value}, uuid,
                         tags)
        if row.target is None and value == 0:
            continue
        out[kpi.id] = {"value": row.value, "target": row.target, "percent": row.percent, "met": row.met}
    return out


def prepare(site: str, site_item: Item, now: dt.datetime, run_key: str, mark: Item | None) -> segments.Plan | None:
    from chalicelib.store import mechanics as mechanics_store

    mechanics = mechanics_store.load(site, fresh=True).mechanics
    kpis = list(mechanics.kpis.values())
    if not kpis:
        return None
    tz = str(site_item.get("timezone", "UTC"))
    week_start: WeekStart = site_item.get("weekStart", "monday")
    today = dt.date.fromisoformat(run_key)
    through = dt.date.fromisoformat(str(mark["through"])) if mark and mark.get("through") else None
    periods = periods_to_close(today, week_start, through)

    def handle_page(users: list[Item]) -> Counter[str]:
        counts: Counter[str] = Counter()
        wanted: list[tuple[Item, Period]] = []
        for user in users:
            created = parse_time(user.get("createdAt"))
            first_day = local_date(created, tz) if created else None
            wanted.extend((user, p) for p in periods if first_day is None or first_day <= p.end)
        found = store.buckets(site, [(str(u["uuid"]), p.key) for u, p in wanted])
        for user, period in wanted:
            uuid = str(user["uuid"])
            bucket = found.get((uuid, period.key))
            if bucket is not None and "closed" in bucket:
                counts["alreadyClosed"] += 1
                continue
            figures = closed_figures(mechanics, kpis, period, bucket, uuid, list(user.get("tags") or []))
            if not figures:
                continue
            if store.close_bucket(site, uuid, period.key, figures):
                counts["closed"] += 1
                counts["met"] += sum(1 for f in figures.values() if f["met"])
            else:
                counts["alreadyClosed"] += 1
        return counts

    return segments.Plan(handle_page, {"through": (today - dt.timedelta(days=1)).isoformat()})


def run(now: dt.datetime | None = None, sites: list[str] | None = None, **options: Any) -> dict[str, Any]:
    """Close the finished KPI periods of every site (or the given ones) as of `now`."""
    return segments.run_job(JOB, prepare, now or clock.now(), sites, **options)
