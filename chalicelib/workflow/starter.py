"""Starting executions of the activity state machine."""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.exceptions import ClientError

from chalicelib.config import settings

_client: Any = None


def _sfn() -> Any:
    global _client
    if _client is None:
        _client = boto3.client("stepfunctions")
    return _client


def reset_client() -> None:
    global _client
    _client = None


def start(name: str, payload: dict[str, Any]) -> None:
    """Start the execution `name`; one that already exists (a retried start) is left alone.

    Standard executions keep their names for 90 days, so a start repeated after a lost
    response cannot run the activity twice.
    """
    try:
        _sfn().start_execution(stateMachineArn=settings().state_machine_arn, name=name, input=json.dumps(payload))
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
            raise
