"""The activities per second at which each AWS default quota and each hot partition bites.

From the per-type counts of bench/cost.py (run here, or read with --counts) and the quotas in
bench/aws_quotas.py, for the blended mix of bench/cost.py (accept + 2 polls): API Gateway's
account rate, Step Functions (Standard transitions and StartExecution, or Express starts), SQS FIFO
per API action (with and without high-throughput mode), Lambda concurrency (the API's reserved
share from .chalice/config.json for the stage, the rest for the workflow functions), and DynamoDB:
every partition key an activity reads or writes (table and index partitions), on one site whose
users are spread over many partitions: a key named after the user (or the activity) takes one
user's load, a site-wide key takes every activity's; plus the per-table on-demand default.

Lambda durations come from the Lambda-like mode (`LOCAL_LAMBDA=process`, `LOCAL_LATENCY=aws`:
bench/cost.py is run that way in a child process), or with `--thread-durations` from the thread
mode's durations plus the latency table's figure for every AWS call each function made.

    python bench/capacity.py [--counts cost.json] [--durations cost-process.json | --thread-durations]
                             [--stage prod] [--user-rate 5] [--target 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from aws_quotas import QUOTAS  # noqa: E402
from cost import API_FUNCTION, MIX, POLLS_MEASURED  # noqa: E402

PER_USER = ("{user}", "{target}", "{activity}")


@dataclass
class Limit:
    name: str
    rate: float  # activities per second at which it bites
    quota: str  # the QUOTAS key
    detail: str
    raise_to: str = ""  # what it would take to reach the target


def reserved_concurrency(stage: str, function: str) -> int:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    per = config.get("stages", {}).get(stage, {}).get("lambda_functions", {}).get(function, {})
    return int(per.get("reserved_concurrency", 0))


def fifo_high_throughput(data: dict[str, Any]) -> bool:
    """Whether the FIFO queues activities are sent to are in high-throughput mode.

    From the queues' attributes as the measured stack had them (bench/cost.py's `queues`), else
    from infra/template.json's queues that are no other queue's dead-letter queue."""
    queues = [q for q in data.get("queues", {}).values() if q.get("FifoQueue") == "true"]
    if queues:
        return all(q.get("FifoThroughputLimit") == "perMessageGroupId" for q in queues)
    try:
        resources = json.loads((ROOT / "infra" / "template.json").read_text()).get("Resources", {})
    except (OSError, ValueError):
        return False
    found = {name: r.get("Properties", {}) for name, r in resources.items()
             if isinstance(r, dict) and r.get("Type") == "AWS::SQS::Queue" and r.get("Properties", {}).get("FifoQueue")}
    dead = json.dumps([p.get("RedrivePolicy", {}) for p in found.values()])
    live = [p for name, p in found.items() if f'"{name}"' not in dead]
    return bool(live) and all(p.get("FifoThroughputLimit") == "perMessageGroupId" for p in live)


def mixed(cases: dict[str, Any], value: Any) -> float:
    """The mix's average of `value(case result)` per activity."""
    return sum(share * float(value(cases[case])) for case, share in MIX if case in cases)


def family(key: str) -> str:
    """A key with its trailing number named: `UNFINISHED#07` -> `UNFINISHED#{n}` (a shard's family)."""
    return re.sub(r"\d+$", "{n}", key)


def known_shards(family_key: str) -> int:
    """How many shards the code spreads a key family over (chalicelib/store/keys.py), or 0."""
    from chalicelib.store import keys  # (ROOT is on sys.path: bench/cost.py puts it there)

    if family_key.startswith("UNFINISHED#"):
        return keys.UNFINISHED_SHARDS
    if "#LBL#" in family_key:
        return keys.BOARD_SHARDS
    if family_key.startswith("STOCK#"):
        return keys.STOCK_SHARDS
    if "#USERS#" in family_key:  # a profile write (a behaviour's tag change) in the users index
        return keys.USERS_SHARDS
    return 0


