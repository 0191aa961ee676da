"""Builders shared by the test modules: mechanics, users, activities and what they read back.

Tests import these from here, never from another test module (a test module changes with its
tests; what several of them build belongs here).

Mechanics of `configure()`: coins (redeemable, giftable, bountiable), xp, stars (expirable);
watch_video gives 10 xp, watch_tv (category tv) 5 more; binge = 3 watch_video; silver = 100 xp
earned; starter = binge + silver; xp_goal weekly 50; tshirt costs 30 coins; xp_board ranks xp
weekly and all-time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import os
import re
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import boto3

from chalicelib import clock
from tests.conftest import Api, run, wait_for

DAY = 86400

# ---------------------------------------------------------------- the clock of the date tests
#
# TEST_CLOCK_ANCHOR moves the clock of every test marked `dates` (tests/conftest.py applies it
# before each one): an instant such as `2027-12-31T23:30:00Z`, `2028-02-29T12:00:00+01:00` or
# `2027-12-31T23:30[Europe/London]` (a local time in a zone), or a move from now such as `+400d`
# or `+3y`. Those tests compute every date they expect from `clock.now()`, so they pass wherever
# the anchor lies; they move the clock further with `shift()` and `at()`, never with `set_offset`.

ANCHOR_VARIABLE = "TEST_CLOCK_ANCHOR"
_MOVE = re.compile(r"^([+-]\d+)([dhy])$")
_ZONED = re.compile(r"^(.+)\[([A-Za-z_/+-]+)\]$")
_base_offset = 0.0


def parse_anchor(text: str, real_now: dt.datetime) -> dt.datetime:
    """The instant a TEST_CLOCK_ANCHOR names, given the real time now."""
    text = text.strip()
    move = _MOVE.match(text)
    if move:
        amount, unit = int(move.group(1)), move.group(2)
        if unit == "y":
            try:
                return real_now.replace(year=real_now.year + amount)
            except ValueError:  # 29 February into a common year
                return real_now.replace(year=real_now.year + amount, day=28)
        return real_now + dt.timedelta(days=amount) if unit == "d" else real_now + dt.timedelta(hours=amount)
    zoned = _ZONED.match(text)
    moment = dt.datetime.fromisoformat((zoned.group(1) if zoned else text).replace("Z", "+00:00"))
    if zoned:
        if moment.tzinfo is not None:
            raise ValueError(f"{ANCHOR_VARIABLE}={text!r}: give either an offset or a [zone], not both")
        moment = moment.replace(tzinfo=ZoneInfo(zoned.group(2)))
    if moment.tzinfo is None:
        raise ValueError(f"{ANCHOR_VARIABLE}={text!r} needs a zone: Z, an offset or [Area/City]")
    return moment.astimezone(dt.UTC)


def anchor() -> dt.datetime | None:
    """Where the date tests' clock starts, None when TEST_CLOCK_ANCHOR is not set."""
    text = os.environ.get(ANCHOR_VARIABLE, "").strip()
    return parse_anchor(text, dt.datetime.now(dt.UTC)) if text else None


def anchor_clock() -> None:
    """Put the clock at the anchor (or at the real time without one); `shift()` moves from there."""
    global _base_offset
    moment = anchor()
    _base_offset = (moment - dt.datetime.now(dt.UTC)).total_seconds() if moment else 0.0
    clock.set_offset(_base_offset)


def release_clock() -> None:
    global _base_offset
    _base_offset = 0.0
    clock.set_offset(0)


def shift(seconds: float = 0) -> None:
    """The clock `seconds` after where the test started it (the anchor); `shift()` goes back."""
    clock.set_offset(_base_offset + seconds)


def at(moment: dt.datetime) -> None:
    """Move the clock so that `clock.now()` is `moment` (give or take the test's runtime)."""
    clock.set_offset((moment - dt.datetime.now(dt.UTC)).total_seconds())


def local_today(zone: str) -> dt.date:
    """Today in a site's zone, by the system's clock (moved or not)."""
    return clock.now().astimezone(ZoneInfo(zone)).date()


def local_instant(day: dt.date, hour: int, minute: int, zone: str) -> dt.datetime:
    """A site-local wall time as a UTC instant (for times that exist: 00:30 and 23:30 always do)."""
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo(zone)).astimezone(dt.UTC)


def week_start(day: dt.date, starts_on: str) -> dt.date:
    """The first day of the site-local week holding `day` (weeks from Monday or Sunday)."""
    back = day.weekday() if starts_on == "monday" else (day.weekday() + 1) % 7
    return day - dt.timedelta(days=back)


def dst_change_day(after: dt.date, zone: str, *, clocks_go: str) -> dt.date:
    """The first local day on or after `after` on which the zone's clocks go "forward" or "back"."""
    tz = ZoneInfo(zone)
    for n in range(2 * 366):
        day = after + dt.timedelta(days=n)
        start = dt.datetime(day.year, day.month, day.day, tzinfo=tz).utcoffset()
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=tz).utcoffset()
        if start is not None and end is not None and start != end and (end > start) == (clocks_go == "forward"):
            return day
    raise AssertionError(f"{zone} changes its clocks {clocks_go} on no day within two years of {after}")


