"""The demo site that `make run` seeds, so every screen of the console has content.

Mechanics go through the same validation as the API; the history goes through the real
workflow (accept, the state machine, the step functions), so what the console shows is what
an integration would have produced.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from chalicelib import clock
from chalicelib.auth import Principal
from chalicelib.domain import activities, sites, users
from chalicelib.domain import mechanics as mechanic_store
from chalicelib.models.activities import ActivityCreate
from chalicelib.models.mechanics import parse_mechanic
from chalicelib.models.sites import SiteCreate
from chalicelib.models.users import UserCreate

OPERATOR = Principal(role="operator", site=None, key_id=None)

DEMO_USERS = [
    {"uuid": "alice", "firstName": "Alice", "lastName": "Liddell", "displayName": "Alice L.",
     "email": "alice@example.com", "tags": ["sales", "beta"]},
    {"uuid": "bob", "firstName": "Bob", "lastName": "Builder", "displayName": "Bob",
     "email": "bob@example.com", "tags": ["sales"]},
    {"uuid": "carol", "firstName": "Carol", "lastName": "Danvers", "displayName": "Captain Carol",
     "email": "carol@example.com", "tags": ["support"]},
    {"uuid": "dave", "firstName": "Dave", "lastName": "Grohl", "displayName": "Dave",
     "email": "dave@example.com", "tags": []},
    {"uuid": "erin", "firstName": "Erin", "lastName": "Brockovich", "displayName": "Erin B.",
     "email": "erin@example.com", "tags": ["support"]},
]

def valid_around_today(years: int = 5) -> dict[str, str]:
    """A KPI target's validity from `years` before today to `years` after, by the system clock
    (moved or not), so the demo's targets are in force whenever it is seeded."""
    today = clock.now().date()
    span = dt.timedelta(days=366 * years)
    return {"validFrom": (today - span).isoformat(), "validTo": (today + span).isoformat()}


def mechanics() -> list[tuple[Any, dict[str, Any]]]:
    """The demo's mechanics, the KPI targets dated around today."""
    return [(kind, {**body, "targets": [{**valid_around_today(), **t} for t in body["targets"]]})
            if kind == "kpis" else (kind, body) for kind, body in MECHANICS]


# KPI targets here carry no dates: `mechanics()` adds them.
MECHANICS: list[tuple[Any, dict[str, Any]]] = [
    ("point-types", {"id": "coins", "name": "Coins", "redeemable": True, "giftable": True, "bountiable": True}),
    ("point-types", {"id": "xp", "name": "Experience"}),
    ("point-types", {"id": "stars", "name": "Stars", "expirable": True, "expiresAfterDays": 30,
                     "redeemable": True}),
    ("behaviours", {"id": "watch_video", "kind": "simple", "verb": "watch_video", "name": "Watch a video",
                    "prizes": {"points": [{"pointId": "xp", "points": 10}]}, "hint": "Any video counts"}),
    ("behaviours", {"id": "watch_tv", "kind": "flexible", "verb": "watch_video", "name": "Watch a TV show",
                    "conditions": {"and": [{"key": "category", "op": "in", "value": ["tv"]}]},
                    "prizes": {"points": [{"pointId": "xp", "points": 5}, {"pointId": "stars", "points": 1}]}}),
    ("behaviours", {"id": "login", "kind": "simple", "verb": "login", "name": "Daily login",
                    "prizes": {"points": [{"pointId": "coins", "points": 5}]},
                    "limits": {"periodic": {"period": "day", "max": 1}}}),
    ("behaviours", {"id": "share", "kind": "simple", "verb": "share", "name": "Share with a friend",
                    "prizes": {"points": [{"pointId": "coins", "points": 10}, {"pointId": "xp", "points": 5}]},
                    "limits": {"coolOffSeconds": 60}}),
    ("rewards", {"id": "binge", "kind": "achievement", "name": "Binge watcher",
                 "criteria": [{"verb": "watch_video", "times": 3}],
                 "prizes": {"points": [{"pointId": "coins", "points": 50}]}}),
    ("rewards", {"id": "social", "kind": "achievement", "name": "Social butterfly",
                 "criteria": [{"verb": "share", "times": 5}]}),
    ("rewards", {"id": "bronze", "kind": "level", "ladder": "status", "name": "Bronze",
                 "criteria": [{"pointId": "xp", "points": 20}]}),
    ("rewards", {"id": "silver", "kind": "level", "ladder": "status", "name": "Silver",
                 "criteria": [{"pointId": "xp", "points": 50}]}),
    ("rewards", {"id": "gold", "kind": "level", "ladder": "status", "name": "Gold",
                 "criteria": [{"pointId": "xp", "points": 200}]}),
    ("rewards", {"id": "starter", "kind": "mission", "name": "Starter pack",
                 "criteria": [{"rewardId": "binge"}, {"rewardId": "bronze"}]}),
    ("rewards", {"id": "thanks", "kind": "gift", "name": "Thank you"}),
    ("kpis", {"id": "xp_goal", "name": "XP earned", "tracks": {"points": "xp"},
              "targets": [{"assignTo": {"everyone": True},
                           "values": {"daily": 10, "weekly": 50, "monthly": 200, "quarterly": 600,
                                      "yearly": 2400}}]}),
    ("kpis", {"id": "videos", "name": "Videos watched", "tracks": {"behaviour": "watch_video"},
              "targets": [{"assignTo": {"tags": ["sales"]},
                           "values": {"daily": 2, "weekly": 5, "monthly": 20, "quarterly": 60, "yearly": 240}}]}),
    ("coupons", {"id": "tshirt", "name": "T-shirt", "description": "A project T-shirt", "codeType": "single",
                 "code": "TSHIRT", "price": {"pointId": "coins", "points": 30}, "redemption": "twoStep",
                 "expiresAfterDays": 30, "active": True}),
    ("coupons", {"id": "coffee", "name": "Coffee voucher", "codeType": "multiple",
                 "codes": ["COFFEE-1", "COFFEE-2", "COFFEE-3", "COFFEE-4", "COFFEE-5"],
                 "price": {"pointId": "coins", "points": 10}, "redemption": "oneStep", "active": True,
                 "perUserLimit": 2}),
    ("leaderboards", {"id": "xp_board", "name": "XP leaders", "ranksBy": {"points": "xp"},
                      "periods": ["weekly", "monthly", "allTime"]}),
    ("leaderboards", {"id": "video_board", "name": "Most videos", "ranksBy": {"behaviour": "watch_video"},
                      "periods": ["daily", "weekly"]}),
]


