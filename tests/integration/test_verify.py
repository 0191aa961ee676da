"""The invariant checker finds each kind of broken money rule, and nothing on a sound table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import Api

SITE = "acme"


def _put(owner: str, sk: str, **item: Any) -> None:
    from chalicelib.store import db
    from chalicelib.store.keys import user_pk

    db.put({"PK": user_pk(SITE, owner), "SK": sk, **item})


def _entry(entry_id: str, uuid: str, activity_id: str, amount: int, kind: str = "credit",
           booked: str = "earned", point_id: str = "coins", shortfall: int = 0) -> dict[str, Any]:
    row = {"pointId": point_id, "amount": amount, "kind": kind, "bookedUnder": booked, "activityId": activity_id,
           "uuid": uuid, "shortfall": shortfall}
    _put(uuid, f"L#{entry_id}", **row)
    return row


def _activity(activity_id: str, uuid: str, type_: str, status: str, ledger: list[dict[str, Any]],
              attrs: dict[str, Any] | None = None, **extra: Any) -> None:
    steps = {"begin": "t", type_: "t", "finish": "t"} if status in ("SUCCEEDED", "REJECTED") else {}
    if status == "REJECTED":
        steps["reject"] = "t"
    _put(uuid, f"A#{activity_id}", id=activity_id, uuid=uuid, type=type_, status=status, steps=steps,
         attrs=attrs or {"type": type_}, effects={type_: {"ledger": ledger}}, results={}, **extra)


def _wallet(uuid: str, balance: int, earned: int, spent: int = 0, point_id: str = "coins") -> None:
    """Set one wallet's figures on the user's state item (its other attributes kept)."""
    from chalicelib.store import db
    from chalicelib.store.keys import USER_STATE_SK, user_pk
    from chalicelib.store.userstate import wallet_attr

    figures = {"balance": balance, "earned": earned, "spent": spent}
    db.update(user_pk(SITE, uuid), USER_STATE_SK, "SET " + ", ".join(f"#f{i} = :f{i}" for i in range(len(figures))),
              values={f":f{i}": v for i, v in enumerate(figures.values())},
              names={f"#f{i}": wallet_attr(point_id, f) for i, f in enumerate(figures)}, return_new=False)


@pytest.fixture
def sound(api: Api, site: str, requests_counter: Any) -> Api:
    """alice earned 10 coins and gave bob a bounty of 4; one activity failed cleanly."""
    api.ok("POST", f"/sites/{site}/point-types", {"id": "coins", "name": "Coins", "bountiable": True})
    api.ok("POST", f"/sites/{site}/coupons", {"id": "v", "name": "V", "codeType": "multiple", "codes": ["A", "B"],
                                              "price": None, "active": True})
    for uuid in ("alice", "bob"):
        api.ok("POST", f"/sites/{site}/users", {"uuid": uuid})
    earn = _entry("1", "alice", "E1", 10)
    _activity("E1", "alice", "point", "SUCCEEDED", [earn])
    escrow = _entry("2", "alice", "B1", -4, kind="bounty_escrow", booked="spent")
    _activity("B1", "alice", "bounty", "SUCCEEDED", [escrow], attrs={"type": "bounty", "action": "start"})
    payout = _entry("3", "bob", "W1", 4, kind="bounty_payout")
    _activity("W1", "alice", "bounty", "SUCCEEDED", [payout],
              attrs={"type": "bounty", "action": "award", "bountyId": "B1", "targetUuid": "bob"})
    _put("alice", "S#Y#B1", bountyId="B1", status="awarded", closedBy="W1", points={"coins": 4})
    _activity("F1", "alice", "point", "FAILED", [])
    _wallet("alice", balance=6, earned=10, spent=4)
    _wallet("bob", balance=4, earned=4)
    _put("alice", "S#Q#c1", couponId="v", code="A", status="available", acquiredBy="award")
    from chalicelib.store import db
    from chalicelib.store.keys import coupon_stock_sk, site_pk

    db.put({"PK": site_pk(SITE), "SK": coupon_stock_sk("v"), "issued": 1})
    requests_counter.reset()
    return api


def _check() -> Any:
    from chalicelib.audit.verify import verify

    return verify([SITE])


def test_a_sound_site_has_no_violations_and_no_scan(sound: Api, requests_counter: Any) -> None:
    report = _check()
    assert report.ok, report.summary()
    assert report.checked["users"] == 2 and report.checked["wallets"] == 2 and report.checked["activities"] == 4
    assert report.checked["ledger entries"] == 3 and report.checked["bounties"] == 1
    assert "Scan" not in requests_counter.calls  # the fixture also makes a Scan raise
    assert "Query" in requests_counter.calls


def _wallet_off() -> None:
    _wallet("alice", balance=7, earned=11, spent=4)


def _figures_off() -> None:
    _wallet("bob", balance=4, earned=5)


def _ledger_without_wallet() -> None:
    _entry("9", "bob", "X9", 3, point_id="gems")


def _code_twice() -> None:
    _put("bob", "S#Q#c2", couponId="v", code="A", status="available", acquiredBy="award")
    from chalicelib.store import db
    from chalicelib.store.keys import coupon_stock_sk, site_pk

    db.put({"PK": site_pk(SITE), "SK": coupon_stock_sk("v"), "issued": 2})


def _more_copies_than_stock() -> None:
    _put("bob", "S#Q#c2", couponId="v", code="B", status="available", acquiredBy="award")


def _paid_twice() -> None:
    payout = _entry("4", "bob", "W2", 4, kind="bounty_payout")
    _activity("W2", "alice", "bounty", "SUCCEEDED", [payout],
              attrs={"type": "bounty", "action": "award", "bountyId": "B1", "targetUuid": "bob"})
    _wallet("bob", balance=8, earned=8)


def _open_but_paid() -> None:
    _put("alice", "S#Y#B1", bountyId="B1", status="open", closedBy=None, points={"coins": 4})


def _succeeded_entry_missing() -> None:
    from chalicelib.store import db
    from chalicelib.store.keys import user_pk

    db.delete(user_pk(SITE, "bob"), "L#3")
    _wallet("bob", balance=0, earned=0)


def _succeeded_marker_missing() -> None:
    _put("alice", "A#E1", id="E1", uuid="alice", type="point", status="SUCCEEDED", steps={"begin": "t"},
         attrs={"type": "point"}, effects={"point": {"ledger": [{"pointId": "coins", "amount": 10, "uuid": "alice"}]}})


def _failed_with_effects() -> None:
    _entry("5", "alice", "F1", 2)
    _wallet("alice", balance=8, earned=12, spent=4)


def _rejected_not_reversed() -> None:
    earn = _entry("6", "bob", "R1", 5)
    _entry("7", "bob", "R1", -3, kind="reversal")  # 2 short, and no shortfall recorded
    _activity("R1", "bob", "point", "REJECTED", [earn])
    _wallet("bob", balance=6, earned=6)


def _goods_kept_payment_returned() -> None:
    """The coupon reject race as it ended on an unguarded reversal: the redeem handed the
    coupon out, then the buy's reversal marked it refunded and returned the 30 coins."""
    buy = _entry("8", "alice", "C1", -3, kind="coupon_purchase", booked="spent")
    _entry("9", "alice", "C1", 3, kind="reversal", booked="spent")
    _put("alice", "A#C1", id="C1", uuid="alice", type="coupon", status="REJECTED",
         steps={"begin": "t", "coupon": "t", "finish": "t", "reject": "t"},
         attrs={"type": "coupon", "action": "buy", "couponId": "v"}, results={},
         effects={"coupon": {"ledger": [buy], "acquired": [{"uuid": "alice", "userCouponId": "C1-v",
                                                            "couponId": "v"}]}})
    _activity("RD1", "alice", "coupon", "SUCCEEDED", [],
              attrs={"type": "coupon", "action": "redeem", "couponId": "v", "userCouponId": "C1-v"})
    _put("alice", "S#Q#C1-v", userCouponId="C1-v", couponId="v", code="B", status="refunded",
         acquiredBy="purchase", redeemedAt="t", redeemedBy="RD1")
    from chalicelib.store import db
    from chalicelib.store.keys import coupon_stock_sk, site_pk

    db.put({"PK": site_pk(SITE), "SK": coupon_stock_sk("v"), "issued": 2})


