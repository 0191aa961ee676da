"""KPI rollup cost: time and DynamoDB requests for sites of 1,000 and 10,000 users with 3 KPIs.

A "typical day" run: the site's previous run closed everything up to Saturday; on Monday
01:00 the job closes Sunday (daily targets) and the week that ended with it (weekly targets),
for every user, with every KPI (points earned, a behaviour count, achievements unlocked).
The job runs for real (`chalicelib.jobs.rollup.run`, segments, pages, checkpoints) on moto in
this process; it prints requests by operation, requests and estimated capacity units per user,
the wall time, and the ratio of the larger site to the smaller (linear growth: ratio ~ 10).

BENCH-ONLY DATA: users (profiles with the index keys processing writes) and their day and week
buckets are bulk-written with the store's key functions, because 10,000 users' activities
through the state machine would take far too long. Never use this outside the bench.

    .venv/bin/python bench/rollup.py [--sizes 1000,10000] [--segments 1] [--workers 1]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chalicelib import clock  # noqa: E402
from local.stack import in_process_environment, in_process_table  # noqa: E402

TOKEN = "bench-operator-token"
os.environ.update(in_process_environment(TOKEN, "gamification-bench", "ERROR"))
os.environ.pop("AWS_ENDPOINT_URL", None)



def _last_monday_1am() -> dt.datetime:
    """The latest Monday 01:00 UTC by the system clock: Sunday and the week Mon .. Sun just ended."""
    now = clock.now().astimezone(dt.UTC)
    monday = dt.datetime.combine(now.date() - dt.timedelta(days=now.weekday()), dt.time(1), tzinfo=dt.UTC)
    return monday if monday <= now else monday - dt.timedelta(days=7)


RUN_AT = _last_monday_1am()
SUNDAY, SATURDAY = RUN_AT.date() - dt.timedelta(days=1), RUN_AT.date() - dt.timedelta(days=2)
DAY_KEY, WEEK_KEY = f"day:{SUNDAY}", f"week:{RUN_AT.date() - dt.timedelta(days=7)}"
VALID = {"validFrom": (SUNDAY - dt.timedelta(days=366)).isoformat(),
         "validTo": (SUNDAY + dt.timedelta(days=366)).isoformat()}
MECHANICS: dict[str, list[dict[str, Any]]] = {
    "point-types": [{"id": "xp", "name": "XP"}],
    "behaviours": [{"id": "watch_video", "kind": "simple", "verb": "watch_video", "name": "Watch",
                    "prizes": {"points": [{"pointId": "xp", "points": 10}]}}],
    "rewards": [{"id": "binge", "kind": "achievement", "name": "Binge",
                 "criteria": [{"verb": "watch_video", "times": 3}]}],
    "kpis": [
        {"id": "xp_goal", "name": "XP", "tracks": {"points": "xp"}, "targets": [
            {**VALID, "assignTo": {"everyone": True},
             "values": {"daily": 20, "weekly": 100}}]},
        {"id": "videos", "name": "Videos", "tracks": {"behaviour": "watch_video"}, "targets": [
            {**VALID, "assignTo": {"everyone": True},
             "values": {"daily": 2, "weekly": 10}}]},
        {"id": "achievements", "name": "Achievements", "tracks": {"rewardKind": "achievement"}, "targets": [
            {**VALID, "assignTo": {"tags": ["sales"]},
             "values": {"weekly": 1}}]},
    ],
}


class Meter:
    """DynamoDB requests by operation, and estimated capacity units (DynamoDB's rules)."""

    def __init__(self) -> None:
        self.ops: Counter[str] = Counter()
        self.rcu = 0.0
        self.wcu = 0.0

    def after(self, http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        op = model.name
        self.ops[op] += 1
        if op == "Query":
            size = sum(len(json.dumps(i)) for i in parsed.get("Items", []))
            self.rcu += 0.5 * max(1, math.ceil(size / 4096))  # eventually consistent (GSI)
        elif op == "BatchGetItem":
            items = [i for rows in parsed.get("Responses", {}).values() for i in rows]
            self.rcu += sum(0.5 * max(1, math.ceil(len(json.dumps(i)) / 4096)) for i in items)
        elif op == "GetItem":
            self.rcu += 1.0
        elif op in ("PutItem", "UpdateItem", "DeleteItem"):
            self.wcu += 1.0  # every item written here is under 1 KB


def seed(site: str, users: int) -> None:
    """BENCH-ONLY: the site, its mechanics (through the API) and `users` users with buckets."""
    from chalice.test import Client

    import app as app_module
    from chalicelib.store import db
    from chalicelib.store.keys import PROFILE_SK, bucket_sk, user_pk
    from chalicelib.store.users import index_attributes

    with Client(app_module.app, stage_name="local") as client:
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}

        def post(path: str, body: dict[str, Any]) -> None:
            res = client.http.post(path, headers=headers, body=json.dumps(body))
            assert res.status_code == 201, (path, res.body)

        post("/sites", {"id": site, "name": site, "timezone": "UTC", "weekStart": "monday"})
        for kind, bodies in MECHANICS.items():
            for body in bodies:
                post(f"/sites/{site}/{kind}", body)
    rows: list[dict[str, Any]] = []
    for n in range(users):
        uuid = hashlib.sha1(f"{site}-{n}".encode()).hexdigest()[:16]
        profile = {"uuid": uuid, "displayName": f"User {n}", "firstName": "", "lastName": "", "email": "",
                   "pictureUrl": "", "tags": ["sales"] if n % 3 == 0 else [], "member": True, "blocked": False,
                   "createdAt": clock.iso(RUN_AT - dt.timedelta(days=300))}
        rows.append({**profile, "PK": user_pk(site, uuid), "SK": PROFILE_SK, "version": 1,
                     **index_attributes(site, profile)})
        day = {"pts:xp": 10 * (n % 4), "beh:watch_video": n % 4}
        rows.append({"PK": user_pk(site, uuid), "SK": bucket_sk(DAY_KEY), **day})
        rows.append({"PK": user_pk(site, uuid), "SK": bucket_sk(WEEK_KEY), "pts:xp": 30 * (n % 5),
                     "beh:watch_video": 3 * (n % 5), "rk:achievement": n % 2})
    for start in range(0, len(rows), 25):
        db.client().batch_write_item(RequestItems={db.table(): [
            {"PutRequest": {"Item": db.serialize(r)}} for r in rows[start:start + 25]]})
    # The previous run closed everything up to Saturday (a typical day, not a first run).
    from chalicelib.store import jobs as job_store

    job_store.save_watermark(site, "rollup", SUNDAY.isoformat(), {"through": SATURDAY.isoformat()})


def measure(site: str, users: int, segments: int, workers: int) -> dict[str, Any]:
    from chalicelib.jobs import rollup
    from chalicelib.store import db

    seed(site, users)
    meter = Meter()
    events = db.client().meta.events
    events.register("after-call.dynamodb.*", meter.after)
    started = time.perf_counter()
    done = rollup.run(RUN_AT, [site], segments=segments, workers=workers)
    seconds = time.perf_counter() - started
    events.unregister("after-call.dynamodb.*", meter.after)
    assert done["complete"] and done["users"] == users, done
    return {"users": users, "seconds": seconds, "requests": sum(meter.ops.values()), "ops": dict(meter.ops),
            "rcu": meter.rcu, "wcu": meter.wcu, "closed": done["bySite"][site].get("closed", 0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--segments", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    with in_process_table():
        results = [measure(f"bench-{n}", n, args.segments, args.workers) for n in sizes]

    print(f"KPI rollup, 3 KPIs, daily + weekly close, segments={args.segments} workers={args.workers} (moto)")
    print(f"{'users':>8} {'seconds':>8} {'requests':>9} {'req/user':>9} {'RCU est':>9} {'WCU est':>9} "
          f"{'closed':>8}  by operation")
    for r in results:
        ops = ", ".join(f"{k} {v}" for k, v in sorted(r["ops"].items()))
        print(f"{r['users']:>8} {r['seconds']:>8.2f} {r['requests']:>9} {r['requests'] / r['users']:>9.3f} "
              f"{r['rcu']:>9.1f} {r['wcu']:>9.0f} {r['closed']:>8}  {ops}")
    if len(results) >= 2:
        a, b = results[0], results[-1]
        scale = b["users"] / a["users"]
        print(f"growth x{scale:.0f} users: requests x{b['requests'] / a['requests']:.2f}, "
              f"time x{b['seconds'] / a['seconds']:.2f}, WCU x{b['wcu'] / a['wcu']:.2f} (linear = x{scale:.0f})")
        per_million = b["requests"] / b["users"] * 1_000_000
        print(f"per million users (from the largest run): {per_million:,.0f} requests, "
              f"{b['rcu'] / b['users'] * 1e6:,.0f} RCU, {b['wcu'] / b['users'] * 1e6:,.0f} WCU")


if __name__ == "__main__":
    main()
