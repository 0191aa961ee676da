"""Every activity type and action through the real state machine in moto, with the spec as oracle."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.builders import fails_with_nothing_applied, give, queued_work, wallet
from tests.conftest import Api, run, submit, wait_for

pytestmark = pytest.mark.usefixtures("game")


def points(api: Api, uuid: str, attrs: dict[str, Any], site: str = "acme") -> Any:
    return run(api, site, uuid, attrs)


# ------------------------------------------------------------------ behaviours and rewards

def test_behaviour_awards_simple_and_matching_flexible(api: Api) -> None:
    done = run(api, "acme", "alice", {"type": "behaviour", "verb": "watch_video", "metadata": {"category": ["tv", "x"]}})
    assert done["status"] == "SUCCEEDED"
    assert done["result"]["awarded"]["points"] == [{"pointId": "xp", "points": 15}]
    assert sorted(done["result"]["awarded"]["behaviours"]) == ["watch_tv", "watch_video"]
    plain = run(api, "acme", "alice", {"type": "behaviour", "verb": "watch_video", "metadata": {"category": "news"}})
    assert plain["result"]["awarded"]["points"] == [{"pointId": "xp", "points": 10}]
    assert wallet("alice", "xp")["earned"] == 25


def test_unknown_verb_fails(api: Api) -> None:
    fails_with_nothing_applied(api, "acme", "alice", {"type": "behaviour", "verb": "dance"}, "UnknownBehaviour")


@pytest.mark.dates
def test_limit_is_an_exception_not_a_failure(api: Api) -> None:
    first = run(api, "acme", "alice", {"type": "behaviour", "verb": "login"})
    second = run(api, "acme", "alice", {"type": "behaviour", "verb": "login"})
    assert first["result"]["awarded"]["points"] == [{"pointId": "coins", "points": 5}]
    assert second["status"] == "SUCCEEDED"
    assert second["result"]["awarded"]["points"] == []
    assert [e["type"] for e in second["result"]["exceptions"]] == ["LimitReached"]
    assert wallet("alice", "coins")["balance"] == 5


def test_cascade_achievement_prize_level_mission_in_one_activity(api: Api) -> None:
    for _ in range(2):
        run(api, "acme", "alice", {"type": "behaviour", "verb": "watch_video", "metadata": {"category": "tv"}})
    third = run(api, "acme", "alice", {"type": "behaviour", "verb": "watch_video", "metadata": {"category": "tv"}})
    # 3rd video: binge (3 videos) -> 50 coins; xp 45 >= 40 -> silver; binge + silver -> starter.
    assert sorted(third["result"]["awarded"]["rewards"]) == ["binge", "silver", "starter"]
    assert {"pointId": "coins", "points": 50} in third["result"]["awarded"]["points"]
    assert wallet("alice", "coins")["earned"] == 50


def test_a_behaviour_settles_the_rewards_it_moves_in_its_own_commit(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """The behaviour step evaluates the rewards on its own outcome and commits what unlocks with
    its own effects: no rewards step runs, one processing transaction, the rewards still
    recorded as theirs (marker, result, record) for reject and the tabs."""
    from chalicelib.activities import rewards
    from chalicelib.store import activities, db

    evaluated: list[str] = []
    original = rewards.process
    commits: list[list[str]] = []
    transact = db.transact

    def counted(ctx: Any, *args: Any) -> Any:
        evaluated.append(ctx.activity_id)
        return original(ctx, *args)

    def spied(ops: list[dict[str, Any]], *args: Any, **kwargs: Any) -> Any:
        first = ops[0].get("Update") or {}
        if "steps." in first.get("UpdateExpression", ""):
            commits.append(sorted(v for k, v in first["ExpressionAttributeNames"].items() if k.startswith(("#step", "#p"))))
        return transact(ops, *args, **kwargs)

    monkeypatch.setattr(rewards, "process", counted)
    monkeypatch.setattr(db, "transact", spied)
    video = {"type": "behaviour", "verb": "watch_video"}
    first, second = run(api, "acme", "alice", video), run(api, "acme", "alice", video)
    assert (first["status"], second["status"]) == ("SUCCEEDED", "SUCCEEDED")
    assert commits == [["behaviour"], ["behaviour"]], "2 of 3 videos and 20 of 40 xp: nothing can unlock"
    commits.clear()
    third = run(api, "acme", "alice", video)
    assert third["result"]["awarded"]["rewards"] == ["binge"]  # and its 50 coins:
    assert wallet("alice", "coins")["balance"] == 50
    assert evaluated == [], "the rewards step had nothing left to read or decide"
    assert commits == [["behaviour", "rewards"]], "one transaction carried the behaviour, the unlock and the finish"
    stored = activities.get("acme", "alice", third["id"])
    assert stored is not None and set(stored["steps"]) == {"behaviour", "rewards"}
    assert stored["finishedBy"] == "behaviour"
    assert stored["results"]["rewards"]["rewards"] == ["binge"]
    assert [r["rewardId"] for r in stored["effects"]["rewards"]["unlocked"]] == ["binge"]
    assert {(e["pointId"], e["amount"]) for e in stored["effects"]["rewards"]["ledger"]} == {("coins", 50)}
    assert all(e["pointId"] != "coins" for e in stored["effects"]["behaviour"]["ledger"])


@pytest.mark.dates
def test_the_behaviour_step_foresees_the_state_the_rewards_step_reads(api: Api) -> None:
    """What the behaviour step evaluates the rewards on (the user as it read them plus its own
    changes) is what the rewards step would read back after the commit."""
    from dataclasses import replace

    from chalicelib.activities.behaviour import COUNT_PERIODS
    from chalicelib.activities.rewards import progress_of
    from chalicelib.clock import now
    from chalicelib.engine.periods import period_key
    from chalicelib.engine.rewards import after_behaviour
    from chalicelib.store import userstate

    def without_rewards_step(progress: Any) -> Any:
        # What the rewards step itself writes after the behaviour's commit: the 3rd video
        # unlocks binge, whose prize is 50 coins.
        return replace(progress, rewards={}, earned={k: v for k, v in progress.earned.items() if k != "coins"},
                       expired={k: v for k, v in progress.expired.items() if k != "coins"})

    give(api, "alice", "xp", 12)
    for n, metadata in enumerate([{"category": "tv"}, {}, {"category": "tv"}, {}]):
        before = userstate.load("acme", "alice")
        done = run(api, "acme", "alice", {"type": "behaviour", "verb": "watch_video", "metadata": metadata})
        after = userstate.load("acme", "alice")
        assert before is not None and after is not None and done["status"] == "SUCCEEDED"
        keys = [period_key(p, now(), "Europe/London", "monday") for p in COUNT_PERIODS]
        foreseen = after_behaviour(progress_of(before), "watch_video", keys, {"xp": 15 if metadata else 10},
                                   after.tags)
        read_back = progress_of(after)
        assert read_back.behaviour_counts["watch_video"].total == n + 1
        assert without_rewards_step(foreseen) == without_rewards_step(read_back), n


def test_a_point_increment_foresees_its_rewards_and_finishes_in_its_own_commit(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """An increment is one commit (the finish rides in it), also one that reaches a level: the
    level is unlocked in that commit, recorded as the rewards step's."""
    from chalicelib.activities import rewards
    from chalicelib.activities.rewards import progress_of
    from chalicelib.engine.rewards import after_earning
    from chalicelib.store import activities, userstate

    evaluated: list[str] = []
    original = rewards.process

    def counted(ctx: Any, *args: Any) -> Any:
        evaluated.append(ctx.activity_id)
        return original(ctx, *args)

    give(api, "alice", "xp", 1)  # the wallet exists (a new one adds zero figures, which change nothing)
    evaluated.clear()
    monkeypatch.setattr(rewards, "process", counted)
    before = userstate.load("acme", "alice")
    small = run(api, "acme", "alice", {"type": "point", "action": "increment",
                                       "points": [{"pointId": "xp", "points": 20}]})
    after = userstate.load("acme", "alice")
    assert before is not None and after is not None
    assert progress_of(after) == after_earning(progress_of(before), {"xp": 20}), "foreseen = read back"
    assert evaluated == [] and small["status"] == "SUCCEEDED"
    reaching = run(api, "acme", "alice", {"type": "point", "action": "increment",
                                          "points": [{"pointId": "xp", "points": 20}]})
    assert evaluated == [] and reaching["result"]["awarded"]["rewards"] == ["silver"]
    stored = activities.get("acme", "alice", reaching["id"])
    assert stored is not None and set(stored["steps"]) == {"point", "rewards"} and stored["finishedBy"] == "point"


