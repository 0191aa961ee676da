"""StartSyncExecution on the local runtime answers as AWS documents it.

moto 5.2.5 answers StartSyncExecution with 404 "Not yet implemented"; `patches.
synchronous_express_executions` (a fix) supplies it. The oracle is the AWS API reference for
StartSyncExecution and the Express pricing rules: the call blocks until the execution ends and
answers 200 whatever the execution's outcome, with status SUCCEEDED | FAILED | TIMED_OUT,
output only on success, error and cause on failure, and billingDetails (memory in 64-MB
chunks, duration rounded up to the next 100 ms); only EXPRESS machines
(StateMachineTypeNotSupported, 400, for STANDARD); the machine's TimeoutSeconds ends it as
TIMED_OUT.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

ROLE = "arn:aws:iam::123456789012:role/local-states"
_names = itertools.count()


def _machine(sfn: Any, definition: dict[str, Any], kind: str = "EXPRESS") -> str:
    out = sfn.create_state_machine(name=f"sync-test-{next(_names)}", definition=json.dumps(definition),
                                   roleArn=ROLE, type=kind)
    return str(out["stateMachineArn"])


def _pass(result: Any) -> dict[str, Any]:
    return {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": result, "ResultPath": "$.added", "End": True}}}


@pytest.fixture
def sfn(aws: None) -> Any:
    import boto3

    return boto3.client("stepfunctions", region_name="us-east-1")


@pytest.fixture
def function(aws: None) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A Lambda function routed to a Python handler (as the `workflow` fixture routes the app's):
    it records each event, fails when asked, sleeps when asked, and answers the event plus one key."""
    import boto3

    from local import patches, provision

    name = f"sync-test-fn-{next(_names)}"
    seen: list[dict[str, Any]] = []

    class Refused(Exception):
        pass

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append(event)
        if event.get("fail"):
            raise Refused(f"refused {event['fail']}")
        time.sleep(float(event.get("sleep", 0)))
        return {**event, "handled": context.function_name}

    patches.register_functions({name: handler})
    arn = provision.create_functions(boto3.client("lambda", region_name="us-east-1"),
                                     boto3.client("iam", region_name="us-east-1"), [name])[name]
    yield arn, seen
    patches._handlers.pop(name, None)


def _task(function_arn: str, **extra: Any) -> dict[str, Any]:
    return {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                                             "Parameters": {"FunctionName": function_arn, "Payload.$": "$"},
                                             "OutputPath": "$.Payload", "End": True, **extra}}}