def _activity(uuid: str, attrs: dict[str, Any], reason: str = "") -> ActivityCreate:
    return ActivityCreate.model_validate({"uuid": uuid, "reason": reason, "attrs": attrs})


def _history() -> list[list[ActivityCreate]]:
    """Waves of activities: each wave waits for the one before (a later one may need it)."""
    video = {"type": "behaviour", "verb": "watch_video"}
    tv = {**video, "metadata": {"category": ["tv"]}}
    coins = {"type": "point", "action": "increment", "points": [{"pointId": "coins", "points": 100}]}
    wave1 = [
        _activity("alice", tv), _activity("alice", video), _activity("alice", tv), _activity("alice", video),
        _activity("alice", {"type": "behaviour", "verb": "login"}),
        _activity("alice", {"type": "behaviour", "verb": "login"}),  # the daily limit: an exception
        _activity("alice", {"type": "behaviour", "verb": "share"}),
        _activity("bob", coins, "welcome bonus"), _activity("bob", video), _activity("bob", tv),
        _activity("carol", video), _activity("carol", {"type": "behaviour", "verb": "share"}),
        _activity("erin", {"type": "behaviour", "verb": "login"}),
        _activity("dave", video),  # blocked: recorded, nothing awarded
    ]
    wave2 = [
        _activity("alice", {"type": "coupon", "action": "buy", "couponId": "tshirt"}),
        _activity("alice", {"type": "coupon", "action": "redeem", "couponId": "coffee"}),
        _activity("bob", {"type": "gift", "targetUuid": "alice", "rewardId": "thanks",
                          "points": [{"pointId": "coins", "points": 15}]}, "Thanks for the help!"),
        _activity("bob", {"type": "bounty", "action": "start", "points": [{"pointId": "coins", "points": 20}]},
                  "Fix the demo"),
        _activity("carol", {"type": "point", "action": "redeem", "points": [{"pointId": "coins", "points": 500}]}),
        _activity("alice", {"type": "point", "action": "increment", "points": [{"pointId": "xp", "points": 25}]},
                  "manual bonus (to be rejected)"),
    ]
    return [wave1, wave2]


def _wait(site: str, ids: list[str], timeout: float = 60.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    done: dict[str, dict[str, Any]] = {}
    while len(done) < len(ids) and time.monotonic() < deadline:
        for activity_id in ids:
            if activity_id not in done:
                found = activities.get(site, activity_id)
                if found["status"] in ("SUCCEEDED", "FAILED", "REJECTED") and not (found.get("rejection") or {}).get(
                        "pending"):
                    done[activity_id] = found
        time.sleep(0.05)
    return [done[i] for i in ids if i in done]


def seed_demo(site: str = "demo") -> None:
    sites.create_site(SiteCreate(id=site, name="Demo", timezone="Europe/London", week_start="monday"), OPERATOR)
    for kind, body in mechanics():
        mechanic_store.save_mechanic(site, kind, parse_mechanic(kind, body), "operator", creating=True)
    for raw in DEMO_USERS:
        users.create_user(site, UserCreate.model_validate(raw, strict=False), "operator")
    users.set_blocked(site, "dave", True, "operator")
    last: list[dict[str, Any]] = []
    for wave in _history():
        ids = [activities.accept(site, a, None, "operator")["id"] for a in wave]
        last = _wait(site, ids)
    bounty = next((a for a in last if a["type"] == "bounty"), None)
    follow_up = []
    if bounty and bounty["status"] == "SUCCEEDED":
        follow_up.append(activities.accept(site, _activity("bob", {
            "type": "bounty", "action": "award", "bountyId": bounty["id"], "targetUuid": "carol"}), None,
            "operator")["id"])
    _wait(site, follow_up)
    bonus = next((a for a in last if a["reason"].startswith("manual bonus")), None)
    if bonus and bonus["status"] == "SUCCEEDED":
        activities.request_reject(site, bonus["id"], "entered by mistake", "operator")
        _wait(site, [bonus["id"]])
