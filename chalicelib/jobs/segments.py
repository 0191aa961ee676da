"""Running a job over every user of a site: segments of the users index, pages, checkpoints.

A site's users are GSI1's partitions `{site}#USERS#{nn}` (16 shards, merged), sorted by uuid. A run of a job on a site
has a run key (the site-local date of `now`), and the uuid key space is split into N segments
(ranges of GSI1SK, queried with BETWEEN) processed independently: in sequence or by a small
thread pool here, by a Distributed Map of Lambdas in AWS (docs/jobs.md). Each segment reads
its users a page at a time and stores a checkpoint (the last uuid done) after every page, so
a run cut short (a crash, a Lambda timeout, a spent `Budget`) resumes where it stopped. What
a page does must be idempotent: a page that was being processed when the run stopped is done
again. When every segment is done the site's watermark `JOB#{job}` records the run key and the
job's own fields; a later call for the same run key does nothing.
"""

from __future__ import annotations

import datetime as dt
import string
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from chalicelib.engine.periods import local_date
from chalicelib.store import jobs as store

Item = dict[str, Any]
PAGE_SIZE = 100

# Integrators' uuids are mostly digits and ASCII letters (UUIDs, hex, base-36/62 ids); segments
# cut that alphabet evenly. Every other uuid still falls in exactly one segment: the first
# starts below any printable character, the last ends above any character.
ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase
LOWEST = " "
_TOP = "\U0010ffff"
MAX_UUID = 128
HIGHEST = _TOP * (MAX_UUID + 1)


@dataclass(frozen=True)
class Segment:
    """Users with `lo <= uuid <= hi` (GSI1SK BETWEEN lo AND hi)."""

    index: int
    count: int
    lo: str
    hi: str

    @property
    def name(self) -> str:
        return f"{self.index:02d}of{self.count:02d}"


def split(count: int) -> list[Segment]:
    """N segments covering every possible uuid exactly once."""
    if not 1 <= count <= len(ALPHABET):
        raise ValueError(f"segments must be between 1 and {len(ALPHABET)}, not {count}")
    cuts = [ALPHABET[i * len(ALPHABET) // count] for i in range(1, count)]
    los = [LOWEST, *cuts]
    # The greatest uuid sorting before a one-character cut: the character before it, then the
    # greatest character as often as a uuid can be long.
    his = [chr(ord(cut) - 1) + _TOP * MAX_UUID for cut in cuts] + [HIGHEST]
    return [Segment(i, count, lo, hi) for i, (lo, hi) in enumerate(zip(los, his, strict=True))]


@dataclass
class Budget:
    """How much one call may do before it stops and leaves the rest to the next call: a
    number of users (tests) or a monotonic deadline (a Lambda's remaining time)."""

    users: int | None = None
    deadline: float | None = None
    spent: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def spend(self, users: int) -> None:
        with self._lock:
            self.spent += users

    @property
    def exhausted(self) -> bool:
        if self.users is not None and self.spent >= self.users:
            return True
        return self.deadline is not None and time.monotonic() >= self.deadline


PageHandler = Callable[[list[Item]], Counter[str]]


@dataclass
class Plan:
    """What a job does on one site for one run: its page handler and, once every segment is
    done, the fields its watermark keeps for the next run."""

    handle_page: PageHandler
    watermark: dict[str, Any] = field(default_factory=dict)


Prepare = Callable[[str, Item, dt.datetime, str, Item | None], Plan | None]


@dataclass
class SegmentResult:
    done: bool
    users: int
    counts: Counter[str]


def run_segment(site: str, job: str, run_key: str, segment: Segment, handle_page: PageHandler, *,
                now: dt.datetime, page_size: int = PAGE_SIZE, budget: Budget | None = None) -> SegmentResult:
    state = store.checkpoint(site, job, run_key, segment.name)
    if state and state.get("done"):
        return SegmentResult(True, 0, Counter())
    last: str | None = str(state["lastUuid"]) if state and state.get("lastUuid") is not None else None
    total = int(state.get("users", 0)) if state else 0
    users_now = 0
    counts: Counter[str] = Counter()
    while True:
        if budget is not None and budget.exhausted:
            return SegmentResult(False, users_now, counts)
        users, more = store.users_page(site, segment.lo, segment.hi, after=last, limit=page_size)
        if users:
            counts.update(handle_page(users))
            last = str(users[-1]["uuid"])
            total += len(users)
            users_now += len(users)
            if budget is not None:
                budget.spend(len(users))
        store.save_checkpoint(site, job, run_key, segment.name, last_uuid=last, done=not more, users=total,
                              now=now)
        if not more:
            return SegmentResult(True, users_now, counts)


def run_site(job: str, prepare: Prepare, site: str, site_item: Item, now: dt.datetime, *, segments: int = 1,
             workers: int = 1, page_size: int = PAGE_SIZE, budget: Budget | None = None) -> dict[str, Any]:
    """One run of `job` on one site; returns what it did. Safe to call again at any time."""
    run_key = local_date(now, str(site_item.get("timezone", "UTC"))).isoformat()
    mark = store.watermark(site, job)
    if mark and mark.get("lastRun") is not None and str(mark["lastRun"]) >= run_key:
        return {"runKey": run_key, "complete": True, "users": 0, "skipped": True}
    plan = prepare(site, site_item, now, run_key, mark)
    if plan is None:  # nothing this job could do on the site (no KPIs, no expirable points)
        store.save_watermark(site, job, run_key, {})
        return {"runKey": run_key, "complete": True, "users": 0, "skipped": True}
    parts = split(segments)

    def one(segment: Segment) -> SegmentResult:
        return run_segment(site, job, run_key, segment, plan.handle_page, now=now, page_size=page_size,
                           budget=budget)

    if workers > 1 and len(parts) > 1:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"job-{job}") as pool:
            results = list(pool.map(one, parts))
    else:
        results = [one(s) for s in parts]
    complete = all(r.done for r in results)
    if complete:
        store.save_watermark(site, job, run_key, plan.watermark)
    counts: Counter[str] = Counter()
    for r in results:
        counts.update(r.counts)
    return {"runKey": run_key, "complete": complete, "users": sum(r.users for r in results), **counts}


def all_sites() -> Iterable[str]:
    from chalicelib.store import ranks

    return ranks.all_sites()


def run_job(job: str, prepare: Prepare, now: dt.datetime, sites: list[str] | None = None,
            **options: Any) -> dict[str, Any]:
    """`job` on every site (or the given ones): a summary for the logs and the jobs route."""
    from chalicelib.store import sites as sites_store

    out: dict[str, Any] = {"job": job, "sites": 0, "users": 0, "complete": True, "bySite": {}}
    for site in sites if sites is not None else list(all_sites()):
        site_item = sites_store.get_site(site)
        if site_item is None:
            continue
        done = run_site(job, prepare, site, site_item, now, **options)
        out["sites"] += 1
        out["users"] += int(done["users"])
        out["complete"] = out["complete"] and bool(done["complete"])
        out["bySite"][site] = done
    return out
