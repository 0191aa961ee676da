"""The pipeline from accept to a final status: per-user order without waiting, nothing stranded.

Every fault point of the hand-over (a lost or failed SendMessage after accept's write, a
consumer that dies before or after its work, an execution that times out, a MarkFailed that
cannot write) ends with the activity terminal, its effects applied exactly once, the user's
next activity processed, and the invariant checker clean (the autouse `invariants_hold`).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from tests.builders import drained, give, shift, wallet
from tests.conftest import Api, RequestCounter, run, submit, wait_for

pytestmark = pytest.mark.usefixtures("game")

SITE = "acme"
INCREMENT = {"type": "point", "action": "increment", "points": [{"pointId": "coins", "points": 10}]}
REDEEM = {"type": "point", "action": "redeem", "points": [{"pointId": "coins", "points": 10}]}


@pytest.fixture
def quick_redelivery() -> Iterator[None]:
    """A 1-second visibility timeout: what the consumer gives back comes back at once."""
    sqs = boto3.client("sqs")
    url = os.environ["ACTIVITY_QUEUE_URL"]
    before = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "1"})
    # A receive takes the queue's timeout when it is asked: the pollers' long polls under way
    # (1 s each) end before the test sends anything.
    time.sleep(1.2)
    yield
    sqs.set_queue_attributes(QueueUrl=url, Attributes=before)


@pytest.fixture
def lost_hand_offs() -> Iterator[list[str]]:
    """SendMessage answers an error while the list holds "lose"; the list records every send."""
    from chalicelib.workflow import starter

    plan: list[str] = []
    seen: list[str] = []
    client = starter._client("sqs")

    def refuse(**kwargs: Any) -> Any:
        seen.append("send")
        if plan and plan[0] == "lose":
            plan.pop(0)
            return (AWSResponse("https://sqs.local/", 500, {}, None),
                    {"Error": {"Code": "InternalError", "Message": "injected"},
                     "ResponseMetadata": {"HTTPStatusCode": 500, "HTTPHeaders": {}, "RetryAttempts": 0}})
        return None

    client.meta.events.register_first("before-call.sqs.SendMessage", refuse)
    yield plan
    client.meta.events.unregister("before-call.sqs.SendMessage", refuse)


def status_of(api: Api, activity_id: str) -> str:
    return str(api.ok("GET", f"/sites/{SITE}/activities/{activity_id}")["status"])


# ------------------------------------------------------------------ order without waiting

def test_a_users_burst_takes_effect_in_acceptance_order(api: Api) -> None:
    """Nineteen increments then a redeem of their sum: it succeeds only if all ran first."""
    ids = [submit(api, SITE, "alice", {**INCREMENT, "points": [{"pointId": "coins", "points": 1}]})
           for _ in range(19)]
    last = submit(api, SITE, "alice", {**REDEEM, "points": [{"pointId": "coins", "points": 19}]})
    assert wait_for(api, SITE, last)["status"] == "SUCCEEDED"
    assert all(status_of(api, i) == "SUCCEEDED" for i in ids)
    coins = wallet("alice", "coins")
    assert (coins["balance"], coins["entries"]) == (0, 20)


def test_nothing_sleeps_or_polls_for_another_activity(api: Api, monkeypatch: pytest.MonkeyPatch,
                                                      requests_counter: RequestCounter) -> None:
    """No app code sleeps or waits while a backlog drains (the app's source holds no sleep at all:
    checked too), and processing one activity costs the same number of DynamoDB requests whether
    the user has 1 or 20 activities queued before it."""
    from pathlib import Path

    source = Path(__file__).resolve().parents[2] / "chalicelib"
    waiting = [str(f) for f in source.rglob("*.py") if "sleep(" in f.read_text() or ".wait(" in f.read_text()]
    assert waiting == [], waiting
    slept: list[str] = []
    real_sleep = time.sleep

    def watched_sleep(seconds: float) -> None:
        import traceback

        caller = traceback.extract_stack()[-2]
        if "/chalicelib/" in caller.filename:
            slept.append(f"{caller.filename}:{caller.lineno}")
        real_sleep(seconds)

    monkeypatch.setattr(time, "sleep", watched_sleep)
    real_wait = threading.Event.wait

    def watched_wait(self: threading.Event, timeout: float | None = None) -> bool:
        import traceback

        caller = traceback.extract_stack()[-2]
        if "/chalicelib/" in caller.filename:
            slept.append(f"{caller.filename}:{caller.lineno}")
        return real_wait(self, timeout)

    monkeypatch.setattr(threading.Event, "wait", watched_wait)

    def per_activity(backlog: int) -> float:
        drained()
        requests_counter.reset()
        ids = [submit(api, SITE, "bob", INCREMENT) for _ in range(backlog)]
        drained()
        requests = requests_counter.count  # the accepts and their processing (no polls yet)
        assert all(status_of(api, i) == "SUCCEEDED" for i in ids)
        return requests / backlog

    alone, behind_twenty = per_activity(1), per_activity(20)
    assert slept == [], slept
    assert behind_twenty <= alone, (alone, behind_twenty)


# ------------------------------------------------------------------ lost and late hand-offs

def test_a_lost_hand_off_runs_before_the_users_next_activity(api: Api, lost_hand_offs: list[str]) -> None:
    lost_hand_offs.append("lose")
    first = submit(api, SITE, "alice", INCREMENT)  # 202 although the hand-off failed
    assert status_of(api, first) == "QUEUED"
    second = run(api, SITE, "alice", REDEEM)  # finds the first unfinished: runs it first
    assert second["status"] == "SUCCEEDED", second
    assert wait_for(api, SITE, first)["status"] == "SUCCEEDED"
    coins = wallet("alice", "coins")
    assert (coins["balance"], coins["entries"]) == (0, 2)


def test_a_lost_hand_off_is_handed_over_by_the_reconciler(api: Api, lost_hand_offs: list[str]) -> None:
    from chalicelib.jobs import reconcile

    lost_hand_offs.append("lose")
    first = submit(api, SITE, "alice", INCREMENT)
    assert reconcile.run() == {"handedOver": 0, "timedOut": 0}  # too young: may still be on its way
    shift(61)
    assert reconcile.run() == {"handedOver": 1, "timedOut": 0}
    assert wait_for(api, SITE, first)["status"] == "SUCCEEDED"
    assert run(api, SITE, "alice", REDEEM)["status"] == "SUCCEEDED"
    assert wallet("alice", "coins")["entries"] == 2


def test_a_duplicate_hand_off_by_the_reconciler_changes_nothing(api: Api) -> None:
    """The reconciler may hand over work whose first delivery is late, not lost."""
    from chalicelib.jobs import reconcile

    give(api, "alice", "coins", 40)
    done = run(api, SITE, "alice", {"type": "coupon", "action": "buy", "couponId": "voucher"})
    from chalicelib.store.activities import work_of
    from chalicelib.workflow import starter

    assert starter.hand_off(work_of(SITE, "alice", done["id"], "coupon", "process", done["id"]), dedup="late")
    drained()
    shift(61)
    assert reconcile.run() == {"handedOver": 0, "timedOut": 0}  # nothing is unfinished
    assert wait_for(api, SITE, done["id"])["result"] == done["result"]
    assert wallet("alice", "coins")["balance"] == 30


# ------------------------------------------------------------------ consumer and execution faults

def test_a_consumer_that_dies_before_its_work_is_redelivered(api: Api, monkeypatch: pytest.MonkeyPatch,
                                                             quick_redelivery: None) -> None:
    from chalicelib.workflow import consumer

    original, deaths = consumer.process, []

    def dies_once(work: dict[str, Any]) -> bool:
        if not deaths:
            deaths.append(work["activityId"])
            raise RuntimeError("the consumer's runtime died")
        return original(work)

    monkeypatch.setattr(consumer, "process", dies_once)
    done = run(api, SITE, "alice", INCREMENT)
    assert done["status"] == "SUCCEEDED" and deaths == [done["id"]]
    assert wallet("alice", "coins")["entries"] == 1
    assert run(api, SITE, "alice", REDEEM)["status"] == "SUCCEEDED"


def test_a_consumer_that_dies_after_a_step_committed_is_safe_to_run_again(
        api: Api, monkeypatch: pytest.MonkeyPatch, quick_redelivery: None) -> None:
    """A synchronous Express execution runs at most once: the queue's redelivery re-runs it."""
    from chalicelib.workflow import consumer

    original, deaths = consumer.process, []

    def dies_after(work: dict[str, Any]) -> bool:
        ended = original(work)
        if not deaths:
            deaths.append(work["activityId"])
            raise RuntimeError("the consumer died after the execution")
        return ended

    give(api, "alice", "coins", 40)
    drained()
    monkeypatch.setattr(consumer, "process", dies_after)
    done = run(api, SITE, "alice", {"type": "gift", "targetUuid": "bob", "points": [{"pointId": "coins", "points": 5}]})
    drained()
    assert done["status"] == "SUCCEEDED" and deaths == [done["id"]]
    assert (wallet("alice", "coins")["balance"], wallet("bob", "coins")["balance"]) == (35, 5)
    assert wallet("bob", "coins")["entries"] == 1