def partition_loads(data: dict[str, Any]) -> tuple[dict[tuple[str, str], list[float]],
                                                     dict[tuple[str, str], list[float]]]:
    """Per site-wide key and per per-user key: [RRU, WRU] per activity of the mix.

    A key whose trailing number differs from one activity to the next (a sharded key: the values
    seen over the measured and the warm-up activities) is one entry for its family, its load
    divided by its shard count when the code names one (`known_shards`: hashing spreads the
    site's users evenly), else by the number of values seen (a lower bound of the shards, so an
    upper bound of the load on each)."""
    cases, site = data["cases"], data.get("site", "")
    seen: dict[tuple[str, str], set[str]] = {}
    runs = [r.get("partitions", []) for r in cases.values()] + list(data.get("warmup_partitions", {}).values())
    for parts in runs:
        for space, key, _rru, _wru in parts:
            seen.setdefault((space, family(key)), set()).add(key)
    shared: dict[tuple[str, str], list[float]] = {}
    per_user: dict[tuple[str, str], list[float]] = {}
    for case, share in MIX:
        for space, key, rru, wru in cases.get(case, {}).get("partitions", []):
            values = seen.get((space, family(key)), {key})
            shards = known_shards(family(key)) if len(values) > 1 else 0
            spread = shards or len(values)
            name = (family(key) + (f" (one of {shards} shards)" if shards else f" (one of >= {spread} seen)")
                    if spread > 1 else key)
            name = name.replace(site, "{site}") if site else name
            target = per_user if any(p in name for p in PER_USER) else shared
            slot = target.setdefault((space, name), [0.0, 0.0])
            slot[0] += share * rru / spread
            slot[1] += share * wru / spread
    return shared, per_user


def limits(data: dict[str, Any], durations: dict[str, Any] | None = None, *, stage: str = "prod",
           polls: int = POLLS_MEASURED, target: float = 10_000) -> list[Limit]:
    """Every limit's rate in activities per second, lowest first."""
    cases = data["cases"]
    measured_polls = data.get("polls_measured", POLLS_MEASURED)
    out: list[Limit] = []
    q = QUOTAS

    def add(name: str, per_activity: float, quota: str, unit: str, raisable_note: str = "") -> None:
        if per_activity <= 0:
            return
        value = q[quota].per_second
        rate = value / per_activity
        raise_to = ""
        if rate < target:
            needed = per_activity * target
            raise_to = (f"raise to {needed:,.0f}/s" if q[quota].raisable
                        else f"not raisable ({raisable_note or q[quota].note}): needs {needed:,.0f} {unit}/s")
        out.append(Limit(name, rate, quota, f"{per_activity:.3g} {unit} per activity against {value:,.0f}/s",
                         raise_to))

    api = mixed(cases, lambda r: r["api_requests"]["accept"] + r["api_requests"]["poll"] * polls / measured_polls)
    add("API Gateway requests", api, "apigw_requests", "requests")
    add("Step Functions Standard state transitions", mixed(cases, lambda r: r["sfn"]["transitions"]),
        "sfn_standard_transitions", "transitions")
    add("Step Functions Standard StartExecution", mixed(cases, lambda r: r["sfn"]["standard_executions"]),
        "sfn_standard_start_execution", "executions")
    sync = mixed(cases, lambda r: r["sfn"].get("calls", {}).get("StartSyncExecution", 0))
    express = mixed(cases, lambda r: r["sfn"]["express_executions"])
    add("Step Functions Express StartSyncExecution", sync, "sfn_express_start_sync_execution", "executions")
    add("Step Functions Express StartExecution", max(0.0, express - sync), "sfn_express_start_execution",
        "executions")

    def sqs_action(r: dict[str, Any], ops: tuple[str, ...]) -> float:
        by_op = r["sqs"].get("by_op", {})
        seen = sum(by_op.get(op, 0) for op in ops)
        if not seen and r["sqs"].get("modelled_consumer") and ops[0] != "SendMessage":
            seen = r["sqs"]["modelled_consumer"] / 2  # one ReceiveMessage and one delete per message
        return float(seen)

    high = fifo_high_throughput(data)
    for label, ops in (("SendMessage", ("SendMessage", "SendMessageBatch")), ("ReceiveMessage", ("ReceiveMessage",)),
                       ("DeleteMessage", ("DeleteMessage", "DeleteMessageBatch"))):
        per = mixed(cases, lambda r, ops=ops: sqs_action(r, ops))
        if high:
            add(f"SQS FIFO {label} (high-throughput mode)", per, "sqs_fifo_high_throughput_tps", "requests")
        else:
            add(f"SQS FIFO {label} (default mode: the queue is not in high-throughput mode)", per, "sqs_fifo_api_tps",
                "requests")
            if per > 0 and out[-1].raise_to:
                out[-1].raise_to = (f"enable high-throughput mode (FifoThroughputLimit perMessageGroupId, "
                                    f"DeduplicationScope messageGroup): "
                                    f"{QUOTAS['sqs_fifo_high_throughput_tps'].per_second / per:,.0f} activities/s")

    # Lambda concurrency = rate x seconds busy per activity (Little's law).
    timing = durations or data

    def seconds(r: dict[str, Any], api_side: bool) -> float:
        total = 0.0
        for name, f in r["lambda"].items():
            if (name == API_FUNCTION) != api_side:
                continue
            busy = f["seconds"] if durations else f.get("aws_like_seconds", f["seconds"])
            if name == API_FUNCTION and f["invocations"]:
                per_call = busy / f["invocations"]
                busy = per_call * (r["api_requests"]["accept"] + r["api_requests"]["poll"] * polls / measured_polls)
            total += busy
        return total

    tcases = timing["cases"]
    api_s = sum(share * seconds(tcases[c], True) for c, share in MIX if c in tcases)
    steps_s = sum(share * seconds(tcases[c], False) for c, share in MIX if c in tcases)
    pool = q["lambda_concurrency"].per_second
    reserved = reserved_concurrency(stage, API_FUNCTION)
    if reserved:
        for name, busy, share_of in (("Lambda concurrency: the API's reserved share", api_s, reserved),
                                     ("Lambda concurrency: workflow functions (unreserved pool)", steps_s,
                                      pool - reserved)):
            if busy > 0:
                rate = share_of / busy
                out.append(Limit(name, rate, "lambda_concurrency",
                                 f"{busy * 1000:.1f} ms busy per activity against {share_of:,.0f} concurrent",
                                 f"raise to {busy * target:,.0f} concurrent" if rate < target else ""))
    elif api_s + steps_s > 0:
        rate = pool / (api_s + steps_s)
        out.append(Limit("Lambda concurrency (account)", rate, "lambda_concurrency",
                         f"{(api_s + steps_s) * 1000:.1f} ms busy per activity against {pool:,.0f} concurrent",
                         f"raise to {(api_s + steps_s) * target:,.0f} concurrent" if rate < target else ""))

    shared, _ = partition_loads(data)
    for (space, key), (rru, wru) in shared.items():
        where = "table" if space == "table" else f"index {space}"
        add(f"DynamoDB partition {where} {key} (writes)", wru, "ddb_partition_wru", "WRU")
        add(f"DynamoDB partition {where} {key} (reads)", rru, "ddb_partition_rru", "RRU")
    spaces: dict[str, list[float]] = {}
    for case, share in MIX:
        for space, _key, rru, wru in cases.get(case, {}).get("partitions", []):
            slot = spaces.setdefault(space, [0.0, 0.0])
            slot[0] += share * rru
            slot[1] += share * wru
    for space, (rru, wru) in sorted(spaces.items()):
        where = "table" if space == "table" else f"index {space}"
        add(f"DynamoDB on-demand {where} writes", wru, "ddb_table_wru", "WRU")
        add(f"DynamoDB on-demand {where} reads", rru, "ddb_table_rru", "RRU")
    return sorted(out, key=lambda limit: limit.rate)


