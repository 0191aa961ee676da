"""A reject refused while processing: the use that slipped in between the request and the job.

The request checks that no later activity used the effects, but the use can happen after
that check and before the reject job commits. The job reads again (dependents) and, for the
window after its own read, every reversal is guarded inside the transaction. Each test
drives the steps by hand at the moment of interest, then lets MarkFailed record the refusal
as the state machine's Catch would.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.activities.effects import ActivityRuleBroken
from tests.builders import wallet
from tests.conftest import Api, run, wait_for

pytestmark = pytest.mark.usefixtures("game")
SITE = "acme"


def hold_reject(activity: dict[str, Any]) -> dict[str, Any]:
    """Ask for the reject as the route does, without starting its job; returns the job's event."""
    from chalicelib.clock import now_iso
    from chalicelib.ids import new_id
    from chalicelib.store import activities

    job_id = new_id()
    rejection = {"reason": "race", "at": now_iso(), "by": "operator", "pending": True}
    assert activities.request_reject(SITE, activity["uuid"], activity["id"], activity["type"], rejection, job_id)
    return {"site": SITE, "uuid": activity["uuid"], "activityId": activity["id"], "type": activity["type"],
            "job": "reject", "gateId": job_id}


def refuse(event: dict[str, Any]) -> dict[str, Any]:
    """The reject step raises; MarkFailed records what the Catch hands it."""
    from chalicelib.workflow import steps

    with pytest.raises(ActivityRuleBroken) as raised:
        steps.reject_step(dict(event))
    assert raised.value.type == "NotRejectable"
    steps.mark_failed({**event, "error": {"Error": "ActivityRuleBroken",
                                          "Cause": '{"errorMessage": ' + _json(str(raised.value)) + "}"}})
    return {"type": raised.value.type, "message": raised.value.message}


def _json(text: str) -> str:
    import json

    return json.dumps(text)


def set_coupon(uuid: str, user_coupon_id: str, **fields: Any) -> None:
    from chalicelib.store import db
    from chalicelib.store.keys import user_coupon_sk, user_pk

    names = {f"#f{i}": k for i, k in enumerate(fields)}
    db.update(user_pk(SITE, uuid), user_coupon_sk(user_coupon_id),
              "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
              values={f":v{i}": v for i, v in enumerate(fields.values())}, names=names)


@pytest.fixture
def bought(api: Api) -> Iterator[tuple[dict[str, Any], str]]:
    assert run(api, SITE, "alice", {"type": "point", "action": "increment",
                                    "points": [{"pointId": "coins", "points": 30}]})["status"] == "SUCCEEDED"
    buy = run(api, SITE, "alice", {"type": "coupon", "action": "buy", "couponId": "tshirt"})
    assert buy["status"] == "SUCCEEDED"
    yield buy, buy["result"]["awarded"]["coupons"][0]


def test_the_job_reads_again_and_refuses_a_reject_whose_coupon_was_redeemed_meanwhile(
        api: Api, bought: tuple[dict[str, Any], str]) -> None:
    buy, held = bought
    event = hold_reject(buy)
    set_coupon("alice", held, status="redeemed", redeemedBy="R-later", redeemedAt="2026-01-01T00:00:00.000Z")
    refusal = refuse(event)
    assert "R-later" in refusal["message"]
    after = api.ok("GET", f"/sites/{SITE}/activities/{buy['id']}")
    assert after["status"] == "SUCCEEDED"
    assert after["rejection"]["pending"] is False and after["rejection"]["refused"]["type"] == "NotRejectable"
    assert wallet("alice", "coins")["balance"] == 0, "the price stays paid: the coupon was handed out"
    # Once the redeem is undone (here: by hand, as its own reject would), the reject may be asked again.
    set_coupon("alice", held, status="available", redeemedBy=None, redeemedAt=None)
    status, data, _ = api.post(f"/sites/{SITE}/activities/{buy['id']}/reject", {"reason": "again"})
    assert status == 202, data
    assert data["rejection"]["pending"] is True and data["rejection"]["refused"] is None
    done = wait_for(api, SITE, buy["id"])
    assert done["status"] == "REJECTED" and done["rejection"]["reason"] == "again"
    assert wallet("alice", "coins")["balance"] == 30


def test_a_redeem_between_the_jobs_read_and_its_commit_fails_the_guard(
        api: Api, bought: tuple[dict[str, Any], str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The job's own read saw the coupon available; the redeem commits before the reversal.

    The reversal's guard on the coupon (inside the same transaction as the price's return)
    fails, so nothing is applied and the reject is refused.
    """
    from chalicelib.activities import reject

    buy, held = bought
    event = hold_reject(buy)
    read_then_redeem = reject.dependents

    def dependents_then_a_redeem(site: str, activity: dict[str, Any]) -> list[str]:
        found = read_then_redeem(site, activity)
        set_coupon("alice", held, status="redeemed", redeemedBy="R-later")
        return found

    monkeypatch.setattr(reject, "dependents", dependents_then_a_redeem)
    refusal = refuse(event)
    assert held in refusal["message"]
    coins = wallet("alice", "coins")
    assert (coins["balance"], coins["spent"]) == (0, 30), "nothing of the reversal was applied"
    after = api.ok("GET", f"/sites/{SITE}/activities/{buy['id']}")
    assert after["status"] == "SUCCEEDED" and after["rejection"]["refused"]["type"] == "NotRejectable"


def test_a_bounty_awarded_between_the_jobs_read_and_its_commit_keeps_its_escrow_paid(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.activities import reject
    from chalicelib.store import db
    from chalicelib.store.keys import bounty_sk, user_pk

    assert run(api, SITE, "alice", {"type": "point", "action": "increment",
                                    "points": [{"pointId": "coins", "points": 20}]})["status"] == "SUCCEEDED"
    start = run(api, SITE, "alice", {"type": "bounty", "action": "start",
                                     "points": [{"pointId": "coins", "points": 20}]})
    event = hold_reject(start)
    read_then_award = reject.dependents

    def dependents_then_an_award(site: str, activity: dict[str, Any]) -> list[str]:
        found = read_then_award(site, activity)
        db.update(user_pk(SITE, "alice"), bounty_sk(start["id"]), "SET #s = :a, closedBy = :by",
                  values={":a": "awarded", ":by": "W-later"}, names={"#s": "status"})
        return found

    monkeypatch.setattr(reject, "dependents", dependents_then_an_award)
    refuse(event)
    assert wallet("alice", "coins")["balance"] == 0, "the escrow was not returned"
    status, data, _ = api.post(f"/sites/{SITE}/activities/{start['id']}/reject", {"reason": "again"})
    assert status == 409 and data["error"]["type"] == "NotRejectable"
    assert "W-later" in data["error"]["message"]
