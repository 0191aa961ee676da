"""Reject of each activity type: the end state is as if the activity never happened."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.builders import give, wallet
from tests.conftest import Api, run, wait_for

pytestmark = pytest.mark.usefixtures("game")


def reject(api: Api, activity_id: str, reason: str = "mistake") -> Any:
    status, data, _ = api.post(f"/sites/acme/activities/{activity_id}/reject", {"reason": reason})
    assert status == 202, data
    assert data["rejection"]["pending"] is True and data["status"] == "SUCCEEDED"
    done = wait_for(api, "acme", activity_id)
    assert done["status"] == "REJECTED", done
    assert done["rejection"]["pending"] is False and done["rejection"]["reason"] == reason
    return done


def figures(uuid: str, point_id: str) -> tuple[int, ...]:
    w = wallet(uuid, point_id)
    return (w["balance"], w["earned"], w["spent"], w["redeemed"], w["expired"], w["adjusted"])


def state_item(uuid: str, prefix: str) -> list[dict[str, Any]]:
    return boto3.client("dynamodb").query(
        TableName="gamification-test", KeyConditionExpression="PK = :pk AND begins_with(SK, :p)",
        ExpressionAttributeValues={":pk": {"S": f"USER#acme#{uuid}"}, ":p": {"S": prefix}})["Items"]


def test_reject_behaviour_revokes_the_cascade_and_its_prizes(api: Api) -> None:
    for _ in range(2):
        run(api, "acme", "alice", {"type": "behaviour", "verb": "watch_video", "metadata": {"category": "tv"}})
    third = run(api, "acme", "alice", {"type": "behaviour", "verb": "watch_video", "metadata": {"category": "tv"}})
    assert sorted(third["result"]["awarded"]["rewards"]) == ["binge", "silver", "starter"]
    reject(api, third["id"])
    assert figures("alice", "xp") == (30, 30, 0, 0, 0, 0)
    assert figures("alice", "coins") == (0, 0, 0, 0, 0, 0), "binge's prize was taken back"
    rewards = api.ok("GET", "/sites/acme/users/alice/tabs/rewards")
    assert rewards["completed"] == []
    binge = next(r for r in rewards["inProgress"] if r["rewardId"] == "binge")
    assert binge["criteria"][0]["current"] == 2
    assert api.ok("GET", "/sites/acme/users/alice/summary")["stats"]["activities"]["count"] == 2
    status, data, _ = api.post(f"/sites/acme/activities/{third['id']}/reject", {"reason": "again"})
    assert status == 409 and data["error"]["type"] == "AlreadyRejected"


def test_reject_keeps_rewards_whose_criteria_still_hold_and_the_checker_agrees(api: Api) -> None:
    """The third video unlocks binge, silver and starter; a fourth one follows. Rejecting the
    third leaves three videos and 30 xp earned: every criterion still holds, so the rewards and
    binge's prize stay (as if the fourth had unlocked them), and the ledger is still sound."""
    from chalicelib.audit import verify

    video = {"type": "behaviour", "verb": "watch_video", "metadata": {"category": "tv"}}
    for _ in range(2):
        run(api, "acme", "alice", video)
    third = run(api, "acme", "alice", video)
    assert sorted(third["result"]["awarded"]["rewards"]) == ["binge", "silver", "starter"]
    run(api, "acme", "alice", video)
    coins_before = figures("alice", "coins")
    reject(api, third["id"])
    assert figures("alice", "coins") == coins_before, "binge still holds: its prize stays"
    completed = {r["rewardId"] for r in api.ok("GET", "/sites/acme/users/alice/tabs/rewards")["completed"]}
    assert {"binge", "silver", "starter"} <= completed
    report = verify.verify(["acme"])
    assert report.ok, report.summary()


def test_reject_point_actions(api: Api) -> None:
    give(api, "alice", "coins", 50)
    redeem = run(api, "acme", "alice", {"type": "point", "action": "redeem",
                                        "points": [{"pointId": "coins", "points": 20}]})
    reject(api, redeem["id"])
    assert figures("alice", "coins") == (50, 50, 0, 0, 0, 0)