def caches(containers: float, rate: float) -> None:
    """What the per-container caches put on the site's partition (`SITE#{site}`) at `containers`
    warm environments: time-driven reads, which the per-activity counts (caches warm) do not see."""
    from chalicelib.store import mechanics, sites

    site_rru = 1  # the site item, strongly consistent: under 4 KB
    check = containers / mechanics.CACHE_SECONDS * 0.5  # the version: eventually consistent, a few bytes
    site = containers / sites._CACHE_SECONDS * site_rru
    reload_300 = containers / mechanics.CACHE_SECONDS * (300 * 1024 / 4096)  # what reloading cost each time
    print(f"Per-container caches at {rate:,.0f} activities/s ({containers:,.0f} warm environments, API and "
          f"workflow functions), on SITE#{{site}} (limit 3,000 RRU/s): "
          f"the mechanics' version check every {mechanics.CACHE_SECONDS:g} s {check:,.0f} RRU/s (reloading "
          f"300 mechanics of 1 KB every time instead: {reload_300:,.0f} RRU/s), the site item every "
          f"{sites._CACHE_SECONDS:g} s {site:,.0f} RRU/s.")


def flash_sale(rate: float) -> None:
    """One coupon bought `rate` times a second (a flash sale): what its stock shards take.

    A take is conditional on the shard's count read, so it loses its race when another buyer's
    take commits on the same shard in between: with takes arriving at random (Poisson) at r a
    second on a shard and a window w from the read to the commit, the chance is 1 - e^(-r w).
    Every attempt, lost or not, costs the shard's read and a transaction's write units.
    """
    import math

    from chalicelib.store import keys
    from chalicelib.workflow.steps import _CONFLICT_ATTEMPTS
    from local.latency import TABLE

    shards = keys.STOCK_SHARDS
    # The shard's read, the buy's credit read after it, and the commit (local/latency.py's table).
    window = 2 * TABLE["dynamodb.read"] + TABLE["dynamodb.transaction"]
    per_shard = rate / shards
    lose = 1 - math.exp(-per_shard * window)
    attempts = 1 / (1 - lose)
    wru = per_shard * attempts * 2  # a transactional write of one small item, won or lost
    rru = per_shard * attempts * 0.5  # an eventually consistent GetItem of a few bytes
    sold_out = (shards + 1) * 0.5  # the BatchGetItem of every shard and the old counter
    print(f"\nFlash sale: one coupon bought {rate:,.0f} times a second, over its {shards} stock shards "
          f"(STOCK#{{site}}#{{coupon}}#{{n}}): {per_shard:,.1f} takes/s on each; a take loses its race "
          f"{lose:.0%} of the time (window {window * 1000:.0f} ms), {attempts:.2f} attempts a purchase, all "
          f"{_CONFLICT_ATTEMPTS} of a step lost {lose ** _CONFLICT_ATTEMPTS:.1e} (then the ASL's retry); each "
          f"shard {wru:,.0f} WRU/s and {rru:,.0f} RRU/s (limits 1,000 and 3,000). Once sold out, the first "
          f"buyer in each warm environment reads every shard ({sold_out:.1f} RRU) and the rest none. "
          f"The single counter it replaced: one take at a time across all buyers, "
          f"{1 / window:,.0f} a second at most before nearly every one loses.")