@pytest.mark.parametrize("after_the_work", [False, True], ids=["before", "after"])
def test_an_execution_that_times_out_is_run_again(api: Api, monkeypatch: pytest.MonkeyPatch,
                                                  quick_redelivery: None, after_the_work: bool) -> None:
    from chalicelib.workflow import starter

    original, timeouts = starter.run, []

    def times_out_once(work: dict[str, Any]) -> dict[str, Any]:
        if not timeouts and work.get("type") == "point":
            timeouts.append(work["activityId"])
            if after_the_work:
                original(work)
            return {"status": "TIMED_OUT", "output": None, "error": "States.Timeout", "cause": None}
        return original(work)

    monkeypatch.setattr(starter, "run", times_out_once)
    done = run(api, SITE, "alice", INCREMENT)
    drained()
    assert done["status"] == "SUCCEEDED" and len(timeouts) == 1
    assert wallet("alice", "coins")["entries"] == 1
    assert run(api, SITE, "alice", REDEEM)["status"] == "SUCCEEDED"


def test_a_mark_failed_that_cannot_write_still_ends_the_activity(api: Api, monkeypatch: pytest.MonkeyPatch,
                                                                quick_redelivery: None) -> None:
    """MarkFailed exhausts its retries: the execution fails, the queue redelivers, and the rule's
    error is recorded by the second delivery."""
    from chalicelib.activities import lifecycle

    original, refusals = lifecycle.fail, []

    def cannot_write(*args: Any, **kwargs: Any) -> bool:
        if len(refusals) < 3:  # MarkFailed's first try and its two retries
            refusals.append(1)
            from chalicelib.activities.effects import TransientError

            raise TransientError("throttled: injected")
        return original(*args, **kwargs)

    monkeypatch.setattr(lifecycle, "fail", cannot_write)
    done = run(api, SITE, "alice", REDEEM)
    assert (done["status"], done["error"]["type"]) == ("FAILED", "InsufficientPoints"), done
    assert len(refusals) == 3
    drained()
    assert run(api, SITE, "alice", INCREMENT)["status"] == "SUCCEEDED"