# ------------------------------------------------------------------ point actions

def test_point_actions_and_figures(api: Api) -> None:
    give(api, "alice", "coins", 100)
    assert points(api, "alice", {"type": "point", "action": "redeem", "points": [{"pointId": "coins", "points": 30}]})[
        "status"] == "SUCCEEDED"
    assert points(api, "alice", {"type": "point", "action": "refund", "points": [{"pointId": "coins", "points": 10}]})[
        "status"] == "SUCCEEDED"
    assert points(api, "alice", {"type": "point", "action": "set", "points": [{"pointId": "coins", "points": 50}]})[
        "status"] == "SUCCEEDED"
    w = wallet("alice", "coins")
    # 100 earned, 30 redeemed then 10 refunded (redeemed 20), balance 80, set to 50: adjusted 30.
    assert (w["balance"], w["earned"], w["redeemed"], w["adjusted"], w["spent"]) == (50, 100, 20, 30, 0)
    points(api, "alice", {"type": "point", "action": "set", "points": [{"pointId": "coins", "points": 70}]})
    w = wallet("alice", "coins")
    assert (w["balance"], w["earned"], w["adjusted"]) == (70, 120, 30)


@pytest.mark.parametrize(("attrs", "error"), [
    ({"type": "point", "action": "redeem", "points": [{"pointId": "coins", "points": 1}]}, "InsufficientPoints"),
    ({"type": "point", "action": "redeem", "points": [{"pointId": "xp", "points": 1}]}, "NotRedeemable"),
    ({"type": "point", "action": "refund", "points": [{"pointId": "coins", "points": 1}]}, "RefundExceedsRedeemed"),
    ({"type": "point", "action": "set", "points": [{"pointId": "stars", "points": 5}]}, "SetOnExpirable"),
    ({"type": "point", "action": "increment", "points": [{"pointId": "coins", "points": -5}]}, "NegativeNotAllowed"),
    ({"type": "point", "action": "increment", "points": [{"pointId": "nope", "points": 5}]}, "UnknownPointType"),
])
def test_point_failures(api: Api, attrs: dict[str, Any], error: str) -> None:
    fails_with_nothing_applied(api, "acme", "alice", attrs, error)
    assert wallet("alice", "coins")["entries"] == 0


