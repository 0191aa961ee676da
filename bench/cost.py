"""What one million activities cost on AWS, from counts measured on the local stack.

Starts the local stack in this process (thread mode: the API, the state machine interpreter and
every Lambda function run here, so bench/meter.py sees every AWS request they make), seeds the
demo site's mechanics (local/demo.py) through the API, creates a site API key through the API
(so key checks count; the operator token skips them) and runs each activity type once to warm
caches, then once measured: the submit (POST, with the site key), its processing, and two status
polls (GET, with the site key) after it finished.

Per activity it counts: Step Functions (the machine's type is read from the stack: Standard is
billed per state entered, from the execution history; Express per execution and GB-s of 64 MB
steps of 100 ms), Lambda invocations per function (every function the local runtime invokes,
whatever its name, and the API's own Lambda: one per request) with their measured durations and
GB-s from .chalice/config.json's memory for the stage, DynamoDB requests with read and write units
from item sizes (bench/ddb_units.py), SQS requests (per 64 KB), API Gateway requests, and
CloudWatch Logs bytes (the app's log lines at the stage's level, measured; Lambda's START/END/REPORT
lines and EMF metric lines estimated per invocation / per metric). Prices: bench/aws_prices.py.

    python bench/cost.py [--stage prod|dev] [--json PATH] [--lambda thread|process] [--latency off|aws]

`--lambda process --latency aws` runs the functions in Lambda-like environments (durations only:
their AWS requests are made in their own processes and are not counted; bench/capacity.py uses it).
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from aws_prices import PRICES, usd  # noqa: E402
from meter import EMF_METRIC_BYTES, PLATFORM_LOG_BYTES, Call, Invocation, Meter  # noqa: E402

TERMINAL = ("SUCCEEDED", "FAILED", "REJECTED")
SITE = "costbench"
API_FUNCTION = "api_handler"
EXPRESS_MEMORY_GB = 64 / 1024  # Express is billed in 64 MB chunks; a small workflow fits one
POLLS_MEASURED = 2

# The mix: (case, share of activities). Cases are defined in CASES below.
MIX: list[tuple[str, float]] = [
    ("behaviour", 0.25), ("behaviour leaderboard", 0.35), ("behaviour unlock", 0.05), ("point increment", 0.10),
    ("point redeem", 0.05), ("coupon buy", 0.05), ("gift", 0.05), ("rule failure", 0.05), ("bounty start", 0.03),
    ("reject", 0.02),
]

COINS = {"pointId": "coins"}
VIDEO = {"type": "behaviour", "verb": "watch_video"}
# case -> (what it is on the demo mechanics, the measured activity, activities submitted before it)
CASES: dict[str, tuple[str, dict[str, Any], list[dict[str, Any]]]] = {
    "behaviour": ("login: coins, no leaderboard, no KPI, no unlock", {"type": "behaviour", "verb": "login"}, []),
    "behaviour leaderboard": ("watch_video: xp (xp_board), video_board, KPIs; no unlock", VIDEO, []),
    "behaviour unlock": ("3rd watch_video: unlocks binge (+50 coins) and the starter mission", VIDEO, [VIDEO, VIDEO]),
    "point increment": ("5 coins", {"type": "point", "action": "increment", "points": [{**COINS, "points": 5}]}, []),
    "point redeem": ("5 coins of 500", {"type": "point", "action": "redeem", "points": [{**COINS, "points": 5}]},
                     [{"type": "point", "action": "increment", "points": [{**COINS, "points": 500}]}]),
    "coupon buy": ("tshirt for 30 coins", {"type": "coupon", "action": "buy", "couponId": "tshirt"},
                   [{"type": "point", "action": "increment", "points": [{**COINS, "points": 500}]}]),
    "gift": ("5 coins to another user", {"type": "gift", "targetUuid": "{target}", "points": [{**COINS, "points": 5}]},
             [{"type": "point", "action": "increment", "points": [{**COINS, "points": 500}]}]),
    "rule failure": ("redeem more coins than the balance: FAILED",
                     {"type": "point", "action": "redeem", "points": [{**COINS, "points": 1_000_000}]}, []),
    "bounty start": ("a 5-coin bounty", {"type": "bounty", "action": "start", "points": [{**COINS, "points": 5}]},
                     [{"type": "point", "action": "increment", "points": [{**COINS, "points": 500}]}]),
    "reject": ("reject of a SUCCEEDED 5-coin increment (the increment itself not counted)", {},
               [{"type": "point", "action": "increment", "points": [{**COINS, "points": 5}]}]),
}


class Http:
    """One keep-alive connection per thread, JSON in and out."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.local = threading.local()

    def call(self, method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        res = conn.getresponse()
        raw = res.read()
        return res.status, json.loads(raw) if raw else None


# --- configuration ---------------------------------------------------------------------------
def lambda_memory_mb(stage: str, function: str) -> int:
    """The memory .chalice/config.json gives `function` in `stage` (Chalice's default: 128 MB)."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    stage_config = config.get("stages", {}).get(stage, {})
    per_function = stage_config.get("lambda_functions", {}).get(function, {})
    top = config.get("lambda_functions", {}).get(function, {})
    for source in (per_function, stage_config, top, config):
        if "lambda_memory_size" in source:
            return int(source["lambda_memory_size"])
    return 128


def stage_log_level(stage: str) -> str:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    env = {**config.get("environment_variables", {}),
           **config.get("stages", {}).get(stage, {}).get("environment_variables", {})}
    return str(env.get("POWERTOOLS_LOG_LEVEL", "INFO"))


def short_name(deployed: str) -> str:
    """`gamification-local-activity_begin` -> `activity_begin` (Chalice's deployed name)."""
    from local.runtime import APP_NAME, STAGE

    return deployed.removeprefix(f"{APP_NAME}-{STAGE}-")


# --- Step Functions --------------------------------------------------------------------------
class Executions:
    """New executions of every state machine of the stack since the last look."""

    def __init__(self) -> None:
        import boto3

        self.sfn: Any = boto3.client("stepfunctions")
        self.seen: set[str] = set()
        self.types: dict[str, str] = {}

    def machines(self) -> dict[str, str]:
        for machine in self.sfn.list_state_machines().get("stateMachines", []):
            arn = machine["stateMachineArn"]
            if arn not in self.types:
                self.types[arn] = self.sfn.describe_state_machine(stateMachineArn=arn).get("type", "STANDARD")
        return self.types

    def mark(self) -> None:
        for arn in self.machines():
            for e in self.sfn.list_executions(stateMachineArn=arn, maxResults=1000).get("executions", []):
                self.seen.add(e["executionArn"])

    def new(self, wait: float = 10.0) -> list[dict[str, Any]]:
        """The executions started since the last look, once none of them is still running."""
        deadline = time.monotonic() + wait
        while True:
            found = []
            for arn, kind in self.machines().items():
                for e in self.sfn.list_executions(stateMachineArn=arn, maxResults=1000).get("executions", []):
                    if e["executionArn"] not in self.seen:
                        found.append({**e, "machineType": kind})
            if all(e["status"] != "RUNNING" for e in found) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.seen.update(e["executionArn"] for e in found)
        return found

    def transitions(self, execution_arn: str) -> tuple[int, int]:
        """(states entered, Task retries) of a Standard execution: both are billed transitions."""
        events: list[dict[str, Any]] = []
        token = None
        while True:
            page = self.sfn.get_execution_history(executionArn=execution_arn, maxResults=1000,
                                                  **({"nextToken": token} if token else {}))
            events += page["events"]
            token = page.get("nextToken")
            if not token:
                break
        entered = sum(1 for e in events if e["type"].endswith("StateEntered"))
        tasks_entered = sum(1 for e in events if e["type"] == "TaskStateEntered")
        scheduled = sum(1 for e in events if e["type"] in ("LambdaFunctionScheduled", "TaskScheduled"))
        return entered, max(0, scheduled - tasks_entered)


# --- one measured activity -------------------------------------------------------------------
class Bench:
    def __init__(self, stage: str, lambda_mode: str, latency: str, webhook: bool = False) -> None:
        self.stage, self.lambda_mode, self.latency = stage, lambda_mode, latency
        self.webhook = webhook
        self.receiver: Any = None
        self.meter = Meter(measure_units=lambda_mode == "thread")
        self.queues_sent: set[str] = set()

    def start(self) -> None:
        os.environ["LOCAL_LAMBDA"], os.environ["LOCAL_LATENCY"] = self.lambda_mode, self.latency
        os.environ["POWERTOOLS_LOG_LEVEL"] = stage_log_level(self.stage)
        from chalicelib import observability

        original_count = observability.count
        meter = self.meter

        def count(*args: Any, **kwargs: Any) -> None:  # EMF lines: off locally, written on AWS
            meter.count_metric()
            original_count(*args, **kwargs)

        observability.count = count  # before anything imports it
        self.meter.install()
        from local.stack import LocalStack

        self.stack = LocalStack(seed=False, schedules=False).start()
        self.meter.wrap_registered()
        sink = self.meter.log_sink()
        for handler in observability.logger._logger.handlers:  # the app's log stream
            if hasattr(handler, "setStream"):
                handler.setStream(sink)
        self.http = Http(self.stack.port)
        self.executions = Executions()

    def stop(self) -> None:
        self.stack.stop()
        self.meter.uninstall()

    def queue_attributes(self) -> dict[str, dict[str, str]]:
        """The FIFO settings of every queue activities were sent to, read from the stack."""
        import boto3

        with self.meter.unmetered():
            sqs = boto3.client("sqs")
            return {url: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]).get("Attributes", {})
                    for url in sorted(self.queues_sent)}

    def operator(self, method: str, path: str, body: Any = None) -> Any:
        status, data = self.http.call(method, path, self.stack.token, body)
        assert status < 300, (method, path, status, data)
        return data

    def setup_site(self) -> None:
        from local.demo import mechanics

        with self.meter.unmetered():
            self.operator("POST", "/sites", {"id": SITE, "name": "Cost bench", "timezone": "Europe/London"})
            for kind, body in mechanics():
                self.operator("POST", f"/sites/{SITE}/{kind}", body)
            self.key = self.operator("POST", f"/sites/{SITE}/api-keys", {"name": "cost bench", "role": "admin"})["key"]
            if self.webhook:  # one endpoint subscribed to everything, a receiver answering 200 at once
                self.receiver = _receiver()
                self.operator("POST", f"/sites/{SITE}/webhooks",
                              {"url": f"http://127.0.0.1:{self.receiver.server_address[1]}/hooks", "events": ["*"]})

    def user(self, uuid: str) -> None:
        self.operator("POST", f"/sites/{SITE}/users", {"uuid": uuid, "tags": ["sales"]})

    def status(self, activity_id: str) -> dict[str, Any]:
        from chalicelib.domain import activities

        with self.meter.unmetered():
            found: dict[str, Any] = activities.get(SITE, activity_id)
        return found

    def wait(self, activity_id: str, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.status(activity_id)
            if found["status"] in TERMINAL and not (found.get("rejection") or {}).get("pending"):
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(activity_id)
            time.sleep(0.01)

    def submit(self, token: str, uuid: str, attrs: dict[str, Any]) -> str:
        status, data = self.http.call("POST", f"/sites/{SITE}/activities", token, {"uuid": uuid, "attrs": attrs})
        assert status == 202, data
        return str(data["id"])

    def run(self, case: str, uuid: str) -> dict[str, Any]:
        """One activity of `case` by `uuid`, measured: submit, processing, two polls."""
        _, attrs, before = CASES[case]
        target = f"{uuid}-t"
        with self.meter.unmetered():
            self.user(uuid)
            self.user(target)
            prior = ""
            for earlier in before:
                prior = self.submit(self.stack.token, uuid, earlier)
                self.wait(prior)
        time.sleep(0.2)
        with self.meter.unmetered():
            self.executions.mark()
        self.meter.take()
        if case == "reject":
            status, data = self.http.call("POST", f"/sites/{SITE}/activities/{prior}/reject", self.key,
                                          {"reason": "cost bench"})
            assert status == 202, data
            activity_id = prior
        else:
            concrete = json.loads(json.dumps(attrs).replace("{target}", target))
            activity_id = self.submit(self.key, uuid, concrete)
        done = self.wait(activity_id)
        if self.webhook:
            time.sleep(0.5)  # its events' fan-out and deliveries run apart: counted with this activity
        with self.meter.unmetered():
            executions = self.executions.new()
        time.sleep(0.1)
        for _ in range(POLLS_MEASURED):
            status, _ = self.http.call("GET", f"/sites/{SITE}/activities/{activity_id}", self.key)
            assert status == 200
        time.sleep(0.05)
        calls, invocations = self.meter.take()
        self.meter.settle_logs(invocations)
        with self.meter.unmetered():
            return self.summarise(case, done, calls, invocations, executions,
                                  {uuid: "{user}", target: "{target}", activity_id: "{activity}"})

    # --- one activity's figures ----------------------------------------------------------------
    def summarise(self, case: str, done: dict[str, Any], calls: list[Call], invocations: list[Invocation],
                  executions: list[dict[str, Any]], names: dict[str, str]) -> dict[str, Any]:
        from local import latency

        scale = latency.scale()
        proxy_pause = scale * (latency.TABLE["lambda.invoke"] + latency.TABLE["stepfunctions.transition"])
        call_latency: dict[int, float] = defaultdict(float)
        for c in calls:
            key = latency.key_for("sfn" if c.service in ("stepfunctions", "states") else c.service, c.op)
            if c.invocation is not None and key:
                call_latency[c.invocation] += latency.TABLE[key]
        functions: dict[str, dict[str, Any]] = {}
        api = {"accept": 0, "poll": 0}
        api_seconds = {"accept": 0.0, "poll": 0.0}
        logs: Counter[str] = Counter()
        metrics: Counter[str] = Counter()
        for inv in invocations:
            if inv.kind == "api":
                api[inv.phase] += 1
                api_seconds[inv.phase] += inv.seconds
                name = API_FUNCTION
            else:
                name = short_name(inv.name)
            entry = functions.setdefault(name, {"invocations": 0, "seconds": 0.0, "aws_like_seconds": 0.0,
                                                "memory_mb": lambda_memory_mb(self.stage, name),
                                                "by_phase": Counter()})
            entry["invocations"] += 1
            entry["by_phase"][inv.phase] += 1
            billed = max(0.001, inv.seconds - (proxy_pause if inv.kind == "function" else 0.0))
            entry["seconds"] += billed
            # Thread-mode duration plus what the latency table adds per call (for capacity's
            # --thread-durations): the invoke itself is not part of the function's time.
            entry["aws_like_seconds"] += billed + (call_latency[inv.id] if not scale else 0.0)
            logs[inv.phase] += inv.log_bytes + PLATFORM_LOG_BYTES + inv.metrics * EMF_METRIC_BYTES
            metrics[inv.phase] += inv.metrics
        for entry in functions.values():
            entry["gb_seconds"] = entry["memory_mb"] / 1024 * math.ceil(entry["seconds"] * 1000) / 1000
            entry["by_phase"] = dict(entry["by_phase"])
        dynamo: dict[str, dict[str, Any]] = {p: {"requests": 0, "by_op": Counter(), "rru": 0.0, "wru": 0,
                                                 "index_wru": 0} for p in ("accept", "processing", "poll")}
        sqs: dict[str, Any] = {"accept": 0, "processing": 0, "poll": 0, "by_op": Counter()}
        sfn_calls: Counter[str] = Counter()
        sync_seconds: dict[str, float] = {}
        parts: dict[tuple[str, str], list[float]] = {}
        for c in calls:
            if c.service == "dynamodb":
                d = dynamo[c.phase]
                d["requests"] += 1
                d["by_op"][c.op] += 1
                d["rru"] += c.rru
                d["wru"] += c.wru
                d["index_wru"] += c.index_wru
                for space, partition, rru, wru in c.parts:
                    slot = parts.setdefault((space, pattern(partition, names)), [0.0, 0.0])
                    slot[0] += rru
                    slot[1] += wru
            elif c.service == "sqs" and (c.sqs_requests or c.op != "ReceiveMessage"):
                sqs[c.phase] += c.sqs_requests
                sqs["by_op"][c.op] += 1
                if c.op.startswith("SendMessage") and c.queue_url:
                    self.queues_sent.add(c.queue_url)
            elif c.service in ("stepfunctions", "states"):
                sfn_calls[c.op] += 1
                if c.op == "StartSyncExecution" and c.execution_arn:
                    sync_seconds[c.execution_arn] = c.seconds
                elif c.op == "StartSyncExecution":
                    sync_seconds[f"call-{id(c)}"] = c.seconds
        standard = [e for e in executions if e["machineType"] == "STANDARD"]
        express = [e for e in executions if e["machineType"] == "EXPRESS"]
        entered = retries = 0
        state_names: Counter[str] = Counter()
        for e in standard:
            n, r = self.executions.transitions(e["executionArn"])
            entered += n
            retries += r
            state_names[e["stateMachineArn"].rsplit(":", 1)[-1]] += 1
        express_durations = dict(sync_seconds)
        for e in express:
            if e["executionArn"] not in express_durations and e.get("stopDate") and e.get("startDate"):
                express_durations[e["executionArn"]] = (e["stopDate"] - e["startDate"]).total_seconds()
        express_gb_s = sum(math.ceil(max(s, 0.001) / 0.1) * 0.1 * EXPRESS_MEMORY_GB for s in express_durations.values())
        modelled_sqs = 0
        sends = sqs["by_op"].get("SendMessage", 0) + sqs["by_op"].get("SendMessageBatch", 0)
        consumer_calls = sum(sqs["by_op"].get(op, 0) for op in ("ReceiveMessage", "DeleteMessage", "DeleteMessageBatch"))
        if sends and not consumer_calls:
            # The queue's consumer was not seen making requests (an event source mapping's poller is
            # Lambda's, not ours): a ReceiveMessage and a DeleteMessageBatch per message, the worst case.
            modelled_sqs = 2 * sends
        for d in dynamo.values():
            d["by_op"] = dict(d["by_op"])
        sqs["by_op"] = dict(sqs["by_op"])
        sqs["modelled_consumer"] = modelled_sqs
        return {
            "case": case, "what": CASES[case][0], "status": done["status"],
            "api_requests": api, "api_seconds": api_seconds, "lambda": functions, "dynamodb": dynamo, "sqs": sqs,
            "logs_bytes": dict(logs), "metrics": dict(metrics),
            "sfn": {"calls": dict(sfn_calls), "standard_executions": len(standard), "transitions": entered + retries,
                    "retries": retries, "express_executions": len(express_durations),
                    "express_seconds": sum(express_durations.values()), "express_gb_seconds": express_gb_s,
                    "machines": dict(state_names)},
            "partitions": [[space, key, rru, wru] for (space, key), (rru, wru) in sorted(parts.items())],
        }


def pattern(partition: str, names: dict[str, str]) -> str:
    """A partition key with this activity's own ids named, so keys compare across activities."""
    for value in sorted(names, key=len, reverse=True):
        if value:
            partition = re.sub(rf"(?<![\w-]){re.escape(value)}(?![\w-])", names[value], partition)
    return partition


def _receiver() -> Any:
    """A webhook receiver on 127.0.0.1 that answers every delivery 200."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def measure(stage: str = "prod", lambda_mode: str = "thread", latency: str = "off",
            warmup: bool = True, webhook: bool = False) -> dict[str, Any]:
    bench = Bench(stage, lambda_mode, latency, webhook)
    bench.start()
    try:
        bench.setup_site()
        warm: dict[str, list[Any]] = {}
        if warmup:  # caches (mechanics, keys, environments) warm, as on a busy site
            for n, case in enumerate(CASES):
                warm[case] = bench.run(case, f"warm{n}")["partitions"]
        results = {case: bench.run(case, f"u{n}") for n, case in enumerate(CASES)}
        machine_types = sorted(set(bench.executions.machines().values()))
        queues = bench.queue_attributes()
    finally:
        bench.stop()
    return {"stage": stage, "lambda": lambda_mode, "latency": latency, "commit": commit(), "site": SITE,
            "webhook": webhook,
            "machine_types": machine_types, "polls_measured": POLLS_MEASURED, "queues": queues, "cases": results,
            # the keys the warm-up activities touched: keys that differ from one activity to the next
            # (sharded ones) show in bench/capacity.py as spread over the values seen
            "warmup_partitions": warm}


def commit() -> str:
    if os.environ.get("BENCH_COMMIT"):  # measuring an exported tree (git archive) of a named commit
        return os.environ["BENCH_COMMIT"]
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             check=False).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "app.py", "chalicelib", "local", "infra"],
                               cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()
        return (out or "unknown") + (" + uncommitted changes" if dirty else "")
    except OSError:
        return "unknown"


# --- money -----------------------------------------------------------------------------------
def phase_dynamo(r: dict[str, Any], phase: str) -> tuple[float, int]:
    d = r["dynamodb"][phase]
    return float(d["rru"]), int(d["wru"])


def cost_per_activity(r: dict[str, Any], polls: int = POLLS_MEASURED, api_price: str = "apigw_rest_request"
                      ) -> dict[str, float]:
    """USD of one activity, by service, with `polls` status polls (the measured ones scaled)."""
    scale = {"accept": 1.0, "processing": 1.0, "poll": polls / max(1, r.get("polls_measured", POLLS_MEASURED))}
    out: dict[str, float] = defaultdict(float)
    api_requests = r["api_requests"]["accept"] + r["api_requests"]["poll"] * scale["poll"]
    out["api_gateway"] = api_requests * usd(api_price)
    for name, f in r["lambda"].items():
        # the API's Lambda runs once per request: its polls scale with the number of polls
        share = 1.0
        if name == API_FUNCTION and f["invocations"]:
            share = (f["by_phase"].get("accept", 0) + f["by_phase"].get("poll", 0) * scale["poll"]) / f["invocations"]
        out["lambda"] += share * (f["invocations"] * usd("lambda_request") + f["gb_seconds"] * usd("lambda_gb_second"))
    for phase in ("accept", "processing", "poll"):
        rru, wru = phase_dynamo(r, phase)
        out["dynamodb"] += scale[phase] * (rru * usd("dynamodb_rru") + wru * usd("dynamodb_wru"))
        out["sqs"] += scale[phase] * r["sqs"][phase] * usd("sqs_fifo_request")
        out["logs"] += scale[phase] * r["logs_bytes"].get(phase, 0) / 2**30 * usd("logs_ingest_gb")
    out["sqs"] += r["sqs"].get("modelled_consumer", 0) * usd("sqs_fifo_request")
    sfn = r["sfn"]
    out["step_functions"] = (sfn["transitions"] * usd("sfn_standard_transition")
                             + sfn["express_executions"] * usd("sfn_express_request")
                             + sfn["express_gb_seconds"] * usd("sfn_express_gb_second"))
    return dict(out)


def blended(results: dict[str, Any], polls: int = POLLS_MEASURED, api_price: str = "apigw_rest_request"
            ) -> tuple[float, dict[str, float]]:
    """USD per million activities of the mix, and its split by service."""
    split: dict[str, float] = defaultdict(float)
    for case, share in MIX:
        for service, value in cost_per_activity(results[case], polls, api_price).items():
            split[service] += share * value * 1e6
    return sum(split.values()), dict(split)


# --- printing --------------------------------------------------------------------------------
def print_report(data: dict[str, Any]) -> None:
    results = data["cases"]
    for r in results.values():
        r.setdefault("polls_measured", data.get("polls_measured", POLLS_MEASURED))
    print(f"Measured on the local stack (moto {__import__('moto').__version__}), commit {data['commit']}; "
          f"Lambda functions in {data['lambda']} mode; stage '{data['stage']}' memory from .chalice/config.json; "
          f"state machine type(s): {', '.join(data['machine_types']) or 'none'}.")
    print("Per activity: submit (POST with a site key) + processing + 2 status polls (GET with the key).\n")
    header = (f"{'type':22s} {'status':9s} {'trans':>5s} {'invoc':>5s} {'GB-s':>6s} {'DDB req a/p/q':>14s} "
              f"{'RRU':>6s} {'WRU a/p/tot':>12s} {'SQS':>4s} {'API':>4s} {'$/M':>8s}")
    print(header)
    print("-" * len(header))
    for case, _ in MIX:
        r = results[case]
        d = r["dynamodb"]
        invocations = sum(f["invocations"] for n, f in r["lambda"].items() if n != API_FUNCTION)
        gb_s = sum(f["gb_seconds"] for f in r["lambda"].values())
        rru = sum(d[p]["rru"] for p in d)
        wru_a, wru_p = d["accept"]["wru"], d["processing"]["wru"] + d["poll"]["wru"]
        sqs = r["sqs"]["accept"] + r["sqs"]["processing"] + r["sqs"]["poll"] + r["sqs"].get("modelled_consumer", 0)
        api = r["api_requests"]["accept"] + r["api_requests"]["poll"]
        transitions = r["sfn"]["transitions"] or r["sfn"]["express_executions"]
        usd_m = sum(cost_per_activity(r).values()) * 1e6
        print(f"{case:22s} {r['status']:9s} {transitions:5d} {invocations:5d} {gb_s:6.3f} "
              f"{d['accept']['requests']:4d}/{d['processing']['requests']:3d}/{d['poll']['requests']:2d}    "
              f"{rru:6.1f} {wru_a:3d}/{wru_p:3d}/{wru_a + wru_p:3d} {sqs:4d} {api:4d} {usd_m:8.2f}")
    print("\ntrans: Standard states entered (+ Task retries), or Express executions; invoc: workflow Lambda "
          "invocations (the API's own Lambda, one per request, is in GB-s and $ but not here); DDB req "
          "a/p/q: DynamoDB requests of the accept / processing / the 2 polls; WRU a/p/tot: write units of the "
          "accept / of processing and polls / total (transactions x2, GSI writes included).")
    print("\nPer type, in detail:")
    for case, _ in MIX:
        r = results[case]
        lam = ", ".join(f"{n} x{f['invocations']} {f['seconds'] * 1000:.0f} ms @{f['memory_mb']} MB"
                        for n, f in sorted(r["lambda"].items()))
        ops = {p: r["dynamodb"][p]["by_op"] for p in ("accept", "processing", "poll")}
        print(f"  {case} ({r['what']}): {r['status']}")
        print(f"    Lambda: {lam}")
        print(f"    DynamoDB: accept {ops['accept']}, processing {ops['processing']}, polls {ops['poll']}; "
              f"index WRU {sum(r['dynamodb'][p]['index_wru'] for p in ops)}")
        print(f"    Step Functions: {r['sfn']['calls']} standard executions {r['sfn']['standard_executions']}, "
              f"transitions {r['sfn']['transitions']} (retries {r['sfn']['retries']}), express executions "
              f"{r['sfn']['express_executions']} ({r['sfn']['express_gb_seconds']:.4f} GB-s); SQS {r['sqs']['by_op']}"
              f"{' + modelled consumer ' + str(r['sqs']['modelled_consumer']) if r['sqs'].get('modelled_consumer') else ''}"
              f"; logs {sum(r['logs_bytes'].values())} B; EMF metrics {sum(r['metrics'].values())}")
    total, split = blended(results)
    print("\nBlended mix: " + ", ".join(f"{share:.0%} {case}" for case, share in MIX))
    print("  by service (per million, accept + 2 polls, REST API): "
          + ", ".join(f"{k} ${v:.2f}" for k, v in sorted(split.items(), key=lambda kv: -kv[1])))
    one_poll, _ = blended(results, polls=1)
    http_two, _ = blended(results, api_price="apigw_http_request")
    http_one, _ = blended(results, polls=1, api_price="apigw_http_request")
    print(f"  accept + 1 poll, REST API: ${one_poll:.2f}; accept + 2 polls, HTTP API: ${http_two:.2f}; "
          f"accept + 1 poll, HTTP API: ${http_one:.2f}")
    print("  prices (bench/aws_prices.py): " + "; ".join(f"{k} ${p.usd:.10g}/{p.per}" for k, p in PRICES.items()))
    print("  not counted: API Gateway's own access/execution logs (off in Chalice's deployment), Step Functions "
          "logging, X-Ray, data transfer, storage and backups (PITR), KMS; Lambda's START/END/REPORT lines and EMF "
          "metric lines are estimated per invocation / per metric (bench/meter.py).")
    print(f"blended: ${total:.2f} per million activities")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", default="prod", help="the .chalice/config.json stage whose memory and log level "
                                                         "are priced (default prod)")
    parser.add_argument("--json", type=Path, help="write the per-type counts here (bench/capacity.py reads them)")
    parser.add_argument("--lambda", dest="lambda_mode", choices=("thread", "process"), default="thread")
    parser.add_argument("--latency", default="off", help="LOCAL_LATENCY for the run (off or aws)")
    parser.add_argument("--from-json", type=Path, help="print the report of an earlier --json instead of measuring")
    parser.add_argument("--webhook", action="store_true",
                        help="with one webhook endpoint subscribed to every event (its events and deliveries counted)")
    args = parser.parse_args(argv)
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    if args.from_json:
        data = json.loads(args.from_json.read_text())
    else:
        data = measure(args.stage, args.lambda_mode, args.latency, webhook=args.webhook)
    if args.json:
        args.json.write_text(json.dumps(data, indent=1, default=str) + "\n")
    print_report(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
