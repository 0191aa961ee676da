"""Money under concurrency, over HTTP against the local stack (a real process)."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e


def wait_all(stack: RunningStack, site: str, ids: list[str], timeout: float = 300,
             pause: float = 0.2) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    done: dict[str, dict[str, Any]] = {}
    while len(done) < len(ids):
        assert time.monotonic() < deadline, f"{len(ids) - len(done)} activities unfinished"
        for activity_id in ids:
            if activity_id in done:
                continue
            status, data = stack.api("GET", f"/sites/{site}/activities/{activity_id}")
            assert status == 200, data
            if data["status"] in ("SUCCEEDED", "FAILED"):
                done[activity_id] = data
        time.sleep(pause)
    return [done[i] for i in ids]


def submit_all(stack: RunningStack, site: str, bodies: list[dict[str, Any]], workers: int = 0) -> list[str]:
    def post(body: dict[str, Any]) -> str:
        status, data = stack.api("POST", f"/sites/{site}/activities", body)
        assert status == 202, data
        return str(data["id"])

    with ThreadPoolExecutor(workers or len(bodies)) as pool:
        return list(pool.map(post, bodies))


def wallet(stack: RunningStack, site: str, uuid: str, point_id: str) -> dict[str, Any]:
    status, data = stack.api("GET", f"/sites/{site}/users/{uuid}/tabs/points?limit=100")
    assert status == 200, data
    figures = next(w for w in data["items"] if w["pointId"] == point_id)
    ledger = [e for e in data["ledger"]["items"] if e["pointId"] == point_id]
    assert data["ledger"]["nextCursor"] is None
    figures["ledgerSum"] = sum(e["amount"] for e in ledger)
    return figures


@pytest.fixture(scope="module")
def site(stack: RunningStack) -> str:
    assert stack.api("POST", "/sites", {"id": "conc", "name": "Concurrency"})[0] == 201
    for body in ({"id": "coins", "name": "Coins", "redeemable": True, "giftable": True, "bountiable": True},):
        assert stack.api("POST", "/sites/conc/point-types", body)[0] == 201
    for uuid in ("alice", "bob", "carol", "dave"):
        assert stack.api("POST", "/sites/conc/users", {"uuid": uuid})[0] == 201
    return "conc"


def fund(stack: RunningStack, site: str, uuid: str, amount: int) -> None:
    [activity_id] = submit_all(stack, site, [{"uuid": uuid, "attrs": {
        "type": "point", "action": "increment", "points": [{"pointId": "coins", "points": amount}]}}])
    assert wait_all(stack, site, [activity_id])[0]["status"] == "SUCCEEDED"


def test_fifty_concurrent_redeems_of_a_balance_of_ten(stack: RunningStack, site: str) -> None:
    fund(stack, site, "alice", 10)
    ids = submit_all(stack, site, [{"uuid": "alice", "attrs": {
        "type": "point", "action": "redeem", "points": [{"pointId": "coins", "points": 1}]}}] * 50)
    results = wait_all(stack, site, ids)
    outcomes = Counter((r["status"], (r["error"] or {}).get("type")) for r in results)
    assert outcomes == {("SUCCEEDED", None): 10, ("FAILED", "InsufficientPoints"): 40}
    w = wallet(stack, site, "alice", "coins")
    assert (w["balance"], w["ledgerSum"], w["redeemed"]) == (0, 0, 10)


def test_twenty_concurrent_gifts_out_of_one_wallet(stack: RunningStack, site: str) -> None:
    fund(stack, site, "bob", 10)
    ids = submit_all(stack, site, [{"uuid": "bob", "attrs": {
        "type": "gift", "targetUuid": "carol", "points": [{"pointId": "coins", "points": 1}]}}] * 20)
    results = wait_all(stack, site, ids)
    assert Counter(r["status"] for r in results) == {"SUCCEEDED": 10, "FAILED": 10}
    assert {(r["error"] or {}).get("type") for r in results if r["status"] == "FAILED"} == {"InsufficientPoints"}
    sender, target = wallet(stack, site, "bob", "coins"), wallet(stack, site, "carol", "coins")
    assert (sender["balance"], sender["ledgerSum"], sender["spent"]) == (0, 0, 10)
    assert (target["balance"], target["ledgerSum"], target["earned"]) == (10, 10, 10)


def test_two_concurrent_awards_of_one_bounty(stack: RunningStack, site: str) -> None:
    fund(stack, site, "dave", 30)
    [start] = submit_all(stack, site, [{"uuid": "dave", "attrs": {
        "type": "bounty", "action": "start", "points": [{"pointId": "coins", "points": 30}]}}])
    assert wait_all(stack, site, [start])[0]["status"] == "SUCCEEDED"
    ids = submit_all(stack, site, [
        {"uuid": "dave", "attrs": {"type": "bounty", "action": "award", "bountyId": start, "targetUuid": "alice"}},
        {"uuid": "dave", "attrs": {"type": "bounty", "action": "award", "bountyId": start, "targetUuid": "bob"}},
    ])
    results = wait_all(stack, site, ids)
    assert sorted(r["status"] for r in results) == ["FAILED", "SUCCEEDED"]
    assert [r["error"]["type"] for r in results if r["status"] == "FAILED"] == ["BountyNotOpen"]
    winner = next(r["attrs"]["targetUuid"] for r in results if r["status"] == "SUCCEEDED")
    loser = "bob" if winner == "alice" else "alice"
    before = {"alice": 0, "bob": 0}  # their balances after the tests above
    assert wallet(stack, site, winner, "coins")["balance"] == before[winner] + 30
    assert wallet(stack, site, loser, "coins")["balance"] == before[loser]


def test_a_flash_sale_of_300_copies_to_1000_buyers(stack: RunningStack, site: str) -> None:
    """1,000 purchases of a coupon of 300 copies (a list of 400 codes, a series of 300), from 100
    users buying 10 each, all at once: exactly 300 succeed, each code goes out once and only the
    first 300 of the list, the other 700 end CouponSoldOut, and every buyer pays for what they got."""
    codes = [f"F{n:03d}" for n in range(400)]
    assert stack.api("POST", f"/sites/{site}/coupons", {
        "id": "flash", "name": "Flash sale", "codeType": "multiple", "codes": codes, "limitedSeries": 300,
        "price": {"pointId": "coins", "points": 1}, "redemption": "twoStep", "active": True})[0] == 201
    buyers = [f"buyer{n:02d}" for n in range(100)]
    for uuid in buyers:
        assert stack.api("POST", f"/sites/{site}/users", {"uuid": uuid})[0] == 201
    funded = submit_all(stack, site, [{"uuid": uuid, "attrs": {
        "type": "point", "action": "increment", "points": [{"pointId": "coins", "points": 10}]}} for uuid in buyers])
    assert {r["status"] for r in wait_all(stack, site, funded, pause=1.0)} == {"SUCCEEDED"}
    buy = {"type": "coupon", "action": "buy", "couponId": "flash"}
    ids = submit_all(stack, site, [{"uuid": uuid, "attrs": buy} for _ in range(10) for uuid in buyers], workers=32)
    results = wait_all(stack, site, ids, pause=1.0)
    outcomes = Counter((r["status"], (r["error"] or {}).get("type")) for r in results)
    assert outcomes == {("SUCCEEDED", None): 300, ("FAILED", "CouponSoldOut"): 700}
    bought: list[str] = []
    for uuid in buyers:
        status, data = stack.api("GET", f"/sites/{site}/users/{uuid}/tabs/coupons")
        assert status == 200, data
        mine = [c["code"] for c in data["items"] if c["couponId"] == "flash"]
        bought += mine
        assert wallet(stack, site, uuid, "coins")["spent"] == len(mine)
    assert sorted(bought) == codes[:300]
