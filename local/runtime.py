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


def provision_all() -> None:
    """Table, Lambda functions and the state machine, from the same files infra/ deploys."""
    from chalicelib.store import db

    db.reset_client()
    region = os.environ["AWS_DEFAULT_REGION"]
    provision.create_table(boto3.client("dynamodb", region_name=region), os.environ["TABLE_NAME"])
    functions = _lambda_functions()
    patches.register_functions(dict(functions))
    if not functions or not provision.STATE_MACHINE.exists():
        return
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


def _schedules() -> list[tuple[float, Any]]:
    """(period in seconds, handler) for every `@app.schedule` of the app."""
    from chalice.app import ScheduledEventConfig

    import app as app_module

    found = []
    for source in app_module.app.event_sources:
        if isinstance(source, ScheduledEventConfig):
            module, _, attr = source.handler_string.rpartition(".")
            handler = getattr(importlib.import_module(module), attr)
            expression = source.schedule_expression  # a Rate/Cron object or a string
            text = expression.to_string() if hasattr(expression, "to_string") else str(expression)
            found.append((_rate_seconds(text), handler))
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
        jobs = _schedules()
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