def target_window(today: dt.date | None = None, days: int = 800) -> dict[str, str]:
    """validFrom/validTo of a KPI target around today: wide enough for every period a test
    reads (five years back for the yearly rows) and every move of the clock it makes."""
    today = today or local_today("UTC")
    return {"validFrom": (today - dt.timedelta(days=5 * 366)).isoformat(),
            "validTo": (today + dt.timedelta(days=days)).isoformat()}


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
TSHIRT = {"id": "tshirt", "name": "T-shirt", "codeType": "single", "code": "TSHIRT",
          "price": {"pointId": "coins", "points": 30}, "redemption": "twoStep", "active": True}
BOARD = {"id": "xp_board", "name": "XP", "ranksBy": {"points": "xp"}, "periods": ["weekly", "allTime"]}




def kpi() -> dict[str, Any]:
    """xp_goal, weekly 50 for everyone, its target valid around today by the (moved) clock."""
    return {"id": "xp_goal", "name": "XP", "tracks": {"points": "xp"},
            "targets": [{**target_window(), "assignTo": {"everyone": True}, "values": {"weekly": 50}}]}


def configure(api: Api, site: str) -> None:
    for kind, body in (("point-types", COINS), ("point-types", XP), ("point-types", STARS),
                       ("behaviours", WATCH), ("behaviours", WATCH_TV), ("rewards", BINGE), ("rewards", SILVER),
                       ("rewards", STARTER), ("kpis", kpi()), ("coupons", TSHIRT), ("leaderboards", BOARD)):
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


def stored_state(uuid: str, site: str = "acme") -> Any:
    """The user's state item as the engine reads it (wallets, usage, the periods' measures)."""
    from chalicelib.store import db
    from chalicelib.store.keys import USER_STATE_SK, user_pk
    from chalicelib.store.userstate import from_state_item

    return from_state_item(uuid, {}, db.get(user_pk(site, uuid), USER_STATE_SK))


def wallet(uuid: str, point_id: str, site: str = "acme") -> dict[str, int]:
    """The stored wallet and the sum of the user's ledger for one point type."""
    figures = {k: getattr(stored_state(uuid, site).wallet(point_id), k)
               for k in ("balance", "earned", "spent", "redeemed", "expired", "adjusted")}
    client = boto3.client("dynamodb")
    pk = {"S": f"USER#{site}#{uuid}"}
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


# ---------------------------------------------------------------- FAILED means nothing applied

MONEY_PREFIXES = ("L#", "S#STATE", "E#", "S#Q#", "S#Y#", "STOCK#")


def money(site: str = "acme") -> dict[tuple[str, str], Any]:
    """Every money-like item of a site: ledgers, wallets, credit batches, user coupons,
    bounties and coupon stock (a test-only Scan of the test table)."""
    client = boto3.client("dynamodb")
    items: dict[tuple[str, str], Any] = {}
    for page in client.get_paginator("scan").paginate(TableName="gamification-test"):
        for item in page["Items"]:
            pk, sk = item["PK"]["S"], item["SK"]["S"]
            if (pk.startswith(f"USER#{site}#") or pk == f"SITE#{site}") and sk.startswith(MONEY_PREFIXES):
                items[(pk, sk)] = item
    return items


def fails_with_nothing_applied(api: Api, site: str, uuid: str, attrs: dict[str, Any], error_type: str) -> Any:
    """Run an activity that must end FAILED `error_type` and leave every money-like item as it was."""
    before = money(site)
    done = run(api, site, uuid, attrs)
    assert done["status"] == "FAILED", done
    assert done["error"]["type"] == error_type, done["error"]
    assert done["error"]["message"]
    after = money(site)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f"a FAILED activity changed {changed}"
    return done


# ---------------------------------------------------------------- what the app logs


@contextlib.contextmanager
def app_logs(level: int = logging.INFO) -> Iterator[io.StringIO]:
    """Everything the app's powertools logger writes at `level` and above, in its own JSON format."""
    from chalicelib.observability import logger

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    inner = logging.getLogger(logger.name)
    before = inner.level
    inner.addHandler(handler)
    inner.setLevel(level)
    try:
        yield stream
    finally:
        inner.removeHandler(handler)
        inner.setLevel(before)


def log_records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def queued_work() -> int:
    """Messages in the activity queue, visible or being processed (0: nothing was handed off)."""
    import os

    import boto3

    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=os.environ["ACTIVITY_QUEUE_URL"],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return sum(int(v) for v in attributes.values())


def drained(timeout: float = 30) -> None:
    """Every message of the activity queue processed and deleted."""
    import time

    deadline = time.monotonic() + timeout
    while queued_work():
        if time.monotonic() > deadline:
            raise AssertionError("the activity queue did not drain")
        time.sleep(0.05)