# The 10-million-user site of issue 19. Assumption, named: a profile item under 1 KB (1 WRU in
# the table and 1 in each of the 4 user indexes, which have quotas of their own).
SITE_USERS = 10_000_000


def ten_million_users(rate: float, shared: dict[tuple[str, str], list[float]], table_writes: float) -> None:
    """The 10-million-user site at `rate` activities/s: the activity's keys (from the counts),
    importing its users into the sharded users index, and the leaderboards' upkeep."""
    from chalicelib.store import keys

    over = [(space, key, rru * rate, wru * rate) for (space, key), (rru, wru) in shared.items()
            if wru * rate > 1000 or rru * rate > 3000]
    hottest = max(shared.items(), key=lambda kv: max(kv[1][1] / 1000, kv[1][0] / 3000), default=None)
    print(f"\n10-million-user site ({SITE_USERS:,} users) at {rate:,.0f} activities/s:")
    if hottest is not None:
        (space, key), (rru, wru) = hottest
        print(f"  partitions the activities touch: {'none' if not over else len(over)} over its limit; the "
              f"hottest, {space} {key}, at {wru * rate:,.0f} WRU/s and {rru * rate:,.0f} RRU/s "
              f"(limits 1,000 and 3,000)")
    # Import: each of the users index's shards takes 1,000 writes/s in each index; the table's
    # on-demand write quota (the same 40,000 WRU/s the activities use) is the other bound.
    per_shard = 1000 * keys.USERS_SHARDS  # profiles/s the 16 shards of one index take
    by_quota = QUOTAS["ddb_table_wru"].per_second  # 1 WRU a profile, in the table and in each index
    imported = min(per_shard, by_quota)
    print(f"  importing its users: {keys.USERS_SHARDS} shards of the users index take {per_shard:,} profiles/s, "
          f"the table's (and each index's) write quota {by_quota:,.0f}/s: {SITE_USERS / imported / 60:,.0f} "
          f"minutes for {SITE_USERS:,} (one partition took {SITE_USERS / 1000 / 3600:,.1f} hours)")
    leaderboards(rate, shared)


