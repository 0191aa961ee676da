"""Soak: a mixed workload of every activity type from many users for a fixed time, then the checker.

Drives the local stack over HTTP (a running one when PORT and LOCAL_TOKEN name it, else one
started in this process) on a fresh site of its own: behaviours (matching a flexible one or
not), point increment/redeem/refund/set, coupon buy/redeem/refund, gifts, bounty
start/cancel/award, rejects, and the user page's reads in between. Every submission is polled
to its end. Then it waits for the pipeline to drain and runs the invariant checker
(chalicelib/audit/verify.py) on the site.

Prints throughput, outcomes by type (rule failures such as InsufficientPoints are expected
under a random workload; HTTP 5xx, InternalError and Timeout are not), and p50/p95/p99 of
submit-to-terminal latency per activity kind and of the reads. Exits 1 on an unexpected error
or any violation.

    python bench/soak.py [--minutes 2 | --seconds 15] [--users 40] [--workers 16] [--seed 7]

`make soak SOAK_ARGS="--seconds 15 --users 10 --workers 4"` is the short form the e2e test
runs (tests/e2e/test_readme_commands.py). Against a running stack the checker reads that
stack's moto (tools/local_aws.py, as `make verify` does): where it is is settled before the
workload starts, so a stack it cannot read is an exit 2 up front, not after the workload.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import sys
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TERMINAL = ("SUCCEEDED", "FAILED", "REJECTED")
UNEXPECTED_FAILURES = {"InternalError", "Timeout", "TooManyEffects", "ActivityNotFound", "SiteNotFound"}

MECHANICS: list[tuple[str, dict[str, Any]]] = [
    ("point-types", {"id": "coins", "name": "Coins", "redeemable": True, "giftable": True, "bountiable": True}),
    ("point-types", {"id": "xp", "name": "XP"}),
    ("point-types", {"id": "gems", "name": "Gems", "redeemable": True, "stopAtZero": True, "giftable": True}),
    ("point-types", {"id": "stars", "name": "Stars", "expirable": True, "expiresAfterDays": 30, "redeemable": True}),
    ("behaviours", {"id": "watch_video", "kind": "simple", "verb": "watch_video", "name": "Watch",
                    "prizes": {"points": [{"pointId": "xp", "points": 10}]}}),
    ("behaviours", {"id": "watch_tv", "kind": "flexible", "verb": "watch_video", "name": "Watch TV",
                    "conditions": {"and": [{"key": "category", "op": "in", "value": ["tv"]}]},
                    "prizes": {"points": [{"pointId": "xp", "points": 5}, {"pointId": "stars", "points": 2}]}}),
    ("behaviours", {"id": "share", "kind": "simple", "verb": "share", "name": "Share",
                    "prizes": {"points": [{"pointId": "coins", "points": 10}, {"pointId": "gems", "points": 3}]}}),
    ("rewards", {"id": "binge", "kind": "achievement", "name": "Binge", "criteria": [{"verb": "watch_video", "times": 3}],
                 "prizes": {"points": [{"pointId": "coins", "points": 20}]}}),
    ("rewards", {"id": "bronze", "kind": "level", "ladder": "status", "name": "Bronze",
                 "criteria": [{"pointId": "xp", "points": 40}], "prizes": {"points": [{"pointId": "gems", "points": 5}]}}),
    ("rewards", {"id": "starter", "kind": "mission", "name": "Starter",
                 "criteria": [{"rewardId": "binge"}, {"rewardId": "bronze"}]}),
    ("rewards", {"id": "thanks", "kind": "gift", "name": "Thanks"}),
    ("coupons", {"id": "tshirt", "name": "T-shirt", "codeType": "single", "code": "TSHIRT",
                 "price": {"pointId": "coins", "points": 30}, "redemption": "twoStep", "active": True}),
    ("coupons", {"id": "voucher", "name": "Voucher", "codeType": "multiple",
                 "codes": [f"V-{i:04d}" for i in range(400)],
                 "price": {"pointId": "coins", "points": 5}, "redemption": "oneStep", "active": True}),
    ("kpis", {"id": "xp_goal", "name": "XP", "tracks": {"points": "xp"},
              "targets": [{"validFrom": "2020-01-01", "validTo": "2099-12-31", "assignTo": {"everyone": True},
                           "values": {"daily": 50, "weekly": 200}}]}),
    ("leaderboards", {"id": "xp_board", "name": "XP", "ranksBy": {"points": "xp"}, "periods": ["weekly", "allTime"]}),
]
READS = ("summary", "tabs/overview", "tabs/activity", "tabs/points", "tabs/rewards", "tabs/kpis", "tabs/coupons",
         "tabs/leaderboards")


class Client:
    """One keep-alive connection per thread; reconnects after a dropped connection."""

    def __init__(self, port: int, token: str) -> None:
        self.port, self.token = port, token
        self.local = threading.local()

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        for attempt in range(2):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            try:
                conn.request(method, path, body=json.dumps(body) if body is not None else None,
                             headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
                res = conn.getresponse()
                raw = res.read()
                return res.status, json.loads(raw) if raw else None
            except (http.client.HTTPException, OSError):
                conn.close()
                self.local.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    outcomes: Counter[str] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    succeeded: list[tuple[str, str]] = field(default_factory=list)  # (activity id, kind)
    bounties: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # offerer -> open ids

    def record(self, kind: str, seconds: float, outcome: str, unexpected: str | None = None) -> None:
        with self.lock:
            self.latencies[kind].append(seconds)
            self.outcomes[outcome] += 1
            if unexpected:
                self.unexpected.append(unexpected)


class Soak:
    def __init__(self, api: Client, site: str, users: int, rng_seed: int) -> None:
        self.api, self.site, self.users = api, site, [f"s{i:03d}" for i in range(users)]
        self.tally = Tally()
        self.seed = rng_seed

    def setup(self) -> None:
        status, data = self.api.call("POST", "/sites", {"id": self.site, "name": "Soak", "timezone": "Europe/London",
                                                         "weekStart": "monday"})
        assert status == 201, data
        for kind, body in MECHANICS:
            status, data = self.api.call("POST", f"/sites/{self.site}/{kind}", body)
            assert status == 201, (kind, data)
        for uuid in self.users:
            status, data = self.api.call("POST", f"/sites/{self.site}/users", {"uuid": uuid, "displayName": uuid})
            assert status == 201, data

    # ------------------------------------------------------------ one operation

    def attrs_for(self, rng: random.Random, uuid: str) -> tuple[str, dict[str, Any]] | None:
        other = rng.choice([u for u in self.users if u != uuid])
        roll = rng.random()
        if roll < 0.25:
            meta = {"category": ["tv"]} if rng.random() < 0.5 else {"category": "news"}
            return "behaviour", {"type": "behaviour", "verb": rng.choice(["watch_video", "watch_video", "share"]),
                                 "metadata": meta}
        if roll < 0.40:
            return "point increment", {"type": "point", "action": "increment", "points": [
                {"pointId": rng.choice(["coins", "gems", "stars"]), "points": rng.randint(1, 30)}]}
        if roll < 0.48:
            return "point redeem", {"type": "point", "action": rng.choice(["redeem", "redeem", "refund"]), "points": [
                {"pointId": rng.choice(["coins", "gems", "stars"]), "points": rng.randint(1, 10)}]}
        if roll < 0.50:
            return "point set", {"type": "point", "action": "set", "points": [
                {"pointId": "gems", "points": rng.randint(0, 40)}]}
        if roll < 0.60:
            return "coupon", {"type": "coupon", "action": rng.choice(["buy", "redeem", "redeem", "refund"]),
                              "couponId": rng.choice(["tshirt", "voucher", "voucher"])}
        if roll < 0.72:
            gift: dict[str, Any] = {"type": "gift", "targetUuid": other,
                                    "points": [{"pointId": rng.choice(["coins", "gems"]), "points": rng.randint(1, 8)}]}
            if rng.random() < 0.3:
                gift["rewardId"] = "thanks"
            return "gift", gift
        if roll < 0.80:
            return "bounty start", {"type": "bounty", "action": "start",
                                    "points": [{"pointId": "coins", "points": rng.randint(1, 10)}]}
        with self.tally.lock:
            open_ids = self.tally.bounties.get(uuid) or []
            bounty_id = open_ids.pop(0) if open_ids else None
        if bounty_id is None:
            return None
        if rng.random() < 0.5:
            return "bounty cancel", {"type": "bounty", "action": "cancel", "bountyId": bounty_id}
        return "bounty award", {"type": "bounty", "action": "award", "bountyId": bounty_id, "targetUuid": other}

    def wait(self, activity_id: str, timeout: float = 180) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        pause = 0.02
        while True:
            status, data = self.api.call("GET", f"/sites/{self.site}/activities/{activity_id}")
            if status == 200 and data["status"] in TERMINAL and not (data.get("rejection") or {}).get("pending"):
                return dict(data)
            if status >= 500:
                raise RuntimeError(f"poll answered {status}: {data}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{activity_id} still {data.get('status')}")
            time.sleep(pause)
            pause = min(pause * 1.5, 0.25)

    def activity(self, rng: random.Random, uuid: str) -> None:
        chosen = self.attrs_for(rng, uuid)
        if chosen is None:
            return
        kind, attrs = chosen
        started = time.perf_counter()
        status, data = self.api.call("POST", f"/sites/{self.site}/activities", {"uuid": uuid, "attrs": attrs})
        if status != 202:
            self.tally.record(kind, time.perf_counter() - started, f"HTTP {status} {_etype(data)}",
                              f"{kind}: submit answered {status} {data}" if status >= 500 or status == 400 else None)
            return
        try:
            done = self.wait(data["id"])
        except (TimeoutError, RuntimeError) as err:
            self.tally.record(kind, time.perf_counter() - started, "poll error", f"{kind}: {err}")
            return
        took = time.perf_counter() - started
        if done["status"] == "SUCCEEDED":
            self.tally.record(kind, took, "SUCCEEDED")
            with self.tally.lock:
                self.tally.succeeded.append((done["id"], kind))
                if kind == "bounty start":
                    self.tally.bounties[uuid].append(done["id"])
            return
        error = (done.get("error") or {}).get("type", "?")
        self.tally.record(kind, took, f"FAILED {error}",
                          f"{kind} {done['id']}: {done.get('error')}" if error in UNEXPECTED_FAILURES else None)

    def reject(self, rng: random.Random) -> None:
        with self.tally.lock:
            if not self.tally.succeeded:
                return
            activity_id, kind = self.tally.succeeded.pop(rng.randrange(len(self.tally.succeeded)))
            if kind == "bounty start":  # an open bounty's id may be in use by a worker: leave it be
                return
        started = time.perf_counter()
        status, data = self.api.call("POST", f"/sites/{self.site}/activities/{activity_id}/reject",
                                     {"reason": "soak"})
        if status != 202:
            self.tally.record("reject", time.perf_counter() - started, f"HTTP {status} {_etype(data)}",
                              f"reject answered {status} {data}" if status >= 500 or status == 400 else None)
            return
        try:
            done = self.wait(activity_id)
        except (TimeoutError, RuntimeError) as err:
            self.tally.record("reject", time.perf_counter() - started, "poll error", f"reject: {err}")
            return
        rejection = done.get("rejection") or {}
        outcome = "REJECTED" if done["status"] == "REJECTED" else f"reject {(rejection.get('error') or {}).get('type')}"
        self.tally.record("reject", time.perf_counter() - started, outcome,
                          f"reject {activity_id}: {rejection}" if rejection.get("error") and
                          rejection["error"].get("type") in UNEXPECTED_FAILURES else None)

    def read(self, rng: random.Random, uuid: str) -> None:
        tab = rng.choice(READS)
        started = time.perf_counter()
        status, data = self.api.call("GET", f"/sites/{self.site}/users/{uuid}/{tab}")
        self.tally.record("read", time.perf_counter() - started, f"read {status}",
                          f"GET {tab} answered {status} {data}" if status != 200 else None)

    def worker(self, n: int, deadline: float) -> None:
        rng = random.Random(self.seed * 1000 + n)
        while time.monotonic() < deadline:
            uuid = rng.choice(self.users)
            roll = rng.random()
            if roll < 0.15:
                self.read(rng, uuid)
            elif roll < 0.18:
                self.reject(rng)
            else:
                self.activity(rng, uuid)


def _etype(data: Any) -> str:
    return str(((data or {}).get("error") or {}).get("type", "")) if isinstance(data, dict) else ""


def report(soak: Soak, elapsed: float) -> None:
    t = soak.tally
    activities = sum(len(v) for k, v in t.latencies.items() if k not in ("read", "reject"))
    everything = [x for k, v in t.latencies.items() if k != "read" for x in v]
    print(f"\nSoak: {elapsed:.0f} s, {len(soak.users)} users: {activities} activities "
          f"({activities / elapsed:.1f}/s end to end), {len(t.latencies.get('reject', []))} rejects, "
          f"{len(t.latencies.get('read', []))} reads ({len(t.latencies.get('read', [])) / elapsed:.1f}/s)")
    print(f"  submit-to-terminal, all activities: p50 {pct(everything, .5) * 1000:.0f} ms  "
          f"p95 {pct(everything, .95) * 1000:.0f} ms  p99 {pct(everything, .99) * 1000:.0f} ms")
    print(f"  {'kind':16s} {'n':>5s} {'p50 ms':>8s} {'p95 ms':>8s} {'p99 ms':>8s}")
    for kind in sorted(t.latencies):
        values = t.latencies[kind]
        print(f"  {kind:16s} {len(values):5d} {pct(values, .5) * 1000:8.0f} {pct(values, .95) * 1000:8.0f} "
              f"{pct(values, .99) * 1000:8.0f}")
    print("  outcomes (FAILED <rule> is an expected refusal of a random request):")
    for outcome, n in t.outcomes.most_common():
        print(f"    {outcome:40s} {n:6d}")
    print(f"  unexpected errors: {len(t.unexpected)}")
    for line in t.unexpected[:20]:
        print(f"    {line[:300]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    duration = parser.add_mutually_exclusive_group()
    duration.add_argument("--minutes", type=float, default=2.0, help="how long the workload runs (default 2)")
    duration.add_argument("--seconds", type=float, help="the same in seconds, for short runs")
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    seconds = args.seconds if args.seconds is not None else args.minutes * 60
    if seconds <= 0 or args.users < 2 or args.workers < 1:
        parser.error("the duration must be positive, with at least 2 users and 1 worker")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")

    port, token = os.environ.get("PORT", ""), os.environ.get("LOCAL_TOKEN", "")
    stack = None
    if port and token and _healthy(int(port)):
        from tools.local_aws import local_stack, point_at, state_path

        if local_stack(port) is None:  # the checker reads the stack's moto, which only that file names
            print(f"soak: the stack on port {port} answers but published no AWS endpoint here ({state_path(port)} "
                  "not found: a stack of another checkout?); run the soak from the stack's checkout",
                  file=sys.stderr)
            return 2
        target = point_at(port=port)
        print(f"Soak against the running stack on port {port}; checker: {target.describe()}", flush=True)
    else:
        from local.stack import LocalStack

        stack = LocalStack(seed=False).start()
        port, token = str(stack.port), stack.token
        print(f"Soak against a local stack started in this process (port {port})", flush=True)
    try:
        api = Client(int(port), token)
        soak = Soak(api, f"soak-{os.urandom(3).hex()}", args.users, args.seed)
        soak.setup()
        print(f"Site {soak.site}: {args.users} users, {args.workers} workers, {seconds:g} s; "
              f"{os.cpu_count()} cores", flush=True)
        started = time.monotonic()
        deadline = started + seconds
        with ThreadPoolExecutor(args.workers) as pool:
            list(pool.map(lambda n: soak.worker(n, deadline), range(args.workers)))
        elapsed = time.monotonic() - started
        report(soak, elapsed)

        from chalicelib.audit.verify import verify

        checked = time.perf_counter()
        result = verify([soak.site])
        print(f"\nInvariant checker on {soak.site} ({time.perf_counter() - checked:.1f} s):")
        print("  " + result.summary().replace("\n", "\n  "))
        return 0 if result.ok and not soak.tally.unexpected else 1
    finally:
        if stack is not None:
            stack.stop()


def _healthy(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/health")
        return conn.getresponse().status == 200
    except OSError:
        return False


if __name__ == "__main__":
    sys.exit(main())