def test_negative_increment_on_negativeable(api: Api) -> None:
    assert points(api, "alice", {"type": "point", "action": "increment", "points": [{"pointId": "karma",
                                                                                        "points": -7}]})["status"] == "SUCCEEDED"
    w = wallet("alice", "karma")
    assert (w["balance"], w["adjusted"]) == (-7, 7)


def test_several_wallets_in_one_activity_are_all_or_nothing(api: Api) -> None:
    give(api, "alice", "coins", 5)
    fails_with_nothing_applied(api, "acme", "alice", {"type": "point", "action": "redeem", "points": [
        {"pointId": "coins", "points": 5}, {"pointId": "gems", "points": 1}]}, "InsufficientPoints")
    assert wallet("alice", "coins")["balance"] == 5


# ------------------------------------------------------------------ coupons

def test_coupon_buy_redeem_refund(api: Api) -> None:
    give(api, "alice", "coins", 100)
    bought = run(api, "acme", "alice", {"type": "coupon", "action": "buy", "couponId": "tshirt"})
    assert bought["status"] == "SUCCEEDED", bought
    [user_coupon] = bought["result"]["awarded"]["coupons"]
    assert wallet("alice", "coins")["spent"] == 30
    redeemed = run(api, "acme", "alice", {"type": "coupon", "action": "redeem", "couponId": "tshirt"})
    assert redeemed["status"] == "SUCCEEDED", redeemed
    fails_with_nothing_applied(api, "acme", "alice", {"type": "coupon", "action": "redeem", "couponId": "tshirt"}, "CouponNotHeld")
    refunded = run(api, "acme", "alice", {"type": "coupon", "action": "refund", "couponId": "tshirt",
                                          "userCouponId": user_coupon})
    assert refunded["status"] == "SUCCEEDED", refunded
    w = wallet("alice", "coins")
    assert (w["balance"], w["spent"]) == (100, 0)


