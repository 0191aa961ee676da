"""Builders shared by the test modules: mechanics, users, activities and what they read back.

Tests import these from here, never from another test module (importing a test module also
collects its tests a second time under another name).

Mechanics of `configure()`: coins (redeemable, giftable, bountiable), xp, stars (expirable);
watch_video gives 10 xp, watch_tv (category tv) 5 more; binge = 3 watch_video; silver = 100 xp
earned; starter = binge + silver; xp_goal weekly 50; tshirt costs 30 coins; xp_board ranks xp
weekly and all-time.
"""

from __future__ import annotations

from typing import Any

import boto3

from tests.conftest import Api, run, wait_for

DAY = 86400

# ---------------------------------------------------------------- mechanics

COINS = {"id": "coins", "name": "Coins", "redeemable": True, "giftable": True, "bountiable": True}
XP = {"id": "xp", "name": "XP"}
STARS = {"id": "stars", "name": "Stars", "expirable": True, "expiresAfterDays": 30}
WATCH = {"id": "watch_video", "kind": "simple", "verb": "watch_video", "name": "Watch a video",
         "prizes": {"points": [{"pointId": "xp", "points": 10}]}}
WATCH_TV = {"id": "watch_tv", "kind": "flexible", "verb": "watch_video", "name": "Watch TV",
            "conditions": {"and": [{"key": "category", "op": "in", "value": ["tv"]}]},
            "prizes": {"points": [{"pointId": "xp", "points": 5}]}}
BINGE = {"id": "binge", "kind": "achievement", "name": "Binge", "criteria": [{"verb": "watch_video", "times": 3}]}
SILVER = {"id": "silver", "kind": "level", "ladder": "status", "name": "Silver",
          "criteria": [{"pointId": "xp", "points": 100}]}
STARTER = {"id": "starter", "kind": "mission", "name": "Starter",
           "criteria": [{"rewardId": "binge"}, {"rewardId": "silver"}]}
KPI: dict[str, Any] = {"id": "xp_goal", "name": "XP", "tracks": {"points": "xp"},
       "targets": [{"validFrom": "2026-01-01", "validTo": "2026-12-31", "assignTo": {"everyone": True},
                    "values": {"weekly": 50}}]}
TSHIRT = {"id": "tshirt", "name": "T-shirt", "codeType": "single", "code": "TSHIRT",
          "price": {"pointId": "coins", "points": 30}, "redemption": "twoStep", "active": True}
BOARD = {"id": "xp_board", "name": "XP", "ranksBy": {"points": "xp"}, "periods": ["weekly", "allTime"]}


def configure(api: Api, site: str) -> None:
    for kind, body in (("point-types", COINS), ("point-types", XP), ("point-types", STARS),
                       ("behaviours", WATCH), ("behaviours", WATCH_TV), ("rewards", BINGE), ("rewards", SILVER),
                       ("rewards", STARTER), ("kpis", KPI), ("coupons", TSHIRT), ("leaderboards", BOARD)):
        status, data, _ = api.post(f"/sites/{site}/{kind}", body)
        assert status == 201, (kind, data)


# ---------------------------------------------------------------- users and activities


def user(api: Api, site: str, uuid: str, **fields: Any) -> None:
    api.ok("POST", f"/sites/{site}/users", {"uuid": uuid, **fields})


def ok(done: dict[str, Any], status: str = "SUCCEEDED") -> dict[str, Any]:
    assert done["status"] == status, done
    return done


def inc(api: Api, site: str, uuid: str, point_id: str, points: int) -> dict[str, Any]:
    return ok(run(api, site, uuid, {"type": "point", "action": "increment",
                                    "points": [{"pointId": point_id, "points": points}]}))


def give(api: Api, uuid: str, point_id: str, amount: int, site: str = "acme") -> None:
    inc(api, site, uuid, point_id, amount)


def watch(api: Api, site: str, uuid: str, **metadata: Any) -> dict[str, Any]:
    return ok(run(api, site, uuid, {"type": "behaviour", "verb": "watch_video", "metadata": metadata}))


def reject(api: Api, site: str, activity_id: str) -> dict[str, Any]:
    status, data, _ = api.post(f"/sites/{site}/activities/{activity_id}/reject", {"reason": "test"})
    assert status == 202, data
    return ok(wait_for(api, site, activity_id), "REJECTED")


# ---------------------------------------------------------------- reading back


def tab(api: Api, site: str, uuid: str, name: str, query: str = "") -> Any:
    return api.ok("GET", f"/sites/{site}/users/{uuid}/tabs/{name}{query}")


def summary(api: Api, site: str, uuid: str) -> dict[str, Any]:
    stats: dict[str, Any] = api.ok("GET", f"/sites/{site}/users/{uuid}/summary")["stats"]
    return stats


def wallet(uuid: str, point_id: str, site: str = "acme") -> dict[str, int]:
    """The stored wallet and the sum of the user's ledger for one point type."""
    client = boto3.client("dynamodb")
    pk = {"S": f"USER#{site}#{uuid}"}
    item = client.get_item(TableName="gamification-test", Key={"PK": pk, "SK": {"S": f"S#W#{point_id}"}}).get("Item", {})
    figures = {k: int(item[k]["N"]) if k in item else 0
               for k in ("balance", "earned", "spent", "redeemed", "expired", "adjusted")}
    pages = client.get_paginator("query").paginate(
        TableName="gamification-test", KeyConditionExpression="PK = :pk AND begins_with(SK, :l)",
        ExpressionAttributeValues={":pk": pk, ":l": {"S": "L#"}})
    ledger = [int(i["amount"]["N"]) for page in pages for i in page["Items"] if i["pointId"]["S"] == point_id]
    figures["ledger"] = sum(ledger)
    figures["entries"] = len(ledger)
    assert figures["balance"] == figures["ledger"], figures
    assert figures["balance"] == (figures["earned"] - figures["spent"] - figures["redeemed"] - figures["expired"]
                                  - figures["adjusted"]), figures
    return figures
