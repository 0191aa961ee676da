"""Step logs tell the truth: every invocation logs with its own activity, never a warm
environment's previous one (MarkFailed used to log before setting its keys)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from chalicelib.observability import logger
from tests.builders import app_logs, log_records


@pytest.fixture
def records() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The JSON records the app's logger wrote so far (at INFO)."""
    with app_logs() as stream:
        yield lambda: log_records(stream)


def test_each_invocation_logs_its_own_activity_and_nothing_of_the_previous_one(
        aws: None, records: Callable[[], list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.activities import lifecycle, reject
    from chalicelib.workflow import steps

    monkeypatch.setattr(lifecycle, "fail", lambda *args: True)
    monkeypatch.setattr(reject, "applied_steps", lambda stored: [])
    logger.append_keys(activity_id="LEFT-BY-A-REQUEST")  # what an earlier caller left in this process
    logger.thread_safe_append_keys(user="someone-else")
    error = {"Error": "ActivityRuleBroken",
             "Cause": json.dumps({"errorMessage": json.dumps({"type": "InsufficientPoints", "message": "no"})})}
    for activity_id, uuid in (("A-FIRST", "alice"), ("A-SECOND", "bob")):
        steps.mark_failed({"site": "acme", "uuid": uuid, "activityId": activity_id, "type": "point",
                           "job": "process", "gateId": activity_id, "error": error}, None)
    logger.remove_keys(["activity_id"])
    failed = [r for r in records() if r["message"] == "activity failed"]
    assert [(r["activity_id"], r["user"], r["step"]) for r in failed] == [
        ("A-FIRST", "alice", "mark_failed"), ("A-SECOND", "bob", "mark_failed")]
    assert all(r["error_type"] == "InsufficientPoints" for r in failed)