def test_one_step_coupon_is_bought_and_redeemed_at_once_each_code_once(api: Api) -> None:
    give(api, "alice", "coins", 100)
    give(api, "bob", "coins", 100)
    first = run(api, "acme", "alice", {"type": "coupon", "action": "redeem", "couponId": "voucher"})
    second = run(api, "acme", "bob", {"type": "coupon", "action": "redeem", "couponId": "voucher"})
    assert first["status"] == second["status"] == "SUCCEEDED"
    fails_with_nothing_applied(api, "acme", "carol", {"type": "coupon", "action": "buy", "couponId": "voucher"}, "CouponSoldOut")
    codes = []
    for uuid in ("alice", "bob"):
        item = boto3.client("dynamodb").query(
            TableName="gamification-test", KeyConditionExpression="PK = :pk AND begins_with(SK, :q)",
            ExpressionAttributeValues={":pk": {"S": f"USER#acme#{uuid}"}, ":q": {"S": "S#Q#"}})["Items"][0]
        codes.append(item["code"]["S"])
        assert item["status"]["S"] == "redeemed"
    # Each code once; which buyer gets which is up to the stock shard each reads (engine.stock).
    assert sorted(codes) == ["V1", "V2"]


def test_the_single_stock_counter_of_before_the_shards_is_honoured(api: Api) -> None:
    """A coupon that sold copies on the single counter (`SITE#` / `STOCK#{coupon}`) before the
    stock shards: the shards hand out only the copies after them, and the invariant checker
    (autouse) counts both."""
    boto3.client("dynamodb").put_item(TableName="gamification-test", Item={
        "PK": {"S": "SITE#acme"}, "SK": {"S": "STOCK#voucher"}, "issued": {"N": "1"}})
    give(api, "alice", "coins", 100)
    give(api, "bob", "coins", 100)
    assert run(api, "acme", "alice", {"type": "coupon", "action": "redeem", "couponId": "voucher"})["status"] == "SUCCEEDED"
    fails_with_nothing_applied(api, "acme", "bob", {"type": "coupon", "action": "buy", "couponId": "voucher"}, "CouponSoldOut")
    item = boto3.client("dynamodb").query(
        TableName="gamification-test", KeyConditionExpression="PK = :pk AND begins_with(SK, :q)",
        ExpressionAttributeValues={":pk": {"S": "USER#acme#alice"}, ":q": {"S": "S#Q#"}})["Items"][0]
    assert item["code"]["S"] == "V2"  # V1 went out on the single counter