def test_work_that_never_ends_is_failed_by_the_reconciler_within_five_minutes(
        api: Api, lost_hand_offs: list[str]) -> None:
    """Every hand-off lost and nothing else of the user's arriving: the reconciler hands the work
    over while there is time, then ends it as FAILED Timeout, so that nothing stays QUEUED."""
    from chalicelib.jobs import reconcile

    lost_hand_offs.extend(["lose"] * 4)
    first = submit(api, SITE, "alice", INCREMENT)
    shift(61)
    assert reconcile.run() == {"handedOver": 0, "timedOut": 0}  # its hand-over was lost too
    shift(181)  # (from the test's start)
    assert reconcile.run() == {"handedOver": 0, "timedOut": 1}
    done = wait_for(api, SITE, first)
    assert (done["status"], done["error"]["type"]) == ("FAILED", "Timeout"), done
    assert wallet("alice", "coins")["entries"] == 0
    lost_hand_offs.clear()
    assert run(api, SITE, "alice", INCREMENT)["status"] == "SUCCEEDED"


def test_accept_answers_202_although_the_queue_refuses(api: Api, lost_hand_offs: list[str],
                                                       requests_counter: RequestCounter) -> None:
    lost_hand_offs.append("lose")
    status, data, headers = api.post(f"/sites/{SITE}/activities", {"uuid": "alice", "attrs": INCREMENT})
    assert status == 202 and headers["Location"].endswith(data["id"])
    assert status_of(api, data["id"]) == "QUEUED"


