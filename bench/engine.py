"""How long the rules engine takes for one behaviour activity.

A site with 50 behaviours, 200 rewards and 20 KPIs; one activity = behaviour matching, the
reward cascade and the KPI deltas (what the behaviour step of the workflow computes between
its read and its write). Prints p50/p95/max over the runs. Run: `.venv/bin/python bench/engine.py`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chalicelib.engine.behaviours import BehaviourUsage, evaluate_behaviour
from chalicelib.engine.kpis import kpi_deltas
from chalicelib.engine.rewards import Completion, RewardRecord, UserProgress, VerbCount, evaluate_rewards
from chalicelib.models.mechanics import SiteMechanics

TZ = "Europe/London"
VERBS = [f"verb_{i:02d}" for i in range(25)]


def build_site(rng: random.Random) -> SiteMechanics:
    point_types: list[dict[str, Any]] = [
        {"id": "xp", "name": "XP"},
        {"id": "coins", "name": "Coins", "redeemable": True},
        {"id": "miles", "name": "Miles", "expirable": True, "expiresAfterDays": 90},
    ]
    behaviours: list[dict[str, Any]] = []
    for verb in VERBS:
        behaviours.append(
            {
                "id": verb,
                "kind": "simple",
                "verb": verb,
                "name": verb,
                "prizes": {"points": [{"pointId": "xp", "points": 10}]},
                "limits": {"periodic": {"period": "day", "max": 50}, "coolOffSeconds": 1},
            }
        )
        behaviours.append(
            {
                "id": f"{verb}_flex",
                "kind": "flexible",
                "verb": verb,
                "name": f"{verb} flexible",
                "conditions": {
                    "and": [
                        {"key": "category", "op": "in", "value": ["tv", "radio", "web"]},
                        {
                            "or": [
                                {"key": "minutes", "op": "gte", "value": 10},
                                {"key": "when", "op": "after", "value": "2026-01-01"},
                            ]
                        },
                    ]
                },
                "prizes": {"points": [{"pointId": "coins", "points": 2}, {"pointId": "miles", "points": 5}]},
            }
        )
    rewards: list[dict[str, Any]] = []
    for i in range(120):
        verbs = rng.sample(VERBS, rng.choice([1, 1, 2, 3]))
        rewards.append(
            {
                "id": f"ach_{i:03d}",
                "kind": "achievement",
                "name": f"Achievement {i}",
                "criteria": [{"verb": v, "times": rng.randint(1, 40)} for v in verbs],
                "prizes": {"points": [{"pointId": "xp", "points": rng.randint(1, 50)}]},
                **({"repeat": {"maxTimes": 5}} if i % 10 == 0 else {}),
            }
        )
    for i in range(40):
        rewards.append(
            {
                "id": f"lvl_{i:03d}",
                "kind": "level",
                "ladder": f"ladder_{i % 4}",
                "name": f"Level {i}",
                "criteria": [{"pointId": "xp", "points": 100 * (i + 1)}],
                "prizes": {"points": [{"pointId": "coins", "points": 10}]},
            }
        )
    for i in range(30):
        parts = rng.sample([r["id"] for r in rewards if r["kind"] != "mission"], 3)
        rewards.append(
            {
                "id": f"mis_{i:03d}",
                "kind": "mission",
                "name": f"Mission {i}",
                "criteria": [{"rewardId": p} for p in parts],
            }
        )
    for i in range(10):
        rewards.append({"id": f"gift_{i:03d}", "kind": "gift", "name": f"Gift {i}"})
    kpis: list[dict[str, Any]] = []
    for i in range(20):
        tracks: dict[str, Any] = [
            {"points": "xp"},
            {"behaviour": VERBS[i % 25]},
            {"rewardKind": "achievement"},
            {"reward": f"ach_{i:03d}"},
        ][i % 4]
        kpis.append(
            {
                "id": f"kpi_{i:02d}",
                "name": f"KPI {i}",
                "tracks": tracks,
                "targets": [
                    {
                        "validFrom": "2026-01-01",
                        "validTo": "2026-12-31",
                        "assignTo": {"everyone": True},
                        "values": {"weekly": 50},
                    }
                ],
            }
        )
    return SiteMechanics.from_wire(
        {"point-types": point_types, "behaviours": behaviours, "rewards": rewards, "kpis": kpis}
    )


def build_progress(rng: random.Random, site: SiteMechanics, now: dt.datetime) -> UserProgress:
    counts = {v: VerbCount(rng.randint(0, 30), {"day:2026-03-10": 1, "week:2026-03-09": 2}) for v in VERBS}
    done = {
        rid: RewardRecord(rid, (Completion(now - dt.timedelta(days=3), {}),))
        for rid in rng.sample(sorted(site.rewards), 40)
        if not rid.startswith("gift")
    }
    return UserProgress(
        "alice",
        tags=("sales",),
        behaviour_counts=counts,
        earned={"xp": 2500, "coins": 300, "miles": 100},
        rewards=done,
    )


def one_activity(site: SiteMechanics, progress: UserProgress, verb: str, now: dt.datetime) -> int:
    usage = {
        b.id: BehaviourUsage(3, {"day:2026-03-10": 3}, now - dt.timedelta(minutes=5))
        for b in site.behaviours_for_verb(verb)
    }
    outcome = evaluate_behaviour(site, verb, {"category": ["web"], "minutes": 12}, now, TZ, usage)
    counted = dict(progress.behaviour_counts)
    old = counted.get(verb, VerbCount())
    counted[verb] = VerbCount(old.total + 1, old.by_period)
    earned = dict(progress.earned)
    for point_id, points in outcome.points.items():
        earned[point_id] = earned.get(point_id, 0) + points
    after = UserProgress(progress.uuid, progress.tags, counted, earned, progress.expired, progress.rewards)
    rewards = evaluate_rewards(site, after, now, TZ, changed_verbs=[verb], changed_points=outcome.points)
    gained = dict(outcome.points)
    for point_id, points in rewards.points.items():
        gained[point_id] = gained.get(point_id, 0) + points
    deltas = kpi_deltas(
        site,
        verb=verb,
        behaviour_ids=[a.behaviour_id for a in outcome.awarded],
        points_earned=gained,
        rewards_unlocked=[u.reward_id for u in rewards.unlocked],
    )
    return len(rewards.unlocked) + len(deltas)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    site = build_site(rng)
    now = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)
    progresses = [build_progress(rng, site, now) for _ in range(20)]
    for _ in range(50):  # warm caches (zoneinfo, lru caches)
        one_activity(site, progresses[0], VERBS[0], now)
    samples: list[float] = []
    unlocked = 0
    for i in range(args.runs):
        progress = progresses[i % len(progresses)]
        verb = VERBS[i % len(VERBS)]
        start = time.perf_counter()
        unlocked += one_activity(site, progress, verb, now)
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    p50 = statistics.median(samples)
    p95 = samples[int(len(samples) * 0.95) - 1]
    print(
        f"engine: site with {len(site.behaviours)} behaviours, {len(site.rewards)} rewards, {len(site.kpis)} KPIs; "
        f"{args.runs} behaviour activities (matching + reward cascade + KPI deltas)"
    )
    print(
        f"engine: p50 {p50:.3f} ms  p95 {p95:.3f} ms  max {samples[-1]:.3f} ms  (unlocks+kpi moves: {unlocked})"
    )


if __name__ == "__main__":
    main()
