"""A reward whose prize coupon cannot be handed out: unlocked all the same, and the result says why.

Each of the four reasons coupon.acquire refuses (inactive, expired, per-user limit, sold out),
through the real state machine: the reward is unlocked with its other prizes, no coupon is
handed out (stock untouched), the activity's `result.exceptions` carries the coupon's error
type with a message naming the reward and the coupon (docs/engine.md, "Rewards"), and a warning
is logged with the reward id, coupon id and error type.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

import pytest

from tests.builders import give, local_today, tab, wallet
from tests.conftest import Api, run

pytestmark = pytest.mark.usefixtures("game")

REWARD = "first_watch"


def prize(api: Api, coupon: dict[str, Any]) -> str:
    """A coupon, and an achievement for one watch_video whose prizes are 5 coins and that coupon."""
    api.ok("POST", "/sites/acme/coupons", {"name": coupon["id"].title(), "codeType": "single", "code": "PRIZE",
                                            "redemption": "twoStep", **coupon})
    api.ok("POST", "/sites/acme/rewards", {
        "id": REWARD, "kind": "achievement", "name": "First watch", "criteria": [{"verb": "watch_video", "times": 1}],
        "prizes": {"points": [{"pointId": "coins", "points": 5}], "coupons": [coupon["id"]]}})
    return str(coupon["id"])


def held(api: Api, uuid: str, coupon_id: str) -> list[dict[str, Any]]:
    data = tab(api, "acme", uuid, "coupons")
    return [c for c in data["items"] if c["couponId"] == coupon_id]


def watch_and_check(api: Api, caplog: pytest.LogCaptureFixture, coupon_id: str, error_type: str) -> None:
    coins = wallet("alice", "coins")["balance"]
    before = held(api, "alice", coupon_id)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="gamification"):
        done = run(api, "acme", "alice", {"type": "behaviour", "verb": "watch_video"})

    assert done["status"] == "SUCCEEDED", done
    result = done["result"]
    assert REWARD in result["awarded"]["rewards"], result
    assert result["awarded"]["coupons"] == [], "no coupon handed out"
    assert {"pointId": "coins", "points": 5} in result["awarded"]["points"], "the reward's other prizes stand"
    assert wallet("alice", "coins")["balance"] == coins + 5
    [exception] = result["exceptions"]
    assert exception["type"] == error_type and exception["verb"] is None, exception
    assert (exception["rewardId"], exception["couponId"], exception["uuid"]) == (REWARD, coupon_id, "alice")
    assert f"'{REWARD}'" in exception["message"] and f"'{coupon_id}'" in exception["message"], exception
    # Nothing of the coupon moved: the user holds what they held, the rewards tab shows the unlock.
    assert held(api, "alice", coupon_id) == before
    rewards = json.dumps(tab(api, "acme", "alice", "rewards"))
    assert REWARD in rewards
    # The warning names the reward, the coupon and the error type.
    [warning] = [r for r in caplog.records if r.getMessage() == "prize coupon not handed out"]
    assert warning.levelno == logging.WARNING
    fields = vars(warning)
    assert (fields["reward_ids"], fields["coupon_id"], fields["error_type"]) == ([REWARD], coupon_id, error_type)
    # The same activity again (a redelivered step) adds nothing: the reward is already completed.
    assert run(api, "acme", "alice", {"type": "behaviour", "verb": "watch_video"})["result"]["exceptions"] == []


def test_an_inactive_prize_coupon(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    watch_and_check(api, caplog, prize(api, {"id": "paused", "active": False}), "CouponInactive")


def test_an_expired_prize_coupon(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    yesterday = local_today("Europe/London") - dt.timedelta(days=1)
    watch_and_check(api, caplog, prize(api, {"id": "stale", "expiresOn": yesterday.isoformat()}), "CouponExpired")


def test_a_prize_coupon_over_its_per_user_limit(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    coupon_id = prize(api, {"id": "once", "perUserLimit": 1, "price": {"pointId": "coins", "points": 10}})
    give(api, "alice", "coins", 10)
    bought = run(api, "acme", "alice", {"type": "coupon", "action": "buy", "couponId": coupon_id})
    assert bought["status"] == "SUCCEEDED", bought
    assert len(held(api, "alice", coupon_id)) == 1
    watch_and_check(api, caplog, coupon_id, "CouponLimitReached")


def test_a_sold_out_prize_coupon(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    coupon_id = prize(api, {"id": "last", "limitedSeries": 1, "price": {"pointId": "coins", "points": 10}})
    give(api, "bob", "coins", 10)
    assert run(api, "acme", "bob", {"type": "coupon", "action": "buy", "couponId": coupon_id})["status"] == "SUCCEEDED"
    watch_and_check(api, caplog, coupon_id, "CouponSoldOut")
    assert len(held(api, "bob", coupon_id)) == 1, "the one copy stays with its holder"


def test_an_available_prize_coupon_is_handed_out_without_exception(api: Api) -> None:
    """The control: the same reward with a coupon that can be handed out."""
    coupon_id = prize(api, {"id": "fresh"})
    done = run(api, "acme", "alice", {"type": "behaviour", "verb": "watch_video"})
    assert done["status"] == "SUCCEEDED" and done["result"]["exceptions"] == [], done
    assert len(done["result"]["awarded"]["coupons"]) == 1
    assert len(held(api, "alice", coupon_id)) == 1
