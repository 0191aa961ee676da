"""Faults in every step of the real state machine: throttles, conflicts, crashes, redelivery.

Faults are injected where AWS would produce them: a botocore `before-call` hook on the app's
DynamoDB client answers one chosen request with a throttle or a cancelled transaction (the
way DynamoDB answers when botocore's own retries are spent or do not apply), scoped to one
handler, or to one part of a handler's work (the rewards cascade, the finish on its own), by
wrapping it. For each, the activity must end SUCCEEDED or FAILED
with the right error, and wallets, ledger and rewards must be exactly as if it ran once;
the invariant checker (chalicelib.audit.verify) must find nothing on the site.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from tests.builders import drained
from tests.conftest import Api, run, submit, wait_for

pytestmark = pytest.mark.usefixtures("game", "webhook_endpoint")


@pytest.fixture
def webhook_endpoint(api: Api, game: str) -> None:
    """Every commit here records its events (a site with an endpoint: nothing listens on its
    port, so its deliveries fail quietly): the invariant checker's "an event if and only if its
    effect" runs over every fault below (verified())."""
    api.ok("POST", f"/sites/{SITE}/webhooks", {"url": "http://127.0.0.1:9/hooks", "events": ["*"]})

SITE = "acme"
THROTTLE = "ProvisionedThroughputExceededException"
CONFLICT = "TransactionConflict"
_scope = threading.local()


@dataclass
class Fault:
    step: str  # the scope the fault is confined to: point_step, ..., rewards, finish (SCOPES)
    operation: str  # a DynamoDB operation, or "*" for the step's first request
    kind: str  # THROTTLE or CONFLICT
    times: int = 1
    hits: int = 0


@dataclass
class Injector:
    """Answers chosen DynamoDB requests with an error instead of sending them."""

    faults: list[Fault] = field(default_factory=list)

    def __call__(self, event_name: str, **_: Any) -> Any:
        operation = event_name.rsplit(".", 1)[-1]
        step = getattr(_scope, "step", None)
        for fault in self.faults:
            if fault.step == step and fault.operation in ("*", operation) and fault.hits < fault.times:
                fault.hits += 1
                return _error_response(fault.kind, operation)
        return None


def _error_response(kind: str, operation: str) -> tuple[AWSResponse, dict[str, Any]]:
    if kind == CONFLICT:
        parsed: dict[str, Any] = {
            "Error": {"Code": "TransactionCanceledException",
                      "Message": "Transaction cancelled, please refer cancellation reasons for specific reasons "
                                 "[None, TransactionConflict]"},
            "CancellationReasons": [{"Code": "None"}, {"Code": "TransactionConflict",
                                                       "Message": "Transaction is ongoing for the item"}],
        }
    else:
        parsed = {"Error": {"Code": kind, "Message": f"injected on {operation}"}}
    parsed["ResponseMetadata"] = {"HTTPStatusCode": 400, "HTTPHeaders": {}, "RetryAttempts": 0}
    return AWSResponse("https://dynamodb.local/", 400, {}, None), parsed


STEP_HANDLERS = ("behaviour_step", "point_step", "coupon_step", "gift_step", "bounty_step", "reject_step",
                 "mark_failed")


def _scopes() -> dict[str, tuple[Any, str]]:
    """Scope name -> (module, attribute): every handler, and the parts of a handler's work."""
    from chalicelib.activities import lifecycle, rewards
    from chalicelib.workflow import steps

    return {**{name: (steps, name) for name in STEP_HANDLERS}, "rewards": (rewards, "process"),
            "finish": (lifecycle, "finish")}


@pytest.fixture
def injector(monkeypatch: pytest.MonkeyPatch) -> Iterator[Injector]:
    """The hook on the app's client, and every scope wrapped to name itself."""
    from chalicelib.store import db

    for name, (module, attribute) in _scopes().items():
        monkeypatch.setattr(module, attribute, _scoped(name, getattr(module, attribute)))
    found = Injector()
    events = db.client().meta.events
    events.register_first("before-call.dynamodb", found)
    yield found
    events.unregister("before-call.dynamodb", found)


