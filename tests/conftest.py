"""Shared fixtures: moto in-process with the app's table, the Chalice test client, helpers."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from local.stack import in_process_environment

OPERATOR_TOKEN = "test-operator-token"

os.environ.update(in_process_environment(OPERATOR_TOKEN, "gamification-test"))
os.environ.pop("AWS_ENDPOINT_URL", None)


def pytest_report_header(config: pytest.Config) -> list[str]:
    """The modes this run is in: moto's speed-ups, the e2e stack's Lambda mode, the clock."""
    from local import patches
    from tests import builders

    lines = [f"local runtime: moto speed-ups {'on' if patches.speedups_wanted() else 'off (LOCAL_SPEEDUPS=0)'}; "
             f"e2e stacks run Lambda functions in {os.environ.get('LOCAL_LAMBDA', 'thread')} mode"]
    moment = builders.anchor()
    if moment is not None:
        text = os.environ[builders.ANCHOR_VARIABLE]
        lines.append(f"clock anchor: {builders.ANCHOR_VARIABLE}={text} -> tests marked `dates` start at "
                     f"{moment:%Y-%m-%dT%H:%M:%SZ} ({moment:%A}; Europe/London "
                     f"{moment.astimezone(ZoneInfo('Europe/London')):%Y-%m-%d %H:%M %Z}, America/New_York "
                     f"{moment.astimezone(ZoneInfo('America/New_York')):%Y-%m-%d %H:%M %Z})")
    return lines


@pytest.fixture(autouse=True)
def _dated_clock(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test marked `dates` starts at TEST_CLOCK_ANCHOR (tests/builders.py); every test ends
    with the clock back at the real time, whatever it moved."""
    from chalicelib import ids
    from tests import builders

    if request.node.get_closest_marker("dates") is not None:
        builders.anchor_clock()
    try:
        yield
    finally:
        builders.release_clock()
        # Ids carry the clock's time and never go back within a process: after a test that
        # moved the clock, the next test's ids start from its own clock again.
        ids.restart()


@dataclass
class RequestCounter:
    """DynamoDB requests seen through botocore events, by operation name."""

    calls: list[str] = field(default_factory=list)

    def __call__(self, event_name: str, **_: Any) -> None:
        self.calls.append(event_name.rsplit(".", 1)[-1])

    def reset(self) -> None:
        self.calls.clear()

    @property
    def count(self) -> int:
        return len(self.calls)


class ScanOnRequestPath(AssertionError):
    pass


def _refuse_scan(**_: Any) -> None:
    raise ScanOnRequestPath("a Scan was issued on a request path")


@pytest.fixture
def aws() -> Iterator[None]:
    from moto import mock_aws

    from chalicelib import auth
    from chalicelib.config import settings
    from chalicelib.store import activities, db, sites, stock
    from chalicelib.webhooks import worker
    from local import patches, provision

    auth._verified.clear()  # keys verified by an earlier test's process state
    activities._known_users.clear()  # users an earlier test's tables had
    stock._sold_out.clear()  # coupons sold out in an earlier test's tables
    patches.behave_like_aws()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}):
        settings.cache_clear()
        db.reset_client()
        worker.reset_client()
        sites._cache.clear()
        import boto3

        provision.create_table(boto3.client("dynamodb"), os.environ["TABLE_NAME"])
        yield
        db.reset_client()


@pytest.fixture
def requests_counter(aws: None) -> Iterator[RequestCounter]:
    from chalicelib.store import db

    counter = RequestCounter()
    events = db.client().meta.events
    events.register("before-call.dynamodb.*", counter)
    events.register("before-call.dynamodb.Scan", _refuse_scan)
    yield counter
    events.unregister("before-call.dynamodb.*", counter)


