"""The webhooks API on the app, delivering to a receiver on 127.0.0.1 through the delivery
function (an asynchronous Lambda invocation) and the sweep, with a controllable clock for the
retry schedule (moved from now: no calendar boundary matters here, so not a `dates` test).
Every delivery is verified with the specification's algorithm."""

from __future__ import annotations

import time
from typing import Any

from chalicelib import clock
from chalicelib.webhooks import worker
from tests.builders import shift
from tests.conftest import Api, make_key
from tests.webhook_receiver import Receiver, spec_verify


def create(api: Api, site: str, url: str, **fields: Any) -> dict[str, Any]:
    status, data, _ = api.post(f"/sites/{site}/webhooks", {"url": url, "events": ["*"], **fields})
    assert status == 201, data
    return dict(data)


def deliveries(api: Api, site: str, endpoint: str, query: str = "") -> list[dict[str, Any]]:
    return list(api.ok("GET", f"/sites/{site}/webhooks/{endpoint}/deliveries{query}")["items"])


def settled(api: Api, site: str, endpoint: str, delivery_id: str, attempts: int, timeout: float = 20) -> dict[str, Any]:
    """The delivery once `attempts` attempts are recorded (the delivery function runs apart)."""
    deadline = time.monotonic() + timeout
    while True:
        found = next(d for d in deliveries(api, site, endpoint) if d["deliveryId"] == delivery_id)
        if found["attempts"] >= attempts or time.monotonic() > deadline:
            assert found["attempts"] == attempts, found
            return found
        time.sleep(0.05)


def test_endpoints_are_admin_resources_with_a_secret_shown_once(api: Api, site: str, workflow: str,
                                                                 receiver: Receiver) -> None:
    made = create(api, site, receiver.url, events=["reward.unlocked", "points.changed"], description="game")
    assert made["secret"].startswith("whsec_") and made["respectUserPreferences"] is True and made["active"] is True
    listed = api.ok("GET", f"/sites/{site}/webhooks")["items"]
    assert [w["id"] for w in listed] == [made["id"]] and "secret" not in listed[0]
    shown = api.ok("GET", f"/sites/{site}/webhooks/{made['id']}")
    assert "secret" not in shown and shown["events"] == ["reward.unlocked", "points.changed"]
    changed = api.ok("PATCH", f"/sites/{site}/webhooks/{made['id']}", {"active": False, "events": ["*"]})
    assert (changed["active"], changed["events"]) == (False, ["*"])
    for body, field in (({"url": "ftp://127.0.0.1/x", "events": ["*"]}, "url"),
                        ({"url": "https://10.1.2.3/x", "events": ["*"]}, "url"),
                        ({"url": receiver.url, "events": ["nope.happened"]}, "events"),
                        ({"url": receiver.url, "events": []}, "events")):
        status, data, _ = api.post(f"/sites/{site}/webhooks", body)
        assert status == 400 and data["error"]["details"][0]["field"].startswith(field), (body, data)
    editor = make_key(api, site, "editor")
    status, data, _ = api.call("GET", f"/sites/{site}/webhooks", token=editor)
    assert status == 403 and data["error"]["type"] == "Forbidden"
    status, data, _ = api.call("GET", f"/sites/{site}/webhooks/wh_nope")
    assert status == 404
    assert api.call("DELETE", f"/sites/{site}/webhooks/{made['id']}")[0] == 204
    assert api.call("GET", f"/sites/{site}/webhooks/{made['id']}")[0] == 404


def test_a_test_event_arrives_signed_and_is_logged(api: Api, site: str, workflow: str, receiver: Receiver) -> None:
    made = create(api, site, receiver.url)
    status, accepted, _ = api.post(f"/sites/{site}/webhooks/{made['id']}/test", {})
    assert status == 202
    done = settled(api, site, made["id"], accepted["deliveryId"], 1)
    assert (done["status"], done["lastStatusCode"], done["eventType"]) == ("succeeded", 200, "webhook.test")
    headers, body = receiver.received[0]
    assert spec_verify(made["secret"], headers, body, clock.now().timestamp())
    assert headers["webhook-id"] == done["eventId"] and b'"type":"webhook.test"' in body
    rotated = api.ok("POST", f"/sites/{site}/webhooks/{made['id']}/rotate-secret", {})
    assert rotated["secret"] != made["secret"]
    again = api.ok("POST", f"/sites/{site}/webhooks/{made['id']}/test", {})
    settled(api, site, made["id"], again["deliveryId"], 1)
    headers, body = receiver.received[1]
    # For a day after a rotation both secrets sign: a receiver holding either verifies.
    assert spec_verify(rotated["secret"], headers, body, clock.now().timestamp())
    assert spec_verify(made["secret"], headers, body, clock.now().timestamp())
    assert [d["status"] for d in deliveries(api, site, made["id"], "?status=succeeded")] == ["succeeded"] * 2
    assert deliveries(api, site, made["id"], "?status=failed") == []
    status, data, _ = api.get(f"/sites/{site}/webhooks/{made['id']}/deliveries?status=maybe")
    assert status == 400 and data["error"]["details"][0]["field"] == "status"


