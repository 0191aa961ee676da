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
from collections.abc import Callable, Iterator
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


# ------------------------------------------------------------------ accept's two writes

def markers(uuid: str) -> list[str]:
    """The user's ordering markers (`P#{gate}`), oldest first."""
    from chalicelib.store import db
    from chalicelib.store.keys import PENDING, user_pk

    items = db.query_all(key_condition="PK = :pk AND begins_with(SK, :p)",
                         values={":pk": user_pk(SITE, uuid), ":p": PENDING})
    return [str(i["SK"])[len(PENDING):] for i in items]


class AcceptCut(Exception):
    """The API function stopped between accept's marker and its activity write."""


class CutAccepts:
    """While armed, accept's activity write never happens: the request ends there (a 500, as
    when the function dies) and the write is kept, for `complete` to make it late."""

    def __init__(self, real_put: Callable[..., None]) -> None:
        self.real_put = real_put
        self.armed = 0
        self.kept: list[tuple[Any, tuple[Any, ...], dict[str, Any]]] = []

    def arm(self) -> None:
        self.armed += 1

    def put(self, item: Any, *args: Any, **kwargs: Any) -> None:
        if self.armed and str(item.get("SK", "")).startswith("A#"):
            self.armed -= 1
            self.kept.append((item, args, kwargs))
            raise AcceptCut("the API function died between its two writes")
        self.real_put(item, *args, **kwargs)

    def complete(self) -> None:
        """The cut accept's activity write, made now (an accept that was slow, not dead)."""
        item, args, kwargs = self.kept.pop()
        self.real_put(item, *args, **kwargs)


@pytest.fixture
def cut_accepts(monkeypatch: pytest.MonkeyPatch) -> CutAccepts:
    from chalicelib.store import db

    cuts = CutAccepts(db.put)
    monkeypatch.setattr(db, "put", cuts.put)
    return cuts


def test_an_accept_cut_after_its_marker_holds_the_users_work_only_for_the_grace(
        api: Api, cut_accepts: CutAccepts) -> None:
    """A marker with no activity behind it: the user's next activity hands it back, finds it
    not ready while the cut accept could still be writing, and once the grace has passed the
    marker is cleared and the next activity runs. The client of the cut accept had no 202."""
    from chalicelib.store.activities import ACCEPT_GRACE

    cut_accepts.arm()
    status, data, _ = api.post(f"/sites/{SITE}/activities", {"uuid": "alice", "attrs": INCREMENT})
    assert status == 500, data
    (orphan,) = markers("alice")
    later = submit(api, SITE, "alice", INCREMENT)
    time.sleep(1.0)
    assert status_of(api, later) == "QUEUED"  # held behind the marker: the accept may be under way
    assert markers("alice") == [orphan, later]
    shift(ACCEPT_GRACE.total_seconds() + 1)
    assert wait_for(api, SITE, later)["status"] == "SUCCEEDED"
    assert markers("alice") == []
    assert wallet("alice", "coins")["entries"] == 1
    assert run(api, SITE, "alice", REDEEM)["status"] == "SUCCEEDED"


def test_a_cut_accepts_marker_alone_is_cleared_by_the_reconciler(api: Api, cut_accepts: CutAccepts) -> None:
    from chalicelib.jobs import reconcile

    cut_accepts.arm()
    assert api.post(f"/sites/{SITE}/activities", {"uuid": "alice", "attrs": INCREMENT})[0] == 500
    assert len(markers("alice")) == 1
    shift(61)
    assert reconcile.run() == {"handedOver": 1, "timedOut": 0}
    drained()
    assert markers("alice") == []
    # Had its hand-over been lost, the reconciler's give-up clears it all the same.
    cut_accepts.arm()
    assert api.post(f"/sites/{SITE}/activities", {"uuid": "bob", "attrs": INCREMENT})[0] == 500
    shift(61 + 181)
    assert reconcile.run() == {"handedOver": 0, "timedOut": 1}
    assert markers("bob") == []


