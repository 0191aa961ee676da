"""Property tests: any sequence of wallet operations keeps the wallet's invariants, and no
debit the rules forbid ever gets through."""

import datetime as dt

from _engine_fixtures import point, utc
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.engine import wallet as w
from chalicelib.engine.errors import DomainError
from chalicelib.engine.wallet import CreditBatch, LedgerEntry, Wallet, WalletChange

TYPES = {
    "plain": point("p", redeemable=True, giftable=True, bountiable=True),
    "negativeable": point("p", redeemable=True, negativeable=True),
    "stop_at_zero": point("p", redeemable=True, giftable=True, bountiable=True, stopAtZero=True),
    "expirable": point(
        "p", redeemable=True, giftable=True, bountiable=True, expirable=True, expiresAfterDays=3
    ),
}
OPS = [
    "credit",
    "increment",
    "set",
    "redeem",
    "refund",
    "gift_send",
    "gift_receive",
    "bounty_escrow",
    "bounty_cancel",
    "coupon_buy",
    "coupon_refund",
    "expire",
    "reverse",
]
START = utc(2026, 3, 1)


class Store:
    def __init__(self) -> None:
        self.wallet = Wallet("p")
        self.ledger: list[LedgerEntry] = []
        self.changes: list[WalletChange] = []
        self.batches: dict[str, CreditBatch] = {}

    def apply(self, change: WalletChange) -> None:
        for c in change.conditions:
            value = getattr(self.wallet, c.figure)
            assert (value >= c.value) if c.op == "gte" else (value == c.value), c
        assert change.before == self.wallet
        self.wallet = change.after
        self.ledger += change.entries
        self.changes.append(change)
        for b in change.new_batches:
            self.batches[b.batch_id] = b
        for u in change.batch_updates:
            b = self.batches[u.batch_id]
            assert b.remaining - u.consumed - u.expired >= 0
            self.batches[u.batch_id] = CreditBatch(
                b.batch_id,
                b.earned_at,
                b.expires_at,
                b.amount,
                b.remaining - u.consumed - u.expired,
                b.expired + u.expired,
            )


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(sorted(TYPES)),
    steps=st.lists(
        st.tuples(st.sampled_from(OPS), st.integers(-30, 60), st.integers(0, 36), st.integers(0, 50)),
        max_size=40,
    ),
)
def test_random_operations_keep_the_invariants(kind: str, steps: list[tuple[str, int, int, int]]) -> None:
    pt = TYPES[kind]
    store = Store()
    now = START
    for n, (op, amount, hours, pick) in enumerate(steps):
        now = now + dt.timedelta(hours=hours)
        before = store.wallet
        batches = list(store.batches.values())
        bid = f"e{n}"
        try:
            if op == "credit":
                change = w.credit(pt, before, amount, now, "Europe/Paris", batch_id=bid, batches=batches)
            elif op == "increment":
                change = w.increment(pt, before, amount, now, "Europe/Paris", batch_id=bid, batches=batches)
            elif op == "set":
                change = w.set_balance(pt, before, amount, now)
            elif op == "redeem":
                change = w.redeem(pt, before, amount, now, batches=batches)
            elif op == "refund":
                change = w.refund(pt, before, amount, now, "Europe/Paris", batch_id=bid, batches=batches)
            elif op == "gift_send":
                change = w.gift_send(pt, before, amount, now, batches=batches)
            elif op == "gift_receive":
                change = w.gift_receive(pt, before, amount, now, "Europe/Paris", batch_id=bid)
            elif op == "bounty_escrow":
                change = w.bounty_escrow(pt, before, amount, now, batches=batches)
            elif op == "bounty_cancel":
                change = w.bounty_cancel(
                    pt, before, min(amount, before.spent), now, "Europe/Paris", batch_id=bid
                )
            elif op == "coupon_buy":
                change = w.coupon_buy(pt, before, amount, now, batches=batches)
            elif op == "coupon_refund":
                change = w.coupon_refund(
                    pt, before, min(amount, before.spent), now, "Europe/Paris", batch_id=bid
                )
            elif op == "expire":
                change = w.expire(pt, before, batches, now)
            else:
                if not store.changes:
                    continue
                target = store.changes[pick % len(store.changes)]
                reversible = [e for e in target.entries if e.kind not in ("expiry", "reversal")]
                change = w.reverse(pt, before, reversible, now, "Europe/Paris", batches=batches, batch_id=bid)
        except DomainError:
            assert store.wallet == before
            continue
        store.apply(change)
        after = store.wallet
        # The invariants of domain.md, at every moment.
        assert after.consistent()
        assert after.balance == sum(e.amount for e in store.ledger)
        assert w.rebuild_wallet("p", store.ledger) == after
        # No disallowed debit: only negativeable increments and reversals may go below zero,
        # and never on a stopAtZero type.
        if after.balance < 0 and after.balance < before.balance:
            assert op == "reverse" or (op == "increment" and pt.negativeable)
        if pt.stop_at_zero:
            assert after.balance >= 0
        if op in ("redeem", "gift_send", "bounty_escrow", "coupon_buy"):
            assert before.balance >= amount > 0
            assert after.balance >= 0
        if op == "refund":
            assert after.redeemed >= 0
        # Expirable types: what can still expire never exceeds what there is.
        if pt.expirable:
            remaining = sum(b.remaining for b in store.batches.values())
            assert remaining == max(after.balance, 0)