# The rank job's costs per score change it handles, measured by bench/leaderboards.py on
# 2026-12-03 (1,000 changes a minute on boards of 10,000 and 100,000 users: the same at both):
# requests per change besides the counters (the live items read since a margin before the last
# run: 33 Queries; their rank items and profiles: 40 BatchGetItems; the rank items written 25 a
# request: 40), and per counter item (its put, a hundredth of a BatchGetItem): 1,145 counter
# items for 1,000 changes there, a sparse board; a dense one shares buckets, at most one write
# of each bucket a run. RRU and WRU per change: everything, counters included (an upper bound).
RUN_REQUESTS_PER_CHANGE = 0.12
RUN_REQUESTS_PER_COUNTER = 1.01
RUN_RRU_PER_CHANGE = 4.2
RUN_WRU_PER_CHANGE = 4.2
AWS_REQUEST_SECONDS = 0.006  # a DynamoDB request from Lambda, about (bench/aws_quotas.py's latency model)
MAX_SCORE = 1_000_000  # the highest period score the counters hold, for their number of buckets


def leaderboards(rate: float, shared: dict[tuple[str, str], list[float]]) -> None:
    """The busiest board at `rate` activities/s: its live scores' index, the rank job's run
    (reads, writes, how long it takes with its threads) and the counters' partition."""
    from chalicelib.engine.leaderboards import BAND_BITS
    from chalicelib.store import keys
    from chalicelib.store import ranks as rank_store

    per_board = {key: wru * keys.BOARD_SHARDS for (space, key), (_, wru) in shared.items()
                 if space == "GSI2" and "#LBL#" in key}
    if not per_board:
        return
    board, changes_per_activity = max(per_board.items(), key=lambda kv: kv[1])
    changes = changes_per_activity * rate
    per_run = changes * 60
    live_shard = changes * 2 / keys.BOARD_SHARDS  # a returning user's entry moves: delete + put
    standings_shard = changes * 2 / rank_store.STANDINGS_SHARDS  # at most one rank item per change
    buckets = 1024 + 512 * max(0, MAX_SCORE.bit_length() - BAND_BITS)
    counter_items = min(2 * per_run, buckets + MAX_SCORE.bit_length() + 1)
    counter_peak = min(counter_items, rank_store.COUNTER_THREADS / AWS_REQUEST_SECONDS)
    requests = per_run * RUN_REQUESTS_PER_CHANGE + counter_items * RUN_REQUESTS_PER_COUNTER
    counter_seconds = counter_items * RUN_REQUESTS_PER_COUNTER * AWS_REQUEST_SECONDS / rank_store.COUNTER_THREADS
    seconds = per_run * RUN_REQUESTS_PER_CHANGE * AWS_REQUEST_SECONDS / rank_store.RANK_JOB_THREADS + counter_seconds
    timeout = 30
    most = ((timeout - counter_seconds) * rank_store.RANK_JOB_THREADS / AWS_REQUEST_SECONDS
            / RUN_REQUESTS_PER_CHANGE / 60)
    print(f"  leaderboards, the busiest board ({board.split('#LBL#')[1].split('#')[0]}): "
          f"{changes_per_activity:.2f} score changes an activity, {changes:,.0f}/s; its live scores' index "
          f"{live_shard:,.0f} WRU/s on each of {keys.BOARD_SHARDS} shards (a returning user's entry moves: 2 units); "
          f"the rank job each minute handles at most {per_run:,.0f} changes (fewer users: one who scores twice "
          f"is one): {per_run * RUN_RRU_PER_CHANGE / 60:,.0f} RRU/s and {per_run * RUN_WRU_PER_CHANGE / 60:,.0f} "
          f"WRU/s on the table (spread over the users' partitions), the standings' index {standings_shard:,.0f} "
          f"WRU/s on each of {rank_store.STANDINGS_SHARDS} shards, the counters' partition at most "
          f"{counter_items:,.0f} item writes a run ({buckets:,} buckets for scores up to {MAX_SCORE:,}) at "
          f"{counter_peak:,.0f}/s at the peak ({rank_store.COUNTER_THREADS} at a time; limit 1,000). "
          f"A run: about {requests:,.0f} requests, {seconds:,.0f} s with {rank_store.RANK_JOB_THREADS} at a time "
          f"(its Lambda's timeout: {timeout} s, so about {most:,.0f} changes/s of different users a board is the "
          f"first limit the leaderboards meet; past it, a run split by the live index's shards). A rank read is 2 requests and a standings first page 1 whatever the board's size; "
          f"each reads its board period's top item, 3,000 strongly consistent reads/s on that one key.")


