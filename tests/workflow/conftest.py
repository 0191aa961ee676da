"""Mechanics for the workflow tests: every kind of point type, behaviour, reward and coupon."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from tests.conftest import Api

POINT_TYPES = [
    {"id": "coins", "name": "Coins", "redeemable": True, "giftable": True, "bountiable": True},
    {"id": "xp", "name": "XP"},
    {"id": "stars", "name": "Stars", "expirable": True, "expiresAfterDays": 30, "redeemable": True},
    {"id": "karma", "name": "Karma", "negativeable": True},
    {"id": "gems", "name": "Gems", "redeemable": True, "stopAtZero": True},
]
BEHAVIOURS = [
    {"id": "watch_video", "kind": "simple", "verb": "watch_video", "name": "Watch a video",
     "prizes": {"points": [{"pointId": "xp", "points": 10}]}},
    {"id": "watch_tv", "kind": "flexible", "verb": "watch_video", "name": "Watch TV",
     "conditions": {"and": [{"key": "category", "op": "in", "value": ["tv"]}]},
     "prizes": {"points": [{"pointId": "xp", "points": 5}]}},
    {"id": "login", "kind": "simple", "verb": "login", "name": "Log in",
     "prizes": {"points": [{"pointId": "coins", "points": 5}]}, "limits": {"periodic": {"period": "day", "max": 1}}},
    {"id": "earn_gems", "kind": "simple", "verb": "earn_gems", "name": "Earn gems",
     "prizes": {"points": [{"pointId": "gems", "points": 10}]}},
]
REWARDS = [
    {"id": "binge", "kind": "achievement", "name": "Binge watcher", "criteria": [{"verb": "watch_video", "times": 3}],
     "prizes": {"points": [{"pointId": "coins", "points": 50}]}},
    {"id": "silver", "kind": "level", "ladder": "status", "name": "Silver", "criteria": [{"pointId": "xp", "points": 40}]},
    {"id": "starter", "kind": "mission", "name": "Starter", "criteria": [{"rewardId": "binge"}, {"rewardId": "silver"}]},
    {"id": "thanks", "kind": "gift", "name": "Thank you"},
]
COUPONS = [
    {"id": "tshirt", "name": "T-shirt", "codeType": "single", "code": "TSHIRT",
     "price": {"pointId": "coins", "points": 30}, "redemption": "twoStep", "active": True},
    {"id": "voucher", "name": "Voucher", "codeType": "multiple", "codes": ["V1", "V2"],
     "price": {"pointId": "coins", "points": 10}, "redemption": "oneStep", "active": True},
    {"id": "retired", "name": "Retired", "codeType": "single", "code": "OLD",
     "price": {"pointId": "coins", "points": 1}, "redemption": "twoStep", "active": False},
]
# Valid for ten years either side of the real today: any anchor of the date tests lies inside.
_TODAY = dt.date.today()
KPIS = [{"id": "xp_goal", "name": "XP", "tracks": {"points": "xp"},
         "targets": [{"validFrom": _TODAY.replace(year=_TODAY.year - 10, day=1).isoformat(),
                      "validTo": _TODAY.replace(year=_TODAY.year + 10, day=1).isoformat(),
                      "assignTo": {"everyone": True}, "values": {"weekly": 50}}]}]
BOARDS = [{"id": "xp_board", "name": "XP", "ranksBy": {"points": "xp"}, "periods": ["weekly", "allTime"]}]


@pytest.fixture
def game(api: Api, site: str, workflow: str) -> str:
    for kind, bodies in (("point-types", POINT_TYPES), ("behaviours", BEHAVIOURS), ("rewards", REWARDS),
                         ("coupons", COUPONS), ("kpis", KPIS), ("leaderboards", BOARDS)):
        for body in bodies:
            api.ok("POST", f"/sites/{site}/{kind}", body)
    for uuid in ("alice", "bob", "carol"):
        api.ok("POST", f"/sites/{site}/users", {"uuid": uuid, "displayName": uuid.title()})
    return site


@pytest.fixture(autouse=True)
def invariants_hold(aws: None) -> Iterator[None]:
    """After every workflow test, the invariant checker over what the test left: a test that
    breaks a money rule fails even when its own assertions missed it."""
    yield
    from chalicelib.audit import verify

    report = verify.verify()
    assert report.ok, report.summary()