@pytest.mark.parametrize(("attrs", "error"), [
    ({"type": "coupon", "action": "buy", "couponId": "ghost"}, "CouponNotFound"),
    ({"type": "coupon", "action": "buy", "couponId": "retired"}, "CouponInactive"),
    ({"type": "coupon", "action": "buy", "couponId": "tshirt"}, "InsufficientPoints"),
    ({"type": "coupon", "action": "redeem", "couponId": "tshirt"}, "CouponNotHeld"),
])
def test_coupon_failures(api: Api, attrs: dict[str, Any], error: str) -> None:
    fails_with_nothing_applied(api, "acme", "alice", attrs, error)


# ------------------------------------------------------------------ gifts

def test_gift_moves_points_atomically_and_shows_for_both(api: Api) -> None:
    give(api, "alice", "coins", 20)
    done = run(api, "acme", "alice", {"type": "gift", "targetUuid": "bob", "rewardId": "thanks",
                                      "points": [{"pointId": "coins", "points": 15}]}, reason="thanks!")
    assert done["status"] == "SUCCEEDED", done
    a, b = wallet("alice", "coins"), wallet("bob", "coins")
    assert (a["balance"], a["spent"], b["balance"], b["earned"]) == (5, 15, 15, 15)


@pytest.mark.parametrize(("target", "attrs_extra", "error"), [
    ("alice", {}, "GiftToSelf"),
    ("nobody", {}, "TargetNotFound"),
    ("bob", {"points": [{"pointId": "xp", "points": 1}]}, "NotGiftable"),
    ("bob", {"points": [{"pointId": "coins", "points": 1}]}, "InsufficientPoints"),
])
def test_gift_failures(api: Api, target: str, attrs_extra: dict[str, Any], error: str) -> None:
    give(api, "alice", "xp", 5) if error == "NotGiftable" else None
    fails_with_nothing_applied(api, "acme", "alice", {"type": "gift", "targetUuid": target, **attrs_extra}, error)


def test_blocked_and_non_member_users(api: Api) -> None:
    api.ok("POST", "/sites/acme/users/bob/block")
    earn = run(api, "acme", "bob", {"type": "behaviour", "verb": "watch_video"})
    assert earn["status"] == "SUCCEEDED" and earn["result"]["blocked"] is True
    assert earn["result"]["awarded"]["points"] == []
    assert wallet("bob", "xp")["entries"] == 0
    fails_with_nothing_applied(api, "acme", "bob", {"type": "point", "action": "redeem", "points": [{"pointId": "coins",
                                                                                       "points": 1}]}, "UserBlocked")
    give(api, "alice", "coins", 5)
    fails_with_nothing_applied(api, "acme", "alice", {"type": "gift", "targetUuid": "bob",
                                      "points": [{"pointId": "coins", "points": 1}]}, "TargetBlocked")
    api.ok("PATCH", "/sites/acme/users/carol", {"member": False})
    fails_with_nothing_applied(api, "acme", "carol", {"type": "behaviour", "verb": "watch_video"}, "UserNotMember")


# ------------------------------------------------------------------ bounties

def test_bounty_start_award_and_second_award_fails(api: Api) -> None:
    give(api, "alice", "coins", 40)
    start = run(api, "acme", "alice", {"type": "bounty", "action": "start", "points": [{"pointId": "coins", "points": 25}]})
    assert start["status"] == "SUCCEEDED", start
    assert wallet("alice", "coins")["balance"] == 15
    award = run(api, "acme", "alice", {"type": "bounty", "action": "award", "bountyId": start["id"], "targetUuid": "bob"})
    assert award["status"] == "SUCCEEDED", award
    assert wallet("bob", "coins")["balance"] == 25
    fails_with_nothing_applied(api, "acme", "alice", {"type": "bounty", "action": "award", "bountyId": start["id"],
                                      "targetUuid": "carol"}, "BountyNotOpen")
    fails_with_nothing_applied(api, "acme", "alice", {"type": "bounty", "action": "cancel", "bountyId": start["id"]}, "BountyNotOpen")
    assert wallet("carol", "coins")["balance"] == 0