def run_cost(args: list[str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "counts.json"
        env = {**os.environ, "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "ERROR")}
        subprocess.run([sys.executable, str(HERE / "cost.py"), "--json", str(path), *args], cwd=ROOT, env=env,
                       check=True, stdout=subprocess.DEVNULL)
        data: dict[str, Any] = json.loads(path.read_text())
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", type=Path, help="bench/cost.py --json output (thread mode); run it when absent")
    parser.add_argument("--durations", type=Path, help="bench/cost.py --json output of a Lambda-like run "
                                                       "(--lambda process --latency aws); run it when absent")
    parser.add_argument("--thread-durations", action="store_true",
                        help="thread-mode durations plus the latency table instead of a Lambda-like run")
    parser.add_argument("--stage", default="prod")
    parser.add_argument("--polls", type=int, default=POLLS_MEASURED)
    parser.add_argument("--user-rate", type=float, default=5.0, help="activities/s of one user (per-user keys)")
    parser.add_argument("--target", type=float, default=10_000)
    args = parser.parse_args(argv)
    data = json.loads(args.counts.read_text()) if args.counts else run_cost(["--stage", args.stage])
    if args.thread_durations:
        durations, mode = None, "thread-mode durations + the latency table (local/latency.py) per call"
    else:
        durations = (json.loads(args.durations.read_text()) if args.durations
                     else run_cost(["--stage", args.stage, "--lambda", "process", "--latency", "aws"]))
        mode = "Lambda-like mode (LOCAL_LAMBDA=process, LOCAL_LATENCY=aws)"
    found = limits(data, durations, stage=args.stage, polls=args.polls, target=args.target)
    print(f"Capacity on AWS default quotas (bench/aws_quotas.py), blended mix of bench/cost.py, accept + "
          f"{args.polls} polls; counts from commit {data.get('commit', '?')}; Lambda durations: {mode}.\n")
    width = max(len(limit.name) for limit in found)
    for limit in found:
        print(f"  {limit.name:{width}s} {limit.rate:12,.0f} activities/s  ({limit.detail})")
    print(f"\nTo reach {args.target:,.0f} activities/s:")
    for limit in found:
        if limit.raise_to:
            print(f"  {limit.name}: {limit.raise_to}")
    shared, per_user = partition_loads(data)
    hot = sorted(shared.items(), key=lambda kv: -max(kv[1][1] / 1000, kv[1][0] / 3000))[:5]
    if hot:
        print(f"\nHottest site-wide keys at {args.target:,.0f} activities/s on one site (limits: 1,000 WRU/s, "
              "3,000 RRU/s per partition key):")
        for (space, key), (rru, wru) in hot:
            print(f"  {space} {key}: {wru * args.target:,.0f} WRU/s, {rru * args.target:,.0f} RRU/s")
    hottest = sorted(per_user.items(), key=lambda kv: -max(kv[1][1] / 1000, kv[1][0] / 3000))[:5]
    if hottest:
        print(f"\nPer-user keys at {args.user_rate:g} activities/s of one user (they do not grow with the site's rate):")
        for (space, key), (rru, wru) in hottest:
            print(f"  {space} {key}: {wru * args.user_rate:,.1f} WRU/s, {rru * args.user_rate:,.1f} RRU/s")
    first = found[0]
    busy = [limit for limit in found if limit.quota == "lambda_concurrency"]
    if busy:
        # Lambda adds 1,000 concurrent executions per function every 10 s: from cold, the larger
        # group (the API, or the workflow functions together: a bound for each of them) ramps longest.
        needed = max(float(limit.detail.split(" ms")[0]) / 1000 * min(first.rate, args.target) for limit in busy)
        print(f"\nLambda's scale-up ({QUOTAS['lambda_scaling'].what}): the {needed:,.0f} concurrent executions (at most, per function) "
              f"needed at {min(first.rate, args.target):,.0f} activities/s are reached from cold in about "
              f"{max(0.0, needed / QUOTAS['lambda_scaling'].per_second):.0f} s (a ramp, not a steady limit).")
        everywhere = sum(float(limit.detail.split(" ms")[0]) / 1000 for limit in busy) * args.target
        caches(everywhere, args.target)
    flash_sale(1000)
    # The activities' table writes at the target: the quota scaled by how far the target is past the rate it allows.
    table_wru = next((limit for limit in found if limit.name == "DynamoDB on-demand table writes"), None)
    ten_million_users(args.target, shared, QUOTAS["ddb_table_wru"].per_second * args.target / table_wru.rate
                      if table_wru else 0.0)
    print("Not modelled: token buckets (Step Functions, API Gateway's burst) let short bursts above the refill rates; "
          "each Lambda environment's first mechanics read (the counts are with caches warm).")
    print(f"first limit: {first.name} at {first.rate:.0f} activities/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