def _scoped(name: str, handler: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        outer = getattr(_scope, "step", None)
        _scope.step = name
        try:
            return handler(*args, **kwargs)
        finally:
            _scope.step = outer

    return wrapper


# ------------------------------------------------------------------ what the table holds

def _partition(uuid: str) -> list[dict[str, Any]]:
    client = boto3.client("dynamodb")
    pages = client.get_paginator("query").paginate(
        TableName="gamification-test", KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": f"USER#{SITE}#{uuid}"}}, ConsistentRead=True)
    return [i for page in pages for i in page["Items"]]


def books(uuid: str) -> dict[str, Any]:
    """Wallet balances, ledger entries per point type, reward completions, coupons, bounties, stats."""
    items = _partition(uuid)
    out: dict[str, Any] = {"wallets": {}, "entries": {}, "rewards": {}, "coupons": [], "bounties": [],
                           "activities": 0, "gifts": {}}
    for item in items:
        sk = item["SK"]["S"]
        if sk == "S#STATE":
            from chalicelib.store import db
            from chalicelib.store.userstate import from_state_item

            state = from_state_item(uuid, {}, db.deserialize(item))
            out["wallets"] = {p: w.balance for p, w in state.wallets.items()}
            out["activities"] = int(state.stats.get("activities", 0))
            out["gifts"] = {k: int(v) for k, v in state.stats.items()
                            if (k == "giftsReceived" and v) or k.startswith("g:")}
        elif sk.startswith("L#"):
            point_id = item["pointId"]["S"]
            out["entries"][point_id] = out["entries"].get(point_id, 0) + 1
        elif sk.startswith("S#R#"):
            out["rewards"][sk[4:]] = len(item.get("completions", {}).get("L", []))
        elif sk.startswith("S#Q#"):
            out["coupons"].append((item["couponId"]["S"], item["code"]["S"], item["status"]["S"]))
        elif sk.startswith("S#Y#"):
            out["bounties"].append(item["status"]["S"])
    return out


def verified() -> None:
    from chalicelib.audit.verify import verify

    report = verify([SITE])
    assert report.ok, report.summary()
    assert report.checked["activities"] > 0 and report.checked["events"] > 0


def give(api: Api, uuid: str, point_id: str, amount: int) -> None:
    done = run(api, SITE, uuid, {"type": "point", "action": "increment",
                                 "points": [{"pointId": point_id, "points": amount}]})
    assert done["status"] == "SUCCEEDED", done


# ------------------------------------------------------------------ scenarios, one per step

@dataclass
class Scenario:
    prepare: Callable[[Api], None]
    attrs: dict[str, Any]
    expect: Callable[[dict[str, Any], dict[str, Any]], None]  # (alice's books, bob's books)
    # The gift's foresight reports a possible unlock that the rewards step then does not find
    # (what a concurrent change of the target can cause): the finish commits on its own.
    foresight_misses: bool = False
    # The unlock does not fit the type step's commit (rewards.settle_in): the rewards step
    # commits it on its own, as for a cascade too large for one transaction.
    unfolded: bool = False

    def arrange(self, api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
        if self.unfolded:
            from chalicelib.activities import effects, rewards

            monkeypatch.setattr(rewards, "FOLD_MARGIN", effects.MAX_TRANSACTION_ITEMS)
        if self.foresight_misses:
            from types import SimpleNamespace

            from chalicelib.activities import gift

            monkeypatch.setattr(gift, "evaluate_rewards", lambda *a, **k: SimpleNamespace(unlocked=["?"], lost=[]))
        self.prepare(api)


def _nothing(api: Api) -> None:
    pass


def _alice_has_40_coins(api: Api) -> None:
    give(api, "alice", "coins", 40)


def _two_videos(api: Api) -> None:
    for _ in range(2):
        assert run(api, SITE, "alice", {"type": "behaviour", "verb": "watch_video"})["status"] == "SUCCEEDED"


def _open_bounty(api: Api) -> None:
    give(api, "alice", "coins", 40)
    done = run(api, SITE, "alice", {"type": "bounty", "action": "start", "points": [{"pointId": "coins",
                                                                                        "points": 15}]})
    assert done["status"] == "SUCCEEDED", done
    _open_bounty.bounty_id = done["id"]  # type: ignore[attr-defined]


def _expect_behaviour(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert (a["wallets"], a["entries"], a["activities"]) == ({"xp": 10}, {"xp": 1}, 1)


def _expect_point(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert (a["wallets"], a["entries"], a["activities"]) == ({"coins": 7}, {"coins": 1}, 1)


def _expect_coupon(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a["wallets"]["coins"] == 30 and a["entries"]["coins"] == 2
    [(coupon_id, code, status)] = a["coupons"]  # one copy, whichever stock shard the retry read
    assert (coupon_id, status) == ("voucher", "redeemed") and code in ("V1", "V2")
    assert a["activities"] == 2


def _expect_gift(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert (a["wallets"]["coins"], a["entries"]["coins"]) == (35, 2)
    assert (b["wallets"], b["entries"]) == ({"coins": 5}, {"coins": 1})
    assert b["gifts"] == {"giftsReceived": 1, "g:thanks": 1}


def _expect_plain_gift(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert (a["wallets"]["coins"], a["entries"]["coins"]) == (35, 2)
    assert (b["wallets"], b["entries"]) == ({"coins": 5}, {"coins": 1})


def _expect_bounty_award(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert (a["wallets"]["coins"], a["entries"]["coins"], a["bounties"]) == (25, 2, ["awarded"])
    assert (b["wallets"], b["entries"]) == ({"coins": 15}, {"coins": 1})


def _expect_binge(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a["rewards"].get("binge") == 1
    assert a["wallets"] == {"xp": 30, "coins": 50}
    assert a["entries"] == {"xp": 3, "coins": 1}
    assert a["activities"] == 3


SCENARIOS: dict[str, Scenario] = {
    "behaviour": Scenario(_nothing, {"type": "behaviour", "verb": "watch_video"}, _expect_behaviour),
    "point": Scenario(_nothing, {"type": "point", "action": "increment", "points": [{"pointId": "coins", "points": 7}]},
                      _expect_point),
    "coupon": Scenario(_alice_has_40_coins, {"type": "coupon", "action": "redeem", "couponId": "voucher"},
                       _expect_coupon),
    "gift": Scenario(_alice_has_40_coins, {"type": "gift", "targetUuid": "bob", "rewardId": "thanks",
                                           "points": [{"pointId": "coins", "points": 5}]}, _expect_gift),
    "bounty": Scenario(_open_bounty, {"type": "bounty", "action": "award", "targetUuid": "bob"}, _expect_bounty_award),
    # A behaviour that unlocks: its step settles the rewards in its own commit.
    "unlock": Scenario(_two_videos, {"type": "behaviour", "verb": "watch_video"}, _expect_binge),
    "rewards": Scenario(_two_videos, {"type": "behaviour", "verb": "watch_video"}, _expect_binge, unfolded=True),
    # Points for bob and no reward: the rewards step finds nothing to write, the finish commits alone.
    "plain_gift": Scenario(_alice_has_40_coins, {"type": "gift", "targetUuid": "bob",
                                                 "points": [{"pointId": "coins", "points": 5}]}, _expect_plain_gift,
                           foresight_misses=True),
}


def _attrs(name: str) -> dict[str, Any]:
    attrs = dict(SCENARIOS[name].attrs)
    if name == "bounty":
        attrs["bountyId"] = _open_bounty.bounty_id  # type: ignore[attr-defined]
    return attrs


# (scope, scenario, operation, fault): a fault in every handler and part of one, throttles on
# reads ("*": the scope's first request; a handler's first is its turn check) and on commits,
# transaction conflicts on commits.
CASES = [
    ("point_step", "point", "*", THROTTLE),
    ("behaviour_step", "behaviour", "*", THROTTLE),
    ("point_step", "point", "TransactWriteItems", CONFLICT),
    ("coupon_step", "coupon", "TransactWriteItems", THROTTLE),
    ("gift_step", "gift", "TransactWriteItems", CONFLICT),
    ("bounty_step", "bounty", "*", THROTTLE),
    ("behaviour_step", "unlock", "TransactWriteItems", CONFLICT),
    ("rewards", "rewards", "*", THROTTLE),
    ("rewards", "rewards", "TransactWriteItems", CONFLICT),
    ("finish", "plain_gift", "TransactWriteItems", THROTTLE),
]


@pytest.mark.parametrize(("step", "scenario", "operation", "kind"), CASES,
                         ids=[f"{s}-{op}-{k[:8]}" for s, _, op, k in CASES])
def test_fault_in_a_step_is_retried_and_applied_once(api: Api, injector: Injector, monkeypatch: pytest.MonkeyPatch,
                                                     step: str, scenario: str, operation: str, kind: str) -> None:
    case = SCENARIOS[scenario]
    case.arrange(api, monkeypatch)
    injector.faults.append(Fault(step, operation, kind))
    done = run(api, SITE, "alice", _attrs(scenario))
    assert injector.faults[0].hits == 1, "the fault never fired: the case tests nothing"
    assert done["status"] == "SUCCEEDED", done
    case.expect(books("alice"), books("bob"))
    verified()


def test_throttle_in_mark_failed_still_fails_with_the_rule_error(api: Api, injector: Injector) -> None:
    injector.faults.append(Fault("mark_failed", "TransactWriteItems", CONFLICT))
    done = run(api, SITE, "alice", {"type": "point", "action": "redeem", "points": [{"pointId": "coins", "points": 3}]})
    assert injector.faults[0].hits == 1
    assert (done["status"], done["error"]["type"]) == ("FAILED", "InsufficientPoints"), done
    # The pending marker went with it: the user's next activity is not held up.
    give(api, "alice", "coins", 2)
    assert books("alice")["wallets"] == {"coins": 2}
    verified()


def test_rule_failure_after_a_throttle_fails_with_the_rule_error(api: Api, injector: Injector) -> None:
    injector.faults.append(Fault("point_step", "*", THROTTLE))
    done = run(api, SITE, "alice", {"type": "point", "action": "redeem", "points": [{"pointId": "coins", "points": 3}]})
    assert (done["status"], done["error"]["type"]) == ("FAILED", "InsufficientPoints"), done
    assert books("alice")["entries"] == {}
    verified()


# ------------------------------------------------------------------ crashes and redelivery

def _crash_named(name: str) -> type[Exception]:
    """The errorType a Lambda reports when its runtime dies (timeout, out of memory, exit)."""
    return type(name, (Exception,), {})


@pytest.mark.parametrize(("scope", "crash"), [("point_step", "Sandbox.Timedout"), ("rewards", "Runtime.ExitError"),
                                            ("finish", "Sandbox.Timedout")])
def test_crash_after_the_write_before_returning(api: Api, monkeypatch: pytest.MonkeyPatch, scope: str,
                                                crash: str) -> None:
    module, attribute = _scopes()[scope]
    original = getattr(module, attribute)
    calls = {"n": 0, "armed": False}

    def crash_after(*args: Any, **kwargs: Any) -> Any:
        out = original(*args, **kwargs)
        if calls["armed"]:
            calls["n"] += 1
            if calls["n"] == 1:
                raise _crash_named(crash)("the runtime died after the step's transaction")
        return out

    monkeypatch.setattr(module, attribute, crash_after)
    scenario = {"rewards": "rewards", "finish": "plain_gift"}.get(scope, "point")
    SCENARIOS[scenario].arrange(api, monkeypatch)
    calls["armed"] = True
    done = run(api, SITE, "alice", _attrs(scenario))
    drained()  # a crash after the last commit is retried after the status already reads SUCCEEDED
    assert calls["n"] >= 1, calls
    assert done["status"] == "SUCCEEDED", done
    SCENARIOS[scenario].expect(books("alice"), books("bob"))
    verified()


def _deliver_again(activity_id: str, attrs: dict[str, Any], *, dedup: str) -> None:
    """The same work on the queue once more (a reconciler's or SQS's second delivery)."""
    from chalicelib.store.activities import work_of
    from chalicelib.workflow import starter

    assert starter.hand_off(work_of(SITE, "alice", activity_id, attrs["type"], "process", activity_id), dedup=dedup)


@pytest.mark.parametrize("scenario", ["bounty", "coupon"])
def test_the_same_work_delivered_twice_after_it_finished(api: Api, scenario: str) -> None:
    SCENARIOS[scenario].prepare(api)
    done = run(api, SITE, "alice", _attrs(scenario))
    assert done["status"] == "SUCCEEDED", done
    _deliver_again(done["id"], _attrs(scenario), dedup=f"{done['id']}-again")
    drained()
    again = wait_for(api, SITE, done["id"])
    assert (again["status"], again["result"]) == ("SUCCEEDED", done["result"])
    SCENARIOS[scenario].expect(books("alice"), books("bob"))
    verified()


def test_the_same_work_delivered_three_times_at_once(api: Api) -> None:
    """The queue's delivery and two more handler invocations of the same work, concurrently."""
    from concurrent.futures import ThreadPoolExecutor

    from chalicelib.store.activities import work_of
    from chalicelib.workflow import steps

    give(api, "alice", "coins", 40)
    attrs = {"type": "gift", "targetUuid": "bob", "points": [{"pointId": "coins", "points": 5}]}
    activity_id = submit(api, SITE, "alice", attrs)
    work = work_of(SITE, "alice", activity_id, "gift", "process", activity_id)
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda _: steps.gift_step(dict(work)), range(2)))
    done = wait_for(api, SITE, activity_id)
    drained()
    assert done["status"] == "SUCCEEDED", done
    a, b = books("alice"), books("bob")
    assert (a["wallets"]["coins"], a["entries"]["coins"], a["activities"]) == (35, 2, 2)
    assert (b["wallets"], b["entries"]) == ({"coins": 5}, {"coins": 1})
    verified()


def test_steps_called_again_by_hand_change_nothing(api: Api) -> None:
    from chalicelib.workflow import steps

    give(api, "alice", "coins", 40)
    done = run(api, SITE, "alice", {"type": "gift", "targetUuid": "bob", "rewardId": "thanks",
                                    "points": [{"pointId": "coins", "points": 5}]})
    event = {"site": SITE, "uuid": "alice", "activityId": done["id"], "type": "gift", "job": "process",
             "gateId": done["id"]}
    assert steps.gift_step(dict(event)) == event
    assert steps.gift_step({**event, "activity": {"id": done["id"], "uuid": "alice", "type": "gift",
                                                  "attrs": done["attrs"]}}) == event
    _expect_gift(books("alice"), books("bob"))
    verified()


def test_a_late_duplicate_cannot_apply_an_activity_that_already_failed(api: Api) -> None:
    """Delivery A fails the activity; duplicate B, past its turn check before that, must not apply it."""
    from chalicelib import clock
    from chalicelib.activities import lifecycle
    from chalicelib.workflow import steps

    activity_id = submit(api, SITE, "alice", {"type": "point", "action": "increment",
                                              "points": [{"pointId": "coins", "points": 4}]})
    wait_for(api, SITE, activity_id)
    # Replay B's view: begin passed while the activity was PROCESSING, then A marked it FAILED.
    from chalicelib.store import db
    from chalicelib.store.keys import activity_sk, user_pk

    db.update(user_pk(SITE, "alice"), activity_sk(activity_id), "SET steps = :e, effects = :e, results = :e, #s = :p",
              values={":p": "PROCESSING", ":e": {}}, names={"#s": "status"})
    for entry in [i for i in _partition("alice") if i["SK"]["S"].startswith(("L#", "S#STATE", "OUT#"))]:
        db.delete(entry["PK"]["S"], entry["SK"]["S"])  # (OUT#: the events of the commit undone here)
    assert lifecycle.fail(SITE, "alice", activity_id, {"type": "InsufficientPoints", "message": "x"},
                          clock.now_iso()) in (True, False)
    event = {"site": SITE, "uuid": "alice", "activityId": activity_id, "type": "point", "job": "process",
             "gateId": activity_id}
    # Past its turn check before A ended it, B's commit is refused by the activity's status.
    from chalicelib.activities import point

    effects = steps._run(event, point.process, last=False)
    assert not effects.applied
    stored = wait_for(api, SITE, activity_id)
    assert stored["status"] == "FAILED", stored
    assert books("alice")["entries"] == {}


def test_a_reward_revoked_by_a_reject_can_be_earned_again(api: Api) -> None:
    """Found by the soak: the revoked reward kept an empty `completions` list, and unlocking it
    again was conditional on the list not existing: a StepConflict on every retry, InternalError."""
    _two_videos(api)
    third = run(api, SITE, "alice", {"type": "behaviour", "verb": "watch_video"})
    assert "binge" in third["result"]["awarded"]["rewards"]
    status, data, _ = api.post(f"/sites/{SITE}/activities/{third['id']}/reject", {"reason": "test"})
    assert status == 202, data
    assert wait_for(api, SITE, third["id"])["status"] == "REJECTED"
    assert books("alice")["rewards"].get("binge") == 0
    again = run(api, SITE, "alice", {"type": "behaviour", "verb": "watch_video"})
    assert again["status"] == "SUCCEEDED", again
    assert "binge" in again["result"]["awarded"]["rewards"]
    assert books("alice")["rewards"]["binge"] == 1
    verified()