def test_one_execution_processes_a_users_queued_activities_in_order(api: Api, monkeypatch: pytest.MonkeyPatch,
                                                                   lost_hand_offs: list[str]) -> None:
    """Consecutive messages of one user and type run in one execution, one Lambda invocation; a
    broken rule in the middle ends that activity FAILED and the rest go on."""
    from chalicelib.store.activities import work_of
    from chalicelib.workflow import consumer, starter, steps

    lost_hand_offs.extend(["lose"] * 4)  # the poller never sees them: the test hands them over
    bodies = [INCREMENT, {**REDEEM, "points": [{"pointId": "coins", "points": 100}]}, REDEEM, INCREMENT]
    ids = [submit(api, SITE, "alice", body) for body in bodies]
    works = [work_of(SITE, "alice", i, "point", "process", i) for i in ids]
    executions, invocations = [], []
    original_run, original_step = starter.run, steps.point_step

    def counted_run(work: dict[str, Any]) -> dict[str, Any]:
        executions.append(len(work.get("batch") or [work]))
        return original_run(work)

    def counted_step(event: dict[str, Any], context: Any = None) -> Any:
        invocations.append(event["activityId"])
        return original_step(event, context)

    monkeypatch.setattr(starter, "run", counted_run)
    monkeypatch.setattr(steps, "point_step", counted_step)
    assert consumer.process_run(works) == 4
    assert executions == [4] and invocations == [ids[0]]
    statuses = [api.ok("GET", f"/sites/{SITE}/activities/{i}") for i in ids]
    assert [s["status"] for s in statuses] == ["SUCCEEDED", "FAILED", "SUCCEEDED", "SUCCEEDED"]
    assert statuses[1]["error"]["type"] == "InsufficientPoints"
    coins = wallet("alice", "coins")
    assert (coins["balance"], coins["entries"]) == (10, 3)


def test_a_gift_handed_over_by_the_reconciler_gives_its_reward_too(api: Api, lost_hand_offs: list[str]) -> None:
    """Work from the reconciler carries no slim activity: the steps read it, and the target's
    reward is evaluated as for a gift handed off by its accept."""
    from chalicelib.jobs import reconcile

    # A mission of Bob's for a "thanks" received: only the rewards step, evaluating the target, unlocks it.
    api.ok("POST", f"/sites/{SITE}/rewards", {"id": "grateful", "kind": "mission", "name": "Grateful",
                                              "criteria": [{"rewardId": "thanks"}]})
    give(api, "alice", "coins", 40)
    gift = {"type": "gift", "targetUuid": "bob", "rewardId": "thanks", "points": [{"pointId": "coins", "points": 5}]}
    direct = run(api, SITE, "alice", gift)
    assert "grateful" in direct["result"]["awarded"]["rewards"], direct["result"]
    lost_hand_offs.append("lose")
    later = submit(api, SITE, "alice", {**gift, "targetUuid": "carol"})
    shift(61)
    assert reconcile.run() == {"handedOver": 1, "timedOut": 0}
    done = wait_for(api, SITE, later)
    assert done["status"] == "SUCCEEDED", done
    assert done["result"]["awarded"] == direct["result"]["awarded"]
    assert (wallet("bob", "coins")["balance"], wallet("carol", "coins")["balance"]) == (5, 5)