def test_a_succeeded_execution_answers_aws_response_shape(sfn: Any) -> None:
    arn = _machine(sfn, _pass({"a": 1}))
    before = datetime.now(UTC) - timedelta(seconds=1)
    out = sfn.start_sync_execution(stateMachineArn=arn, name="first-run", input='{"k": 2}')

    assert out["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert out["status"] == "SUCCEEDED"
    assert out["stateMachineArn"] == arn
    assert out["name"] == "first-run"
    machine = arn.split(":stateMachine:")[1]
    # Express executions: arn:aws:states:<region>:<account>:express:<machine>:<name>:<id>
    assert re.fullmatch(rf"arn:aws:states:us-east-1:123456789012:express:{machine}:first-run:[0-9a-f-]{{36}}",
                        out["executionArn"]), out["executionArn"]
    assert json.loads(out["input"]) == {"k": 2}
    assert json.loads(out["output"]) == {"k": 2, "added": {"a": 1}}
    assert before <= out["startDate"] <= out["stopDate"] <= datetime.now(UTC) + timedelta(seconds=1)
    assert "error" not in out and "cause" not in out
    assert out["billingDetails"] == {"billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": 100}


def test_a_failed_execution_answers_200_with_error_and_cause_and_no_output(sfn: Any) -> None:
    arn = _machine(sfn, {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "because"}}})
    out = sfn.start_sync_execution(stateMachineArn=arn, input="{}")

    assert out["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert out["status"] == "FAILED"
    assert (out["error"], out["cause"]) == ("Boom", "because")
    assert "output" not in out
    assert out["billingDetails"]["billedMemoryUsedInMB"] == 64


def test_the_name_is_optional_and_a_repeated_name_is_not_refused(sfn: Any) -> None:
    arn = _machine(sfn, _pass(1))
    unnamed = sfn.start_sync_execution(stateMachineArn=arn)
    assert re.fullmatch(r"[0-9a-f-]{36}", unnamed["name"])
    assert json.loads(unnamed["input"]) == {}  # no input: "{}"
    # Express promises no name idempotency: the same name runs again, as a new execution.
    first = sfn.start_sync_execution(stateMachineArn=arn, name="same", input='{"n": 1}')
    second = sfn.start_sync_execution(stateMachineArn=arn, name="same", input='{"n": 2}')
    assert (first["status"], second["status"]) == ("SUCCEEDED", "SUCCEEDED")
    assert json.loads(second["output"])["n"] == 2
    assert first["executionArn"] != second["executionArn"]


def test_a_standard_machine_is_refused(sfn: Any) -> None:
    arn = _machine(sfn, _pass(1), kind="STANDARD")
    with pytest.raises(ClientError) as refused:
        sfn.start_sync_execution(stateMachineArn=arn, input="{}")
    assert refused.value.response["Error"]["Code"] == "StateMachineTypeNotSupported"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_missing_machine_and_bad_input_are_refused(sfn: Any) -> None:
    arn = _machine(sfn, _pass(1))
    with pytest.raises(ClientError) as missing:
        sfn.start_sync_execution(stateMachineArn=arn + "-gone", input="{}")
    assert missing.value.response["Error"]["Code"] == "StateMachineDoesNotExist"
    with pytest.raises(ClientError) as bad:
        sfn.start_sync_execution(stateMachineArn=arn, input="{not json")
    assert bad.value.response["Error"]["Code"] == "InvalidExecutionInput"
    with pytest.raises(ClientError) as long_name:
        sfn.start_sync_execution(stateMachineArn=arn, name="n" * 81)
    assert long_name.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_timeout_seconds_ends_the_execution_as_timed_out(sfn: Any) -> None:
    arn = _machine(sfn, {"StartAt": "W", "TimeoutSeconds": 1,
                         "States": {"W": {"Type": "Wait", "Seconds": 3, "End": True}}})
    started = time.monotonic()
    out = sfn.start_sync_execution(stateMachineArn=arn, input="{}")
    elapsed = time.monotonic() - started

    assert out["status"] == "TIMED_OUT"
    assert 0.9 <= elapsed < 2.5  # answered at the timeout, not after the 3 s wait
    assert "output" not in out
    assert 1000 <= out["billingDetails"]["billedDurationInMilliseconds"] <= 1500


def test_the_call_blocks_until_the_end_and_bills_duration_in_100_ms_steps(sfn: Any) -> None:
    arn = _machine(sfn, {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": True}}})
    started = time.monotonic()
    out = sfn.start_sync_execution(stateMachineArn=arn, input="{}")
    assert time.monotonic() - started >= 1.0
    assert out["status"] == "SUCCEEDED"
    ran_ms = (out["stopDate"] - out["startDate"]).total_seconds() * 1000
    billed = out["billingDetails"]["billedDurationInMilliseconds"]
    assert billed % 100 == 0 and ran_ms - 1 <= billed < ran_ms + 101, (ran_ms, billed)
    assert billed >= 1000


def test_express_billing_rounds_memory_to_64_mb_and_duration_to_100_ms() -> None:
    from local.patches import _express_billing

    t0 = datetime(2026, 1, 1, tzinfo=UTC)

    def bill(ms: float, payload_mb: float = 0) -> tuple[int, int]:
        found = _express_billing("{}", ["x" * int(payload_mb * 1024 * 1024)], t0, t0 + timedelta(milliseconds=ms))
        return found["billedMemoryUsedInMB"], found["billedDurationInMilliseconds"]

    assert bill(0) == (64, 100)
    assert bill(1) == (64, 100)
    assert bill(100) == (64, 100)
    assert bill(100.5) == (64, 200)
    assert bill(1234) == (64, 1300)
    assert bill(5, payload_mb=13) == (64, 100)   # 50 + 13 MB fits one chunk
    assert bill(5, payload_mb=15) == (128, 100)  # 50 + 15 MB needs two


def test_a_lambda_task_runs_the_registered_function(sfn: Any, function: tuple[str, list[dict[str, Any]]]) -> None:
    function_arn, seen = function
    arn = _machine(sfn, _task(function_arn))
    out = sfn.start_sync_execution(stateMachineArn=arn, input='{"user": "u1"}')

    assert out["status"] == "SUCCEEDED", out
    assert seen == [{"user": "u1"}]
    assert json.loads(out["output"]) == {"user": "u1", "handled": function_arn.split(":function:")[1]}


def test_a_lambda_error_reaches_retry_catch_and_the_answer(sfn: Any,
                                                         function: tuple[str, list[dict[str, Any]]]) -> None:
    function_arn, seen = function
    task = {k: v for k, v in _task(function_arn)["States"]["T"].items() if k != "End"}
    caught = _machine(sfn, {"StartAt": "T", "States": {
        "T": {**task, "Retry": [{"ErrorEquals": ["Refused"], "MaxAttempts": 1, "IntervalSeconds": 1}],
              "Catch": [{"ErrorEquals": ["Refused"], "ResultPath": "$.error", "Next": "Handled"}], "Next": "Handled"},
        "Handled": {"Type": "Pass", "End": True}}})
    out = sfn.start_sync_execution(stateMachineArn=caught, input='{"fail": "once"}')
    assert out["status"] == "SUCCEEDED", out
    assert len(seen) == 2  # the first attempt and its one retry
    assert json.loads(out["output"])["error"]["Error"] == "Refused"

    uncaught = _machine(sfn, _task(function_arn))
    out = sfn.start_sync_execution(stateMachineArn=uncaught, input='{"fail": "always"}')
    assert out["status"] == "FAILED"
    assert out["error"] == "Refused"
    assert "refused always" in out["cause"]
    assert "output" not in out


def test_concurrent_sync_executions_from_several_threads(sfn: Any,
                                                       function: tuple[str, list[dict[str, Any]]]) -> None:
    import boto3

    function_arn, seen = function
    arn = _machine(sfn, _task(function_arn))
    results: dict[int, dict[str, Any]] = {}
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            client = boto3.client("stepfunctions", region_name="us-east-1")
            results[i] = client.start_sync_execution(stateMachineArn=arn, name=f"c{i}",
                                                     input=json.dumps({"i": i, "sleep": 0.5}))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(6)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    elapsed = time.monotonic() - started

    assert not errors, errors
    assert sorted(results) == list(range(6))
    for i, out in results.items():
        assert out["status"] == "SUCCEEDED", out
        assert out["name"] == f"c{i}"
        assert json.loads(out["output"])["i"] == i  # each caller gets its own execution's answer
    assert sorted(e["i"] for e in seen) == list(range(6))
    assert elapsed < 6 * 0.5  # they ran side by side, not one after another


def test_an_express_machine_is_created_and_runs_asynchronously_too(
        sfn: Any, function: tuple[str, list[dict[str, Any]]]) -> None:
    function_arn, seen = function
    arn = _machine(sfn, _task(function_arn))
    assert sfn.describe_state_machine(stateMachineArn=arn)["type"] == "EXPRESS"
    started = sfn.start_execution(stateMachineArn=arn, name="async-one", input='{"user": "async"}')
    assert started["executionArn"]
    deadline = time.monotonic() + 5
    while not seen and time.monotonic() < deadline:
        time.sleep(0.02)
    assert seen == [{"user": "async"}]


def test_through_a_moto_server_with_inject_host_prefix_false() -> None:
    """A client of a moto server (custom endpoint_url) must not prefix the host with `sync-`."""
    import boto3
    from botocore.config import Config
    from moto.core import config as moto_config
    from moto.server import ThreadedMotoServer

    from local import patches

    patches.behave_like_aws()
    before = moto_config.default_user_config.get("stepfunctions")
    moto_config.default_user_config["stepfunctions"] = {"execute_state_machine": True}
    server = ThreadedMotoServer(port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        kw: dict[str, Any] = {"region_name": "us-east-1", "endpoint_url": f"http://{host}:{port}",
                              "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        client = boto3.client("stepfunctions", config=Config(inject_host_prefix=False), **kw)
        arn = _machine(client, _pass({"via": "server"}))
        out = client.start_sync_execution(stateMachineArn=arn, input='{"k": 1}')
        assert out["status"] == "SUCCEEDED"
        assert json.loads(out["output"]) == {"k": 1, "added": {"via": "server"}}
        assert out["billingDetails"]["billedMemoryUsedInMB"] == 64
        with pytest.raises(ClientError) as refused:
            client.start_sync_execution(stateMachineArn=_machine(client, _pass(1), kind="STANDARD"))
        assert refused.value.response["Error"]["Code"] == "StateMachineTypeNotSupported"

        # With botocore's default the request goes to http://sync-<host>:<port>/, which does not resolve.
        prefixed = boto3.client("stepfunctions", config=Config(retries={"max_attempts": 0}, connect_timeout=2), **kw)
        with pytest.raises(Exception, match="sync-"):
            prefixed.start_sync_execution(stateMachineArn=arn, input="{}")
    finally:
        server.stop()
        if before is None:
            moto_config.default_user_config.pop("stepfunctions", None)
        else:
            moto_config.default_user_config["stepfunctions"] = before


def test_the_fix_is_registered_and_stays_on_with_speedups_off(sfn: Any) -> None:
    from local import patches

    assert patches.synchronous_express_executions in patches.FIXES
    arn = _machine(sfn, _pass(1))
    with patches.moto_own_paths():
        assert patches.moto_own_code_problems() == []
        assert sfn.start_sync_execution(stateMachineArn=arn)["status"] == "SUCCEEDED"