def test_retries_keep_the_event_id_and_a_dead_receiver_ends_failed_then_redelivers(
        api: Api, site: str, workflow: str, receiver: Receiver) -> None:
    made = create(api, site, receiver.url)
    receiver.answer = (500, b"down", {})
    first = api.ok("POST", f"/sites/{site}/webhooks/{made['id']}/test", {})["deliveryId"]
    pending = settled(api, site, made["id"], first, 1)
    assert (pending["status"], pending["lastStatusCode"]) == ("pending", 500) and pending["nextAttemptAt"]
    assert worker.sweep()["dispatched"] == 0  # not due before its time
    waited = 0.0
    for attempts, answer in ((2, (500, b"down", {})), (3, (200, b"ok", {}))):
        receiver.answer = answer
        waited += {2: 6, 3: 301}[attempts]  # past 5 s, then past 5 min
        shift(waited)
        assert worker.sweep()["dispatched"] == 1
        settled(api, site, made["id"], first, attempts)
    done = settled(api, site, made["id"], first, 3)
    assert (done["status"], done["lastStatusCode"]) == ("succeeded", 200)
    ids = [h["webhook-id"] for h, _ in receiver.received]
    assert ids == [done["eventId"]] * 3  # what receivers de-duplicate by
    assert all(spec_verify(made["secret"], h, b, int(h["webhook-timestamp"])) for h, b in receiver.received)

    # A dead receiver: every step of the schedule, then `failed`; redelivered once it is back.
    receiver.answer = (503, b"", {})
    dead = api.ok("POST", f"/sites/{site}/webhooks/{made['id']}/test", {})["deliveryId"]
    settled(api, site, made["id"], dead, 1)
    for attempts in range(2, 9):
        waited += 11 * 3600  # past every step (the longest is 10 h)
        shift(waited)
        worker.sweep()
        settled(api, site, made["id"], dead, attempts)
    failed = settled(api, site, made["id"], dead, 8)
    assert (failed["status"], failed["nextAttemptAt"]) == ("failed", None)
    assert worker.sweep()["dispatched"] == 0
    receiver.answer = (204, b"", {})
    status, _, _ = api.post(f"/sites/{site}/webhooks/{made['id']}/deliveries/{dead}/redeliver", {})
    assert status == 202
    back = settled(api, site, made["id"], dead, 1)
    assert (back["status"], back["lastStatusCode"]) == ("succeeded", 204)
    assert api.post(f"/sites/{site}/webhooks/{made['id']}/deliveries/dlv_nope/redeliver", {})[0] == 404
    shift()


def test_a_delivery_attempted_by_two_workers_at_once_is_sent_once(api: Api, site: str, workflow: str,
                                                                  receiver: Receiver) -> None:
    """A sweep's hand-off and another one meet on one due delivery: the first takes it (its next
    attempt moved past the attempt), the second finds it taken and sends nothing."""
    import threading

    made = create(api, site, receiver.url)
    receiver.answer = (500, b"", {})
    delivery = api.ok("POST", f"/sites/{site}/webhooks/{made['id']}/test", {})["deliveryId"]
    settled(api, site, made["id"], delivery, 1)
    receiver.answer, receiver.delay = (200, b"ok", {}), 0.5
    try:
        shift(6)
        results: list[Any] = []
        workers = [threading.Thread(target=lambda: results.append(worker.attempt(site, made["id"], delivery)))
                   for _ in range(2)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert sorted(results, key=str) == [None, "succeeded"]
        assert len(receiver.received) == 2  # the first attempt's 500, and one more
        assert worker.sweep()["dispatched"] == 0
    finally:
        shift()