def test_an_accept_still_writing_its_activity_is_not_overtaken(api: Api, cut_accepts: CutAccepts) -> None:
    """The first accept has written its marker, not yet its activity, when the user's second
    activity (a redeem of what the first credits) is processed: the second waits its turn
    without failing, and takes effect after the first once that accept completes."""
    from chalicelib.store.activities import work_of
    from chalicelib.workflow import starter

    cut_accepts.arm()
    assert api.post(f"/sites/{SITE}/activities", {"uuid": "alice", "attrs": INCREMENT})[0] == 500
    (first,) = markers("alice")
    second = submit(api, SITE, "alice", REDEEM)
    time.sleep(1.0)
    assert status_of(api, second) == "QUEUED"
    # The first accept goes on: its activity write, then its hand-off.
    cut_accepts.complete()
    assert starter.hand_off(work_of(SITE, "alice", first, "point", "process", first))
    assert wait_for(api, SITE, second)["status"] == "SUCCEEDED"
    assert wait_for(api, SITE, first)["status"] == "SUCCEEDED"
    coins = wallet("alice", "coins")
    assert (coins["balance"], coins["entries"]) == (0, 2)
    assert markers("alice") == []


def test_a_refused_activity_write_takes_its_marker_with_it(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB refuses the activity (throttled past botocore's retries): the client gets 503,
    and the marker written just before is gone, so the user's next activity runs at once."""
    from chalicelib.store import db

    real_put, refused = db.put, []

    def throttled(item: Any, *args: Any, **kwargs: Any) -> None:
        if not refused and str(item.get("SK", "")).startswith("A#"):
            refused.append(item["id"])
            raise db.Busy("ProvisionedThroughputExceededException", "injected")
        real_put(item, *args, **kwargs)

    monkeypatch.setattr(db, "put", throttled)
    status, data, _ = api.post(f"/sites/{SITE}/activities", {"uuid": "alice", "attrs": INCREMENT})
    assert status == 503 and data["error"]["type"] == "ServiceUnavailable", data
    assert markers("alice") == []
    assert run(api, SITE, "alice", INCREMENT)["status"] == "SUCCEEDED"


def test_a_repeated_idempotency_key_leaves_no_marker(api: Api) -> None:
    first = submit(api, SITE, "alice", INCREMENT, key="k-1")
    assert submit(api, SITE, "alice", INCREMENT, key="k-1") == first
    assert wait_for(api, SITE, first)["status"] == "SUCCEEDED"
    assert markers("alice") == []
    assert wallet("alice", "coins")["entries"] == 1


@pytest.mark.parametrize("fault", ["throttled", "lost"])
def test_a_marker_left_after_the_finish_is_cleared(api: Api, monkeypatch: pytest.MonkeyPatch, fault: str) -> None:
    """The finish's commit went through, the marker's removal after it did not: throttled (the
    ASL retries the step, which finds its work ended and removes it), or lost (the run died
    there: the user's next activity finds the marker of ended work, removes it and runs)."""
    from chalicelib.activities.effects import TransientError
    from chalicelib.store import activities

    real_clear, faults = activities.clear_marker, []

    def clear(site: str, uuid: str, gate_id: str) -> None:
        if not faults:
            faults.append(gate_id)
            if fault == "throttled":
                raise TransientError("throttled: injected")
            return  # lost
        real_clear(site, uuid, gate_id)

    monkeypatch.setattr(activities, "clear_marker", clear)
    done = run(api, SITE, "alice", INCREMENT)
    assert done["status"] == "SUCCEEDED" and faults == [done["id"]]
    drained()
    assert markers("alice") == ([] if fault == "throttled" else [done["id"]])
    assert run(api, SITE, "alice", REDEEM)["status"] == "SUCCEEDED"
    assert markers("alice") == []
    assert wallet("alice", "coins")["entries"] == 2


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