def test_reject_spent_points_goes_negative_or_stops_at_zero(api: Api) -> None:
    give(api, "alice", "coins", 10)
    bonus = run(api, "acme", "alice", {"type": "point", "action": "increment",
                                       "points": [{"pointId": "coins", "points": 30}]})
    run(api, "acme", "alice", {"type": "point", "action": "redeem", "points": [{"pointId": "coins", "points": 35}]})
    reject(api, bonus["id"])
    assert figures("alice", "coins") == (-25, 10, 0, 35, 0, 0)
    gems = run(api, "acme", "bob", {"type": "behaviour", "verb": "earn_gems"})
    run(api, "acme", "bob", {"type": "point", "action": "redeem", "points": [{"pointId": "gems", "points": 8}]})
    reject(api, gems["id"])
    w = wallet("bob", "gems")
    assert w["balance"] == 0, "stopAtZero: the reversal stops at zero"
    ledger = state_item("bob", "L#")
    assert sum(int(e.get("shortfall", {"N": "0"})["N"]) for e in ledger) == 8, "the shortfall is recorded"


def test_reject_coupon_buy_returns_points_and_the_coupon(api: Api) -> None:
    give(api, "alice", "coins", 100)
    bought = run(api, "acme", "alice", {"type": "coupon", "action": "buy", "couponId": "tshirt"})
    reject(api, bought["id"])
    assert figures("alice", "coins") == (100, 100, 0, 0, 0, 0)
    [coupon] = state_item("alice", "S#Q#")
    assert coupon["status"]["S"] == "refunded"


def test_coupon_buy_since_redeemed_cannot_be_rejected_first(api: Api) -> None:
    give(api, "alice", "coins", 100)
    bought = run(api, "acme", "alice", {"type": "coupon", "action": "buy", "couponId": "tshirt"})
    redeemed = run(api, "acme", "alice", {"type": "coupon", "action": "redeem", "couponId": "tshirt"})
    status, data, _ = api.post(f"/sites/acme/activities/{bought['id']}/reject", {"reason": "x"})
    assert status == 409 and data["error"]["type"] == "NotRejectable"
    assert redeemed["id"] in data["error"]["message"]
    reject(api, redeemed["id"])
    reject(api, bought["id"])
    assert figures("alice", "coins") == (100, 100, 0, 0, 0, 0)


def test_reject_gift_moves_the_points_back(api: Api) -> None:
    give(api, "alice", "coins", 20)
    gift = run(api, "acme", "alice", {"type": "gift", "targetUuid": "bob", "rewardId": "thanks",
                                      "points": [{"pointId": "coins", "points": 15}]})
    assert api.ok("GET", "/sites/acme/users/bob/summary")["stats"]["gifts"]["count"] == 1
    reject(api, gift["id"])
    assert figures("alice", "coins") == (20, 20, 0, 0, 0, 0)
    assert figures("bob", "coins") == (0, 0, 0, 0, 0, 0)
    assert api.ok("GET", "/sites/acme/users/bob/summary")["stats"]["gifts"]["count"] == 0
    received = api.ok("GET", "/sites/acme/users/bob/tabs/activity")["items"]
    assert [(a["id"], a["status"]) for a in received] == [(gift["id"], "REJECTED")]


def test_reject_bounty_award_reopens_it_and_start_needs_the_award_rejected_first(api: Api) -> None:
    give(api, "alice", "coins", 40)
    start = run(api, "acme", "alice", {"type": "bounty", "action": "start",
                                       "points": [{"pointId": "coins", "points": 25}]})
    award = run(api, "acme", "alice", {"type": "bounty", "action": "award", "bountyId": start["id"],
                                       "targetUuid": "bob"})
    status, data, _ = api.post(f"/sites/acme/activities/{start['id']}/reject", {"reason": "x"})
    assert status == 409 and data["error"]["type"] == "NotRejectable" and award["id"] in data["error"]["message"]
    reject(api, award["id"])
    assert figures("bob", "coins") == (0, 0, 0, 0, 0, 0)
    assert api.ok("GET", "/sites/acme/users/alice/bounties?status=open")["items"][0]["bountyId"] == start["id"]
    reject(api, start["id"])
    assert figures("alice", "coins") == (40, 40, 0, 0, 0, 0)


def test_only_succeeded_activities_can_be_rejected(api: Api) -> None:
    failed = run(api, "acme", "alice", {"type": "behaviour", "verb": "nope"})
    status, data, _ = api.post(f"/sites/acme/activities/{failed['id']}/reject", {"reason": "x"})
    assert status == 409 and data["error"]["type"] == "NotRejectable"
    status, data, _ = api.post("/sites/acme/activities/NOPE/reject", {"reason": "x"})
    assert status == 404 and data["error"]["type"] == "ActivityNotFound"
