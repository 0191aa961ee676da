"""Read-side costs: DynamoDB requests, read units and latency of the summary and every tab.

For users with 10, 1,000 and 10,000 past activities it prints, per route: requests per call
(botocore events, caches warm), read units, and p50/p95 latency of the whole route through
the Chalice test client on moto, in this process.

Read units: the request asks for `ReturnConsumedCapacity=TOTAL`; moto answers it only for
some operations and with its own arithmetic, so the figure printed as `rcu(moto)` is what
moto returned (`-` when it returned nothing). `rcu(est)` is our estimate from the items
returned, by DynamoDB's rule (strongly consistent: 1 unit per 4 KB; a Query rounds its total,
a GetItem/BatchGetItem each item), which is what AWS would bill for these reads (a filtered
Query also pays for the items it filtered out: the activity tab's filters do not here).

Latency: `p50`/`p95` are whole calls through the Chalice test client; `app p50` is the same
call minus the time spent inside DynamoDB requests. The local runtime's moto reads a Query's
key range by bisecting the partition's sorted keys (local/patches.py), as DynamoDB does, so the
totals should not grow with history; `app p50` and the read units are the figures that carry
over to DynamoDB. The site and mechanics caches are warmed before each
measured call (a slow moto run can outlast the 10 s mechanics cache).

History: a few activities go through the real workflow (the state machine on moto), so
every kind of item exists in its real shape; the rest is BENCH-ONLY DATA bulk-written with
the store's key functions in the same shapes as processing writes them (SUCCEEDED behaviour
activities with their ledger entries and day buckets: bench/history.py, shared with
bench/console.py), because 10,000 activities through the state machine would take far too
long. Never use this outside the bench.

    .venv/bin/python bench/reads.py [--calls 30] [--sizes 10,1000,10000]
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The bench-only bulk history, shared with console.py (this script's directory is on sys.path).
from history import bulk_history  # noqa: E402

# The mechanics of the tests (one source of truth); importing them loads tests/conftest.py,
# which sets its own environment, so ours is set after it.
from local.stack import in_process_environment  # noqa: E402
from tests.integration.test_mechanics_api import configure  # noqa: E402

TOKEN = "bench-operator-token"
os.environ.update(in_process_environment(TOKEN, "gamification-bench", "ERROR"))
os.environ.pop("AWS_ENDPOINT_URL", None)

ROUTES = ["summary", "tabs/overview", "tabs/activity", "tabs/activity?type=behaviour&status=SUCCEEDED",
          "tabs/points", "tabs/rewards", "tabs/kpis", "tabs/kpis?period=monthly", "tabs/coupons",
          "tabs/leaderboards", "tabs/settings", "bounties"]


class Meter:
    """Counts DynamoDB requests and read units through botocore events."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.moto_units = 0.0
        self.moto_answered = False
        self.estimated_units = 0.0

        self.dynamodb_seconds = 0.0
        self._started = 0.0

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]

    def before(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in ("Query", "GetItem", "BatchGetItem", "Scan"):
            params["ReturnConsumedCapacity"] = "TOTAL"

    def start(self, **_: Any) -> None:
        self._started = time.perf_counter()

    def after(self, http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        self.dynamodb_seconds += time.perf_counter() - self._started
        self.requests.append(model.name)
        consumed = parsed.get("ConsumedCapacity")
        for entry in consumed if isinstance(consumed, list) else [consumed] if consumed else []:
            self.moto_answered = True
            self.moto_units += float(entry.get("CapacityUnits") or entry.get("ReadCapacityUnits") or 0)
        if model.name == "Query":
            size = sum(len(json.dumps(i)) for i in parsed.get("Items", []))
            self.estimated_units += max(1, math.ceil(size / 4096))
        elif model.name == "GetItem":
            self.estimated_units += max(1, math.ceil(len(json.dumps(parsed.get("Item", {}))) / 4096))
        elif model.name == "BatchGetItem":
            for items in (parsed.get("Responses") or {}).values():
                self.estimated_units += sum(max(1, math.ceil(len(json.dumps(i)) / 4096)) for i in items)


class Client:
    def __init__(self, http: Any) -> None:
        self.http = http

    def call(self, method: str, path: str, body: Any = None) -> Any:
        res = getattr(self.http, method.lower())(
            path, headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
            body=json.dumps(body) if body is not None else None)
        data = json.loads(res.body) if res.body else None
        if res.status_code >= 300:
            raise RuntimeError(f"{method} {path}: {res.status_code} {data}")
        return data

    def run(self, site: str, uuid: str, attrs: dict[str, Any]) -> dict[str, Any]:
        activity_id = self.call("POST", f"/sites/{site}/activities", {"uuid": uuid, "attrs": attrs})["id"]
        deadline = time.monotonic() + 60
        while True:
            data: dict[str, Any] = self.call("GET", f"/sites/{site}/activities/{activity_id}")
            if data["status"] in ("SUCCEEDED", "FAILED"):
                return data
            if time.monotonic() > deadline:
                raise RuntimeError(f"activity {activity_id} stuck in {data['status']}")
            time.sleep(0.02)


def start_workflow() -> None:
    import boto3

    from chalicelib.config import settings
    from chalicelib.workflow import starter
    from chalicelib.workflow.definition import substitutions
    from local import patches, provision
    from local.runtime import APP_NAME, STAGE, _lambda_functions

    functions = _lambda_functions()
    patches.register_functions(dict(functions))
    arns = provision.create_functions(boto3.client("lambda"), boto3.client("iam"), list(functions))
    subs = substitutions({name.removeprefix(f"{APP_NAME}-{STAGE}-"): arn for name, arn in arns.items()})
    os.environ["STATE_MACHINE_ARN"] = provision.create_state_machine(
        boto3.client("stepfunctions"), boto3.client("iam"), "activity-bench", subs)
    settings.cache_clear()
    starter.reset_client()


def real_history(client: Client, site: str, uuid: str) -> None:
    """A handful of real activities: every item kind in the shape processing writes it."""
    for attrs in (
        {"type": "point", "action": "increment", "points": [{"pointId": "coins", "points": 100}]},
        {"type": "behaviour", "verb": "watch_video", "metadata": {"category": ["tv"]}},
        {"type": "coupon", "action": "buy", "couponId": "tshirt"},
        {"type": "gift", "targetUuid": "bench-friend", "points": [{"pointId": "coins", "points": 5}]},
        {"type": "bounty", "action": "start", "points": [{"pointId": "coins", "points": 5}]},
    ):
        done = client.run(site, uuid, attrs)
        if done["status"] != "SUCCEEDED":
            raise RuntimeError(f"bench setup activity failed: {done}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--sizes", default="10,1000,10000")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]

    import boto3
    from chalice.test import Client as ChaliceClient
    from moto import mock_aws

    from chalicelib import clock
    from chalicelib.config import settings
    from chalicelib.store import db, sites
    from local import patches, provision

    patches.behave_like_aws()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}):
        settings.cache_clear()
        db.reset_client()
        sites._cache.clear()
        provision.create_table(boto3.client("dynamodb"), os.environ["TABLE_NAME"])
        start_workflow()
        import app as app_module

        with ChaliceClient(app_module.app, stage_name="local") as chalice_client:
            client = Client(chalice_client.http)
            site = "bench"
            client.call("POST", "/sites", {"id": site, "name": "Bench", "timezone": "Europe/London",
                                           "weekStart": "monday"})

            class _Api:  # configure() wants the tests' Api: post -> (status, data, headers)
                def post(self, path: str, body: Any) -> tuple[int, Any, dict[str, str]]:
                    return 201, client.call("POST", path, body), {}

            configure(_Api(), site)  # type: ignore[arg-type]
            client.call("POST", f"/sites/{site}/users", {"uuid": "bench-friend"})
            meter = Meter()
            events = db.client().meta.events
            events.register("before-parameter-build.dynamodb.*", meter.before)
            events.register("before-call.dynamodb.*", meter.start)
            events.register("after-call.dynamodb.*", meter.after)
            from chalicelib.store import mechanics as mechanics_store

            def warm() -> None:
                # moto answers a big partition slowly, so a call can outlast the 10 s mechanics
                # cache: refresh both caches outside the measured call, as a warm Lambda has them.
                sites.forget(site)
                sites.get_site(site)
                mechanics_store.load(site, fresh=True)

            print(f"{'user':<12} {'route':<48} {'req':>4} {'rcu(moto)':>9} {'rcu(est)':>8} "
                  f"{'p50 ms':>8} {'p95 ms':>8} {'app p50':>8}")
            for size in sizes:
                uuid = f"bench-{size}"
                client.call("POST", f"/sites/{site}/users", {"uuid": uuid, "displayName": f"Bench {size}"})
                real_history(client, site, uuid)
                bulk_history(site, uuid, max(0, size - 5), clock.now())
                from chalicelib.jobs import ranks

                ranks.run(sites=[site])
                # moto keeps the whole table in this process's heap: as the local stack does after
                # start-up, the history is frozen out of the cyclic collector, so a route's figures
                # are not its share of collecting moto's items.
                gc.collect()
                gc.freeze()
                for route in ROUTES:
                    path = f"/sites/{site}/users/{uuid}/{route}"
                    client.call("GET", path)  # warm the site and mechanics caches
                    calls = args.calls if size < 10_000 else max(3, args.calls // 3)
                    latencies, own, requests, moto_units, estimated = [], [], 0, 0.0, 0.0
                    answered = False
                    for _ in range(calls):
                        warm()
                        meter.reset()
                        started = time.perf_counter()
                        client.call("GET", path)
                        elapsed = time.perf_counter() - started
                        latencies.append(elapsed * 1000)
                        own.append((elapsed - meter.dynamodb_seconds) * 1000)
                        requests += len(meter.requests)
                        moto_units += meter.moto_units
                        estimated += meter.estimated_units
                        answered = answered or meter.moto_answered
                    shown = f"{moto_units / calls:.1f}" if answered else "-"
                    print(f"{uuid:<12} {route:<48} {requests / calls:>4.1f} {shown:>9} {estimated / calls:>8.1f} "
                          f"{statistics.median(latencies):>8.1f} {percentile(latencies, 0.95):>8.1f} "
                          f"{statistics.median(own):>8.1f}", flush=True)
                meter.reset()
            events.unregister("before-parameter-build.dynamodb.*", meter.before)
            events.unregister("after-call.dynamodb.*", meter.after)
            events.unregister("before-call.dynamodb.*", meter.start)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
