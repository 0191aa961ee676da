"""Provisioning and schedules of the local stack (moto never fires schedules)."""

from __future__ import annotations

import importlib
import os
import threading
import time
from typing import Any

import boto3

from local import patches, provision

APP_NAME = "gamification"
STAGE = "local"


def _lambda_functions() -> dict[str, Any]:
    import app as app_module

    return {provision.function_name(APP_NAME, STAGE, f.name): f for f in app_module.app.pure_lambda_functions}


def _function_handlers(functions: dict[str, Any]) -> dict[str, Any]:
    """What moto's Lambda invoke calls for each function.

    `LOCAL_LAMBDA=process`: a proxy to the function's own Lambda-like environments (worker
    processes, `local.lambda_env`), the schedules' functions included. Otherwise (today's default)
    the app's handler itself, in this process; with `LOCAL_LATENCY` on, after the invoke's latency.
    """
    from local import lambda_env, latency

    lambda_env.canary_mark("api")  # the debug-only canary: this process's module state is the API's
    if lambda_env.mode() == "process":
        names = list(functions) + [provision.function_name(APP_NAME, STAGE, name) for name, _, _ in _named_schedules()]
        if os.environ.get("LOCAL_LAMBDA_ENDPOINT") == "server":  # through moto's ThreadedMotoServer
            port = os.environ.get("MOTO_PORT")
            if not port:
                raise RuntimeError("LOCAL_LAMBDA_ENDPOINT=server needs the stack's moto server (MOTO_PORT)")
            return lambda_env.start(names, f"http://127.0.0.1:{port}")
        return lambda_env.start(names)
    if not latency.scale() and not os.environ.get(lambda_env.CANARY_ENV):
        return dict(functions)
    return {name: _in_process(name, handler) for name, handler in functions.items()}


def _in_process(name: str, handler: Any) -> Any:
    from local import lambda_env, latency

    traced = lambda_env.traced(name, handler)

    def invoke(event: Any, context: Any) -> Any:
        latency.pause("lambda.invoke")
        latency.pause("stepfunctions.transition")
        return traced(event, context)

    return invoke


# The consumer's poller (Lambda's SQS event source, which moto does not run: local.sqs_poller).
_poller: Any = None
POLLERS_ENV = "LOCAL_QUEUE_POLLERS"
DEFAULT_POLLERS = 8


def stop_functions() -> None:
    """Stop the queue's poller and the Lambda-like environments, if this stack runs any."""
    from local import lambda_env

    stop_queue_consumer()
    lambda_env.stop()


def start_queue_consumer(queue_url: str, consumer: Any) -> None:
    """Feed the activity queue to its consumer function, as Lambda's SQS event source would.

    As many pollers as `LOCAL_QUEUE_POLLERS` (default 8): Lambda scales a FIFO queue's consumer
    with its active message groups, so several users' batches run at once. 0: none (nothing is
    processed; accepted work stays QUEUED).
    """
    from chalicelib.workflow.definition import BATCH_SIZE, CONSUMER_TIMEOUT
    from local import sqs_poller

    global _poller
    stop_queue_consumer()
    pollers = int(os.environ.get(POLLERS_ENV) or DEFAULT_POLLERS)
    if pollers == 0:  # the pipeline paused: accepted work waits QUEUED (what a test kills a stack with)
        return
    _poller = sqs_poller.start(queue_url, consumer, batch_size=BATCH_SIZE, pollers=pollers, name="activity-queue",
                               timeout_seconds=CONSUMER_TIMEOUT)


def stop_queue_consumer() -> None:
    global _poller
    if _poller is not None:
        _poller.stop()
        _poller = None


def provision_all() -> None:
    """Table, Lambda functions and the state machine, from the same files infra/ deploys."""
    from chalicelib.store import db

    db.reset_client()
    region = os.environ["AWS_DEFAULT_REGION"]
    provision.create_table(boto3.client("dynamodb", region_name=region), os.environ["TABLE_NAME"])
    functions = _lambda_functions()
    handlers = _function_handlers(functions)
    patches.register_functions(handlers)
    if not functions or not provision.STATE_MACHINE.exists():
        return
    from chalicelib.workflow.definition import CONSUMER

    os.environ["ACTIVITY_QUEUE_URL"] = provision.create_queues(boto3.client("sqs", region_name=region),
                                                               f"{APP_NAME}-{STAGE}")
    arns = provision.create_functions(boto3.client("lambda", region_name=region),
                                      boto3.client("iam", region_name=region), list(functions))
    from chalicelib.workflow.definition import substitutions

    subs = substitutions({name.removeprefix(f"{APP_NAME}-{STAGE}-"): arn for name, arn in arns.items()})
    arn = provision.create_state_machine(boto3.client("stepfunctions", region_name=region),
                                         boto3.client("iam", region_name=region),
                                         f"{APP_NAME}-{STAGE}-activity", subs)
    os.environ["STATE_MACHINE_ARN"] = arn
    from chalicelib.config import settings

    settings.cache_clear()
    start_queue_consumer(os.environ["ACTIVITY_QUEUE_URL"], handlers[provision.function_name(APP_NAME, STAGE, CONSUMER)])


def _schedules() -> list[tuple[float, Any]]:
    """(period in seconds, handler) for every `@app.schedule` of the app."""
    return [(period, handler) for _, period, handler in _named_schedules()]


def _named_schedules() -> list[tuple[str, float, Any]]:
    """(name, period in seconds, handler) for every `@app.schedule` of the app."""
    from chalice.app import ScheduledEventConfig

    import app as app_module

    found = []
    for source in app_module.app.event_sources:
        if isinstance(source, ScheduledEventConfig):
            module, _, attr = source.handler_string.rpartition(".")
            handler = getattr(importlib.import_module(module), attr)
            expression = source.schedule_expression  # a Rate/Cron object or a string
            text = expression.to_string() if hasattr(expression, "to_string") else str(expression)
            found.append((source.name, _rate_seconds(text), handler))
    return found


def _rate_seconds(expression: str) -> float:
    """`rate(5 minutes)` and the like; cron schedules run hourly locally."""
    if expression.startswith("rate("):
        amount, unit = expression[5:-1].split()
        scale = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}
        return float(amount) * scale[unit]
    if hasattr(expression, "to_string"):
        return _rate_seconds(expression.to_string())
    return 3600.0


def scheduled_event() -> dict[str, Any]:
    """A complete EventBridge scheduled event: Chalice's CloudWatchEvent reads every field."""
    from chalicelib.clock import now_iso

    return {"version": "0", "id": "local", "detail-type": "Scheduled Event", "source": "local.schedule",
            "account": "123456789012", "time": now_iso(), "region": "us-east-1", "resources": [], "detail": {}}


def start_schedules(stop: threading.Event) -> threading.Thread:
    def loop() -> None:
        from local import lambda_env

        environments = lambda_env.current()
        jobs = [(period, environments.proxy(provision.function_name(APP_NAME, STAGE, name))
                 if environments is not None else handler) for name, period, handler in _named_schedules()]
        due = {i: time.monotonic() + period for i, (period, _) in enumerate(jobs)}
        while not stop.wait(1.0):
            for i, (period, handler) in enumerate(jobs):
                if time.monotonic() >= due[i]:
                    due[i] = time.monotonic() + period
                    try:
                        handler(scheduled_event(), None)
                    except Exception:  # a failing job must not stop the others
                        from chalicelib.observability import logger

                        logger.exception("scheduled job failed")

    thread = threading.Thread(target=loop, name="schedules", daemon=True)
    thread.start()
    return thread