@dataclass
class Api:
    """The Chalice test client with JSON in and out."""

    http: Any

    def call(self, method: str, path: str, body: Any = None, token: str | None = OPERATOR_TOKEN,
             headers: dict[str, str] | None = None, raw: bytes | str | None = None) -> tuple[int, Any, dict[str, str]]:
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        if token is not None:
            hdrs["Authorization"] = f"Bearer {token}"
        payload = raw if raw is not None else (json.dumps(body) if body is not None else None)
        res = getattr(self.http, method.lower())(path, headers=hdrs, body=payload)
        data = json.loads(res.body) if res.body else None
        return res.status_code, data, dict(res.headers)

    def get(self, path: str, **kw: Any) -> tuple[int, Any, dict[str, str]]:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> tuple[int, Any, dict[str, str]]:
        return self.call("POST", path, body, **kw)

    def ok(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        status, data, _ = self.call(method, path, body, **kw)
        assert status < 300, (status, data)
        return data


@pytest.fixture
def api(requests_counter: RequestCounter) -> Iterator[Api]:
    from chalice.test import Client

    import app as app_module

    with Client(app_module.app, stage_name="local") as client:
        yield Api(client.http)


@pytest.fixture
def site(api: Api) -> str:
    api.ok("POST", "/sites", {"id": "acme", "name": "Acme", "timezone": "Europe/London", "weekStart": "monday"})
    return "acme"


def make_key(api: Api, site: str, role: str) -> str:
    return str(api.ok("POST", f"/sites/{site}/api-keys", {"name": f"{role}-key", "role": role})["key"])


@pytest.fixture
def workflow(aws: None) -> Iterator[str]:
    """The real state machine file in moto, its Lambda tasks calling the app's own functions,
    fed by the activity queue through the local runtime's poller (Lambda's SQS event source)."""
    import boto3

    from chalicelib.config import settings
    from chalicelib.store import mechanics
    from chalicelib.workflow import starter
    from chalicelib.workflow.definition import CONSUMER
    from local import patches, provision, runtime
    from local.runtime import APP_NAME, STAGE, _lambda_functions

    functions = _lambda_functions()
    patches.register_functions(dict(functions))
    arns = provision.create_functions(boto3.client("lambda"), boto3.client("iam"), list(functions))
    from chalicelib.workflow.definition import substitutions

    subs = substitutions({name.removeprefix(f"{APP_NAME}-{STAGE}-"): arn for name, arn in arns.items()})
    arn = provision.create_state_machine(boto3.client("stepfunctions"), boto3.client("iam"), "activity-test", subs)
    os.environ["STATE_MACHINE_ARN"] = arn
    os.environ["ACTIVITY_QUEUE_URL"] = provision.create_queues(boto3.client("sqs"), "test")
    settings.cache_clear()
    starter.reset_client()
    mechanics._cache.clear()
    runtime.start_queue_consumer(os.environ["ACTIVITY_QUEUE_URL"],
                                 functions[provision.function_name(APP_NAME, STAGE, CONSUMER)])
    yield arn
    runtime.stop_queue_consumer()
    os.environ.pop("STATE_MACHINE_ARN", None)
    os.environ.pop("ACTIVITY_QUEUE_URL", None)
    settings.cache_clear()
    starter.reset_client()


def wait_for(api: Api, site: str, activity_id: str, timeout: float = 30.0,
             done: tuple[str, ...] = ("SUCCEEDED", "FAILED", "REJECTED")) -> Any:
    import time

    deadline = time.monotonic() + timeout
    while True:
        status, data, _ = api.get(f"/sites/{site}/activities/{activity_id}")
        assert status == 200, data
        pending = (data.get("rejection") or {}).get("pending")
        if data["status"] in done and not pending:
            return data
        if time.monotonic() > deadline:
            raise AssertionError(f"activity {activity_id} still {data['status']}: {data}")
        time.sleep(0.05)


def submit(api: Api, site: str, uuid: str, attrs: dict[str, Any], key: str | None = None,
           reason: str = "") -> str:
    headers = {"Idempotency-Key": key} if key else None
    status, data, hdrs = api.call("POST", f"/sites/{site}/activities",
                                  {"uuid": uuid, "reason": reason, "attrs": attrs}, headers=headers)
    assert status == 202, data
    assert hdrs.get("Location") == f"/sites/{site}/activities/{data['id']}"
    return str(data["id"])


def run(api: Api, site: str, uuid: str, attrs: dict[str, Any], **kw: Any) -> Any:
    return wait_for(api, site, submit(api, site, uuid, attrs, **kw))


@pytest.fixture
def receiver() -> Iterator[Any]:
    """A webhook receiver on 127.0.0.1 (tests/webhook_receiver.py), stopped after the test."""
    from tests.webhook_receiver import Receiver

    r = Receiver()
    yield r
    r.server.shutdown()