def test_bounty_cancel_returns_escrow(api: Api) -> None:
    give(api, "alice", "coins", 40)
    start = run(api, "acme", "alice", {"type": "bounty", "action": "start", "points": [{"pointId": "coins", "points": 25}]})
    run(api, "acme", "alice", {"type": "bounty", "action": "cancel", "bountyId": start["id"]})
    w = wallet("alice", "coins")
    assert (w["balance"], w["spent"]) == (40, 0)
    fails_with_nothing_applied(api, "acme", "alice", {"type": "bounty", "action": "cancel", "bountyId": "nope"}, "BountyNotFound")
    fails_with_nothing_applied(api, "acme", "alice", {"type": "bounty", "action": "start",
                                      "points": [{"pointId": "xp", "points": 1}]}, "NotBountiable")


# ------------------------------------------------------------------ shape refusals: nothing queued

@pytest.mark.parametrize(("body", "field"), [
    ({"uuid": "alice", "attrs": {"type": "point", "action": "redeem", "points": [{"pointId": "coins", "points": 0}]}},
     "attrs.points.0.points"),
    ({"uuid": "alice", "attrs": {"type": "point", "action": "fly", "points": []}}, "attrs.action"),
    ({"uuid": "alice", "attrs": {"type": "gift", "targetUuid": "bob", "points": [{"pointId": "coins", "points": -1}]}},
     "attrs.points"),
    ({"uuid": "alice", "attrs": {"type": "teleport"}}, "attrs"),
    ({"uuid": "alice", "attrs": {"type": "behaviour", "verb": "Bad Verb"}}, "attrs.verb"),
    ({"uuid": "alice", "attrs": {"type": "bounty", "action": "award", "bountyId": "x"}}, "attrs.targetUuid"),
    ({"uuid": "alice", "attrs": {"type": "behaviour", "verb": "login"}, "extra": 1}, "extra"),
])
def test_malformed_activity_is_400_and_queues_nothing(api: Api, body: dict[str, Any], field: str) -> None:
    status, data, _ = api.post("/sites/acme/activities", body)
    assert status == 400, data
    fields = [d["field"] for d in data["error"]["details"]]
    assert any(f == field or f.startswith(field + ".") for f in fields), (field, data)
    assert queued_work() == 0


def test_unknown_user_is_404_and_queues_nothing(api: Api) -> None:
    status, data, _ = api.post("/sites/acme/activities", {"uuid": "ghost", "attrs": {"type": "behaviour",
                                                                                      "verb": "login"}})
    assert status == 404 and data["error"]["type"] == "UserNotFound"
    items = boto3.client("dynamodb").scan(TableName="gamification-test")["Items"]
    assert not [i for i in items if i["PK"]["S"].startswith(("ACTID#", "USER#acme#ghost"))]


def test_unknown_activity_is_404(api: Api) -> None:
    status, data, _ = api.get("/sites/acme/activities/NOPE")
    assert status == 404 and data["error"]["type"] == "ActivityNotFound"


# ------------------------------------------------------------------ idempotency and retries

def test_same_idempotency_key_ten_times_gives_one_activity(api: Api) -> None:
    attrs = {"type": "point", "action": "increment", "points": [{"pointId": "coins", "points": 7}]}
    ids = {submit(api, "acme", "alice", attrs, key="k-1") for _ in range(10)}
    assert len(ids) == 1
    wait_for(api, "acme", ids.pop())
    assert wallet("alice", "coins")["entries"] == 1
    status, data, _ = api.call("POST", "/sites/acme/activities", {"uuid": "alice", "attrs": {
        **attrs, "points": [{"pointId": "coins", "points": 8}]}}, headers={"Idempotency-Key": "k-1"})
    assert status == 409 and data["error"]["type"] == "IdempotencyKeyMismatch"


