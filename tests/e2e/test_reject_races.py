"""A reject racing the activity that uses what it would reverse, many times at once, over HTTP.

Each race runs for many users in parallel (one race per user, all sent together), so the
interleavings vary from user to user. Whatever the interleaving, only the legal end states
occur (the reject wins, or the use wins and the reject is refused or answered 409), and the
invariant checker finds nothing (no goods kept whose payment was returned).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlparse

import pytest

from tests.e2e.conftest import ROOT, RunningStack

pytestmark = pytest.mark.e2e

SITE = "races"
RACES = int(os.environ.get("REJECT_RACES", "200"))
PRICE = 30


@pytest.fixture(scope="module")
def site(stack: RunningStack) -> str:
    assert stack.api("POST", "/sites", {"id": SITE, "name": "Reject races"})[0] == 201
    assert stack.api("POST", f"/sites/{SITE}/point-types", {
        "id": "coins", "name": "Coins", "redeemable": True, "giftable": True, "bountiable": True})[0] == 201
    assert stack.api("POST", f"/sites/{SITE}/coupons", {
        "id": "tshirt", "name": "T-shirt", "codeType": "single", "code": "TSHIRT",
        "price": {"pointId": "coins", "points": PRICE}, "redemption": "twoStep", "active": True})[0] == 201
    return SITE


def parallel(calls: list[Callable[[], Any]]) -> list[Any]:
    with ThreadPoolExecutor(min(64, len(calls))) as pool:
        return list(pool.map(lambda call: call(), calls))


def submit(stack: RunningStack, uuid: str, attrs: dict[str, Any]) -> str:
    status, data = stack.api("POST", f"/sites/{SITE}/activities", {"uuid": uuid, "attrs": attrs})
    assert status == 202, data
    return str(data["id"])


def settled(activity: dict[str, Any]) -> bool:
    if activity["status"] in ("FAILED", "REJECTED"):
        return True
    return activity["status"] == "SUCCEEDED" and not (activity.get("rejection") or {}).get("pending")


def wait_settled(stack: RunningStack, ids: list[str], timeout: float = 600) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    done: dict[str, dict[str, Any]] = {}
    while len(done) < len(ids):
        assert time.monotonic() < deadline, f"{len(ids) - len(done)} activities unsettled"

        def poll(activity_id: str) -> tuple[str, dict[str, Any]]:
            status, data = stack.api("GET", f"/sites/{SITE}/activities/{activity_id}")
            assert status == 200, data
            return activity_id, data

        for activity_id, data in parallel([lambda a=a: poll(a) for a in ids if a not in done]):
            if settled(data):
                done[activity_id] = data
        time.sleep(0.3)
    return done


def run_all(stack: RunningStack, bodies: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    ids = parallel([lambda u=u, a=a: submit(stack, u, a) for u, a in bodies])
    done = wait_settled(stack, ids)
    return [done[i] for i in ids]


def users(stack: RunningStack, prefix: str, funded: int) -> list[str]:
    uuids = [f"{prefix}{i:03d}" for i in range(RACES)]
    assert all(s == 201 for s in parallel([lambda u=u: stack.api("POST", f"/sites/{SITE}/users", {"uuid": u})[0]
                                           for u in uuids]))
    if funded:
        funding = run_all(stack, [(u, {"type": "point", "action": "increment",
                                       "points": [{"pointId": "coins", "points": funded}]}) for u in uuids])
        assert {a["status"] for a in funding} == {"SUCCEEDED"}
    return uuids


def ask_reject(stack: RunningStack, activity_id: str) -> tuple[int, Any]:
    return stack.api("POST", f"/sites/{SITE}/activities/{activity_id}/reject", {"reason": "race"})


def balance(stack: RunningStack, uuid: str) -> int:
    status, data = stack.api("GET", f"/sites/{SITE}/users/{uuid}/tabs/points?limit=100")
    assert status == 200, data
    wallet = next((w for w in data["items"] if w["pointId"] == "coins"), {"balance": 0})
    assert sum(e["amount"] for e in data["ledger"]["items"] if e["pointId"] == "coins") == wallet["balance"]
    return int(wallet["balance"])


def reject_outcome(stack: RunningStack, asked: tuple[int, Any], activity: dict[str, Any]) -> str:
    """`rejected`, or `refused` (409 at once, or refused while processing: still SUCCEEDED)."""
    status, data = asked
    if status == 409:
        assert data["error"]["type"] == "NotRejectable", data
        assert activity["status"] == "SUCCEEDED"
        return "refused"
    assert status == 202, data
    if activity["status"] == "REJECTED":
        return "rejected"
    assert activity["status"] == "SUCCEEDED", activity
    rejection = activity["rejection"]
    assert rejection["pending"] is False and rejection["refused"]["type"] == "NotRejectable", activity
    return "refused"


def check_invariants(stack: RunningStack) -> None:
    port = urlparse(stack.url).port
    out = subprocess.run([sys.executable, "tools/verify.py", "--site", SITE], cwd=ROOT, capture_output=True,
                         text=True, env={**os.environ, "PORT": str(port)}, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no violations" in out.stdout, out.stdout


def test_a_coupon_buy_rejected_while_its_coupon_is_redeemed(stack: RunningStack, site: str) -> None:
    """Either the reject wins (coupon refunded, price back, the redeem FAILED) or the redeem does
    (coupon redeemed, price kept, the reject refused): never a redeemed coupon whose price came back."""
    uuids = users(stack, "c", PRICE)
    buys = run_all(stack, [(u, {"type": "coupon", "action": "buy", "couponId": "tshirt"}) for u in uuids])
    assert {b["status"] for b in buys} == {"SUCCEEDED"}, [b["error"] for b in buys if b["status"] != "SUCCEEDED"][:3]

    def race(uuid: str, buy: dict[str, Any]) -> tuple[tuple[int, Any], str]:
        held = buy["result"]["awarded"]["coupons"][0]
        return parallel([lambda: ask_reject(stack, buy["id"]),
                         lambda: submit(stack, uuid, {"type": "coupon", "action": "redeem", "couponId": "tshirt",
                                                      "userCouponId": held})])  # type: ignore[return-value]

    raced = parallel([lambda u=u, b=b: race(u, b) for u, b in zip(uuids, buys, strict=True)])
    final = wait_settled(stack, [b["id"] for b in buys] + [redeem for _, redeem in raced])
    outcomes: Counter[str] = Counter()
    for uuid, buy, (asked, redeem_id) in zip(uuids, buys, raced, strict=True):
        rejected = reject_outcome(stack, asked, final[buy["id"]])
        redeem = final[redeem_id]
        status, coupons = stack.api("GET", f"/sites/{SITE}/users/{uuid}/tabs/coupons")
        assert status == 200
        [coupon] = coupons["items"] if coupons["items"] else [{"status": "refunded"}]
        state = (rejected, redeem["status"], coupon["status"], balance(stack, uuid))
        assert state in {("rejected", "FAILED", "refunded", PRICE), ("refused", "SUCCEEDED", "redeemed", 0)}, \
            (uuid, state, final[buy["id"]], redeem)
        if rejected == "rejected":
            assert redeem["error"]["type"] == "CouponNotHeld", redeem
        outcomes[rejected] += 1
    print(f"coupon races: {dict(outcomes)}")
    check_invariants(stack)


def test_a_bounty_start_rejected_while_it_is_awarded_and_cancelled(stack: RunningStack, site: str) -> None:
    """The reject, the award and the cancel race: exactly one of them takes the escrow."""
    offerers = users(stack, "o", PRICE)
    targets = users(stack, "t", 0)
    starts = run_all(stack, [(u, {"type": "bounty", "action": "start",
                                  "points": [{"pointId": "coins", "points": PRICE}]}) for u in offerers])
    assert {s["status"] for s in starts} == {"SUCCEEDED"}

    def race(offerer: str, target: str, start: dict[str, Any]) -> list[Any]:
        return parallel([
            lambda: ask_reject(stack, start["id"]),
            lambda: submit(stack, offerer, {"type": "bounty", "action": "award", "bountyId": start["id"],
                                            "targetUuid": target}),
            lambda: submit(stack, offerer, {"type": "bounty", "action": "cancel", "bountyId": start["id"]})])

    raced = parallel([lambda o=o, t=t, s=s: race(o, t, s) for o, t, s in zip(offerers, targets, starts, strict=True)])
    final = wait_settled(stack, [s["id"] for s in starts] + [i for r in raced for i in r[1:]])
    outcomes: Counter[str] = Counter()
    for offerer, target, start, (asked, award_id, cancel_id) in zip(offerers, targets, starts, raced, strict=True):
        rejected = reject_outcome(stack, asked, final[start["id"]])
        award, cancel = final[award_id]["status"], final[cancel_id]["status"]
        state = (rejected, award, cancel, balance(stack, offerer), balance(stack, target))
        assert state in {("rejected", "FAILED", "FAILED", PRICE, 0),
                         ("refused", "SUCCEEDED", "FAILED", 0, PRICE),
                         ("refused", "FAILED", "SUCCEEDED", PRICE, 0)}, (offerer, state)
        outcomes[f"{rejected}/award {award}/cancel {cancel}"] += 1
    print(f"bounty races: {dict(outcomes)}")
    check_invariants(stack)


def test_a_gift_rejected_while_its_target_spends_it(stack: RunningStack, site: str) -> None:
    """The target buys a coupon with the gifted points as the gift is rejected: either the buy
    fails for want of points, or it stands and the reversal takes the target below zero
    (domain.md: a reversal may; coins are not stopAtZero). Points are never created."""
    senders = users(stack, "s", PRICE)
    receivers = users(stack, "r", 0)
    gifts = run_all(stack, [(s, {"type": "gift", "targetUuid": r, "points": [{"pointId": "coins", "points": PRICE}]})
                            for s, r in zip(senders, receivers, strict=True)])
    assert {g["status"] for g in gifts} == {"SUCCEEDED"}

    def race(receiver: str, gift: dict[str, Any]) -> list[Any]:
        return parallel([lambda: ask_reject(stack, gift["id"]),
                         lambda: submit(stack, receiver, {"type": "coupon", "action": "buy", "couponId": "tshirt"})])

    raced = parallel([lambda r=r, g=g: race(r, g) for r, g in zip(receivers, gifts, strict=True)])
    final = wait_settled(stack, [g["id"] for g in gifts] + [buy for _, buy in raced])
    outcomes: Counter[str] = Counter()
    for sender, receiver, gift, (asked, buy_id) in zip(senders, receivers, gifts, raced, strict=True):
        rejected = reject_outcome(stack, asked, final[gift["id"]])
        buy = final[buy_id]
        state = (rejected, buy["status"], balance(stack, sender), balance(stack, receiver))
        assert state in {("rejected", "FAILED", PRICE, 0), ("rejected", "SUCCEEDED", PRICE, -PRICE)}, \
            (receiver, state, buy)
        if buy["status"] == "FAILED":
            assert buy["error"]["type"] == "InsufficientPoints", buy
        outcomes[f"buy {buy['status']}"] += 1
    print(f"gift races: {dict(outcomes)}")
    check_invariants(stack)