def _bounty_closed_after_its_start_was_rejected() -> None:
    _put("alice", "A#B1", id="B1", uuid="alice", type="bounty", status="REJECTED",
         steps={"begin": "t", "bounty": "t", "finish": "t", "reject": "t"},
         attrs={"type": "bounty", "action": "start"}, results={},
         effects={"bounty": {"ledger": [{"pointId": "coins", "amount": -4, "uuid": "alice"}]}})
    _entry("10", "alice", "B1", 4, kind="reversal", booked="spent")
    _wallet("alice", balance=10, earned=10, spent=0)


def _counters_off() -> None:
    """Two users counted on a board period whose top counter item counts three in that band."""
    from chalicelib.store import db

    for uuid, score in (("alice", 5), ("bob", 7)):
        _put(uuid, "S#K#xp#all", uuid=uuid, boardId="xp", periodKey="all", counted=score, run=1)
    db.put({"PK": f"LBH#{SITE}#xp#all", "SK": "H", "counts": {"0": 3}, "run": 1})


def _event_without_effect() -> None:
    """A points.changed of 99 coins recorded for E1's point step, whose ledger says 10."""
    _put("alice", "OUT#E1#point", steps=["point"], events=[
        {"id": "evt_e1_point_0", "type": "points.changed", "createdAt": "2026-01-01T00:00:00Z", "site": SITE,
         "data": {"uuid": "alice", "pointId": "coins", "delta": 99, "balance": 99, "kind": "credit",
                  "activityId": "E1"}, "about": "alice"}])