def test_concurrent_duplicates_give_one_activity(api: Api) -> None:
    from concurrent.futures import ThreadPoolExecutor

    attrs = {"type": "point", "action": "increment", "points": [{"pointId": "coins", "points": 3}]}
    with ThreadPoolExecutor(10) as pool:
        ids = set(pool.map(lambda _: submit(api, "acme", "bob", attrs, key="same"), range(10)))
    assert len(ids) == 1
    wait_for(api, "acme", ids.pop())
    assert wallet("bob", "coins")["entries"] == 1


def test_step_rerun_after_success_changes_nothing(api: Api) -> None:
    from chalicelib.workflow import steps

    done = run(api, "acme", "alice", {"type": "point", "action": "increment", "points": [{"pointId": "coins",
                                                                                           "points": 4}]})
    event = {"site": "acme", "uuid": "alice", "activityId": done["id"], "type": "point", "job": "process",
             "gateId": done["id"]}
    steps.point_step(dict(event))
    steps.point_step({**event, "activity": {"id": done["id"], "uuid": "alice", "type": "point",
                                            "attrs": done["attrs"]}})
    w = wallet("alice", "coins")
    assert (w["balance"], w["entries"]) == (4, 1)


def test_transient_error_is_retried_and_awarded_once(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.activities import point
    from chalicelib.activities.effects import TransientError

    original = point.process
    calls = {"n": 0}

    def flaky(ctx: Any) -> bool:
        calls["n"] += 1
        if calls["n"] == 1:
            raise TransientError("throttled once")
        return original(ctx)

    monkeypatch.setattr(point, "process", flaky)
    done = points(api, "alice", {"type": "point", "action": "increment", "points": [{"pointId": "coins", "points": 9}]})
    assert done["status"] == "SUCCEEDED", done
    assert calls["n"] == 2
    w = wallet("alice", "coins")
    assert (w["balance"], w["entries"]) == (9, 1)


def test_crash_after_write_before_return_is_absorbed(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.activities import point
    from chalicelib.activities.effects import TransientError

    original = point.process
    calls = {"n": 0}

    def crash_after(ctx: Any) -> bool:
        calls["n"] += 1
        applied = original(ctx)
        if calls["n"] == 1:
            raise TransientError("the Lambda died after its write")
        return applied

    monkeypatch.setattr(point, "process", crash_after)
    done = points(api, "alice", {"type": "point", "action": "increment", "points": [{"pointId": "coins", "points": 6}]})
    assert done["status"] == "SUCCEEDED"
    w = wallet("alice", "coins")
    assert (w["balance"], w["entries"]) == (6, 1)


def test_unexpected_error_fails_with_internal_error(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.activities import point

    def broken(ctx: Any) -> bool:
        raise RuntimeError("boom")

    monkeypatch.setattr(point, "process", broken)
    fails_with_nothing_applied(api, "acme", "alice", {"type": "point", "action": "increment",
                                                      "points": [{"pointId": "coins", "points": 6}]}, "InternalError")
    # The next activity of the same user is not held up by the failed one.
    monkeypatch.undo()
    give(api, "alice", "coins", 1)


# ------------------------------------------------------------------ ordering

def test_burst_of_one_user_takes_effect_in_order(api: Api) -> None:
    ids = [submit(api, "acme", "alice", {"type": "point", "action": "increment",
                                         "points": [{"pointId": "coins", "points": n}]}) for n in range(1, 20)]
    ids.append(submit(api, "acme", "alice", {"type": "point", "action": "redeem",
                                             "points": [{"pointId": "coins", "points": sum(range(1, 20))}]}))
    results = [wait_for(api, "acme", i, timeout=60) for i in ids]
    assert [r["status"] for r in results] == ["SUCCEEDED"] * 20
    finished = [r["processedAt"] for r in results]
    assert finished == sorted(finished)
    assert wallet("alice", "coins")["balance"] == 0
