"""Events recorded with their effects and delivered: a receiver on 127.0.0.1 verifies every
delivery with the specification's algorithm (tests/webhook_receiver.py)."""

from __future__ import annotations

import json
import time
from typing import Any

from chalicelib import clock
from tests.builders import configure, reject, user, watch
from tests.conftest import Api
from tests.webhook_receiver import Receiver, spec_verify


def endpoint(api: Api, site: str, receiver: Receiver, **fields: Any) -> dict[str, Any]:
    status, data, _ = api.post(f"/sites/{site}/webhooks", {"url": receiver.url, "events": ["*"], **fields})
    assert status == 201, data
    return dict(data)


def events_of(receiver: Receiver, secret: str, activity_id: str, count: int, timeout: float = 20) -> list[dict[str, Any]]:
    """The events about one activity the receiver got, once it has `count` of them, each verified."""
    deadline = time.monotonic() + timeout
    while True:
        got = []
        for headers, body in list(receiver.received):
            event = json.loads(body)
            data = event["data"]
            if data.get("activityId") == activity_id or (data.get("activity") or {}).get("id") == activity_id:
                assert spec_verify(secret, headers, body, clock.now().timestamp()), event
                assert headers["webhook-id"] == event["id"]
                got.append(event)
        if len(got) >= count or time.monotonic() > deadline:
            assert len(got) == count, [e["type"] for e in got]
            return sorted(got, key=lambda e: (e["createdAt"], int(e["id"].rsplit("_", 1)[1])))
        time.sleep(0.05)


def test_an_unlock_delivers_its_points_reward_and_success_and_a_reject_its_reversals(
        api: Api, site: str, workflow: str, receiver: Receiver) -> None:
    configure(api, site)
    user(api, site, "ann")
    hook = endpoint(api, site, receiver)
    for _ in range(2):
        watch(api, site, "ann")
    third = watch(api, site, "ann")  # unlocks binge
    got = events_of(receiver, hook["secret"], third["id"], 3)
    assert [e["type"] for e in got] == ["points.changed", "reward.unlocked", "activity.succeeded"]
    points, unlocked, succeeded = (e["data"] for e in got)
    assert (points["uuid"], points["pointId"], points["delta"], points["balance"], points["kind"]) == (
        "ann", "xp", 10, 30, "credit")
    assert (unlocked["uuid"], unlocked["rewardId"], unlocked["kind"], unlocked["name"]) == (
        "ann", "binge", "achievement", "Binge")
    assert succeeded["activity"]["id"] == third["id"] and succeeded["activity"]["status"] == "SUCCEEDED"
    assert all(e["site"] == site and e["id"].startswith("evt_") for e in got)

    reject(api, site, third["id"])
    reversed_ = events_of(receiver, hook["secret"], third["id"], 6)[3:]
    assert [e["type"] for e in reversed_] == ["points.changed", "reward.revoked", "activity.rejected"]
    assert (reversed_[0]["data"]["delta"], reversed_[0]["data"]["balance"]) == (-10, 20)
    assert reversed_[1]["data"]["rewardId"] == "binge"
    assert reversed_[2]["data"]["activity"]["status"] == "REJECTED"
    from chalicelib.audit.verify import verify

    report = verify([site])
    assert report.ok and report.checked["events"] == 2 + 2 + 6, report.summary()  # 2 per plain watch


def test_an_endpoint_respecting_preferences_skips_the_kinds_a_user_switched_off(
        api: Api, site: str, workflow: str, receiver: Receiver) -> None:
    from tests.webhook_receiver import Receiver as Second

    configure(api, site)
    user(api, site, "bea")
    settings = api.ok("GET", f"/sites/{site}/users/bea/settings")
    api.ok("PUT", f"/sites/{site}/users/bea/settings",
           {**settings, "notifications": {**settings["notifications"], "rewards": False}})
    respecting = endpoint(api, site, receiver)
    other = Second()
    try:
        everything = endpoint(api, site, other, respectUserPreferences=False)
        for _ in range(2):
            watch(api, site, "bea")
        third = watch(api, site, "bea")
        kept = events_of(receiver, respecting["secret"], third["id"], 2)
        assert [e["type"] for e in kept] == ["points.changed", "activity.succeeded"]
        full = events_of(other, everything["secret"], third["id"], 3)
        assert [e["type"] for e in full] == ["points.changed", "reward.unlocked", "activity.succeeded"]
    finally:
        other.server.shutdown()


def test_a_site_without_endpoints_records_no_events(api: Api, site: str, workflow: str) -> None:
    from chalicelib.store import db
    from chalicelib.store.keys import user_pk

    configure(api, site)
    user(api, site, "cy")
    done = watch(api, site, "cy")
    items = db.query_all(key_condition="PK = :pk AND begins_with(SK, :o)",
                         values={":pk": user_pk(site, "cy"), ":o": "OUT#"})
    assert items == [] and done["status"] == "SUCCEEDED"