CORRUPTIONS: dict[str, tuple[Callable[[], None], str]] = {
    "wallet differs from ledger": (_wallet_off, "wallet-equals-ledger"),
    "figures do not add up": (_figures_off, "wallet-figures"),
    "ledger without wallet": (_ledger_without_wallet, "wallet-equals-ledger"),
    "multiple-code coupon code twice": (_code_twice, "coupon-code-once"),
    "more copies than the stock handed out": (_more_copies_than_stock, "coupon-stock"),
    "bounty paid twice": (_paid_twice, "bounty-paid-once"),
    "open bounty already paid": (_open_but_paid, "bounty-paid-once"),
    "succeeded without its ledger entry": (_succeeded_entry_missing, "succeeded-effects-present"),
    "succeeded without its step markers": (_succeeded_marker_missing, "succeeded-effects-present"),
    "failed with a ledger entry": (_failed_with_effects, "failed-has-no-effects"),
    "rejected but not fully reversed": (_rejected_not_reversed, "rejected-reversed"),
    "coupon redeemed although its purchase was returned": (_goods_kept_payment_returned,
                                                          "goods-kept-payment-returned"),
    "bounty awarded although its start was rejected": (_bounty_closed_after_its_start_was_rejected,
                                                        "goods-kept-payment-returned"),
    "leaderboard counters off their rank items": (_counters_off, "rank-counters"),
    "an event without its effect": (_event_without_effect, "event-has-effect"),
}


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_each_broken_rule_is_reported(sound: Api, name: str) -> None:
    corrupt, rule = CORRUPTIONS[name]
    corrupt()
    report = _check()
    assert not report.ok
    assert {v.rule for v in report.violations} == {rule}, report.summary()


def test_a_reject_with_recorded_shortfall_is_sound(sound: Api) -> None:
    earn = _entry("6", "bob", "R1", 5, point_id="gems")
    _entry("7", "bob", "R1", -3, kind="reversal", point_id="gems", shortfall=2)
    _activity("R1", "bob", "point", "REJECTED", [earn])
    _wallet("bob", balance=2, earned=2, point_id="gems")
    report = _check()
    assert report.ok, report.summary()


def test_a_compensated_failure_is_sound(sound: Api) -> None:
    """A failure after some steps committed is compensated: its entries and their reversals net to zero."""
    earn = _entry("8", "bob", "C1", 6)
    _entry("9", "bob", "C1", -6, kind="reversal")
    _activity("C1", "bob", "point", "FAILED", [earn])
    from chalicelib.store import db
    from chalicelib.store.keys import user_pk

    db.update(user_pk(SITE, "bob"), "A#C1", "SET steps = :s", values={":s": {"begin": "t", "point": "t",
                                                                              "compensate": "t"}})
    assert _check().ok, _check().summary()
    _entry("10", "bob", "C1", 1)
    _wallet("bob", balance=5, earned=5)
    assert {v.rule for v in _check().violations} == {"failed-has-no-effects"}


def test_cli_exits_non_zero_on_a_violation_and_prints_what_it_checked(sound: Api,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from tools import verify as cli

    assert cli.main(["--no-local", "--site", SITE]) == 0
    out = capsys.readouterr().out
    assert "checked:" in out and "2 users" in out and "no violations" in out
    _wallet_off()
    assert cli.main(["--no-local"]) == 1
    out = capsys.readouterr().out
    assert "wallet-equals-ledger" in out and "user alice wallet coins" in out
