import pytest
from _engine_fixtures import point, utc

from chalicelib.engine import wallet as w
from chalicelib.engine.errors import (
    InsufficientPoints,
    InvalidAmount,
    NegativeNotAllowed,
    NotBountiable,
    NotGiftable,
    NotRedeemable,
    RefundExceedsRedeemed,
    SetOnExpirable,
)
from chalicelib.engine.wallet import CreditBatch, FigureCondition, LedgerEntry, Wallet, WalletChange

NOW = utc(2026, 1, 15, 12)
COINS = point("coins", redeemable=True, giftable=True, bountiable=True)
PLAIN = point("xp")
NEG = point("karma", negativeable=True)
STOP = point("stars", redeemable=True, stopAtZero=True)
EXP = point("miles", redeemable=True, expirable=True, expiresAfterDays=30)


def figures(wallet: Wallet) -> tuple[int, int, int, int, int, int]:
    return (wallet.balance, wallet.earned, wallet.spent, wallet.redeemed, wallet.expired, wallet.adjusted)


class Book:
    """Applies changes the way the store would, keeping the ledger and the batches."""

    def __init__(self, pt_id: str) -> None:
        self.wallet = Wallet(pt_id)
        self.ledger: list[LedgerEntry] = []
        self.batches: dict[str, CreditBatch] = {}
        self.n = 0

    def apply(self, change: WalletChange) -> WalletChange:
        for c in change.conditions:
            value = getattr(self.wallet, c.figure)
            assert value >= c.value if c.op == "gte" else value == c.value
        self.wallet = change.after
        self.ledger += change.entries
        for b in change.new_batches:
            self.batches[b.batch_id] = b
        for u in change.batch_updates:
            b = self.batches[u.batch_id]
            self.batches[u.batch_id] = CreditBatch(
                b.batch_id,
                b.earned_at,
                b.expires_at,
                b.amount,
                b.remaining - u.consumed - u.expired,
                b.expired + u.expired,
            )
        assert self.wallet.consistent()
        assert self.wallet.balance == sum(e.amount for e in self.ledger)
        assert w.rebuild_wallet(self.wallet.point_id, self.ledger) == self.wallet
        return change

    def bid(self) -> str:
        self.n += 1
        return f"b{self.n}"

    def live(self) -> list[CreditBatch]:
        return list(self.batches.values())


def test_increment_books_earned_and_negative_increment_adjusted() -> None:
    book = Book("karma")
    book.apply(w.increment(NEG, book.wallet, 10, NOW, "UTC"))
    change = book.apply(w.increment(NEG, book.wallet, -25, NOW, "UTC"))
    assert figures(book.wallet) == (-15, 10, 0, 0, 0, 25)
    assert change.conditions == []  # a negativeable type may go below zero
    assert change.entries == [LedgerEntry("karma", -25, "increment", "adjusted")]


def test_negative_increment_refused_unless_negativeable() -> None:
    with pytest.raises(NegativeNotAllowed) as err:
        w.increment(PLAIN, Wallet("xp", 100, 100), -1, NOW, "UTC")
    assert err.value.type == "NegativeNotAllowed"
    with pytest.raises(InvalidAmount):
        w.increment(PLAIN, Wallet("xp"), 0, NOW, "UTC")


def test_set_books_increase_as_earned_and_decrease_as_adjusted() -> None:
    book = Book("xp")
    up = book.apply(w.set_balance(PLAIN, book.wallet, 40, NOW))
    assert up.conditions == [FigureCondition("balance", "eq", 0)]
    down = book.apply(w.set_balance(PLAIN, book.wallet, 15, NOW))
    assert figures(book.wallet) == (15, 40, 0, 0, 0, 25)
    assert down.deltas == {"balance": -25, "adjusted": 25}
    assert w.set_balance(PLAIN, book.wallet, 15, NOW).entries == []
    with pytest.raises(InvalidAmount):
        w.set_balance(PLAIN, book.wallet, -1, NOW)


def test_set_refused_on_expirable() -> None:
    with pytest.raises(SetOnExpirable):
        w.set_balance(EXP, Wallet("miles"), 5, NOW)


def test_redeem_needs_redeemable_and_the_points() -> None:
    book = Book("coins")
    book.apply(w.credit(COINS, book.wallet, 10, NOW, "UTC"))
    change = book.apply(w.redeem(COINS, book.wallet, 7, NOW))
    assert change.conditions == [FigureCondition("balance", "gte", 7)]
    assert figures(book.wallet) == (3, 10, 0, 7, 0, 0)
    with pytest.raises(InsufficientPoints):
        w.redeem(COINS, book.wallet, 4, NOW)
    with pytest.raises(NotRedeemable):
        w.redeem(PLAIN, Wallet("xp", 50, 50), 1, NOW)
    with pytest.raises(InvalidAmount):
        w.redeem(COINS, book.wallet, 0, NOW)


def test_refund_never_exceeds_redeemed() -> None:
    book = Book("coins")
    book.apply(w.credit(COINS, book.wallet, 10, NOW, "UTC"))
    book.apply(w.redeem(COINS, book.wallet, 6, NOW))
    with pytest.raises(RefundExceedsRedeemed):
        w.refund(COINS, book.wallet, 7, NOW, "UTC")
    change = book.apply(w.refund(COINS, book.wallet, 4, NOW, "UTC"))
    assert change.conditions == [FigureCondition("redeemed", "gte", 4)]
    assert figures(book.wallet) == (8, 10, 0, 2, 0, 0)
    with pytest.raises(NotRedeemable):
        w.refund(PLAIN, Wallet("xp", 0, 0, 0, 5), 1, NOW, "UTC")


def test_gift_moves_points_from_spent_to_earned() -> None:
    sender, target = Book("coins"), Book("coins")
    sender.apply(w.credit(COINS, sender.wallet, 20, NOW, "UTC"))
    sender.apply(w.gift_send(COINS, sender.wallet, 15, NOW))
    target.apply(w.gift_receive(COINS, target.wallet, 15, NOW, "UTC"))
    assert figures(sender.wallet) == (5, 20, 15, 0, 0, 0)
    assert figures(target.wallet) == (15, 15, 0, 0, 0, 0)
    assert [e.kind for e in sender.ledger] == ["credit", "gift_out"]
    with pytest.raises(NotGiftable):
        w.gift_send(PLAIN, Wallet("xp", 50, 50), 1, NOW)
    with pytest.raises(InsufficientPoints):
        w.gift_send(COINS, sender.wallet, 6, NOW)


def test_bounty_escrow_cancel_and_payout() -> None:
    offerer, winner = Book("coins"), Book("coins")
    offerer.apply(w.credit(COINS, offerer.wallet, 50, NOW, "UTC"))
    offerer.apply(w.bounty_escrow(COINS, offerer.wallet, 30, NOW))
    assert figures(offerer.wallet) == (20, 50, 30, 0, 0, 0)
    offerer.apply(w.bounty_cancel(COINS, offerer.wallet, 30, NOW, "UTC"))
    assert figures(offerer.wallet) == (50, 50, 0, 0, 0, 0)
    winner.apply(w.bounty_payout(COINS, winner.wallet, 30, NOW, "UTC"))
    assert figures(winner.wallet) == (30, 30, 0, 0, 0, 0)
    with pytest.raises(NotBountiable):
        w.bounty_escrow(PLAIN, Wallet("xp", 50, 50), 1, NOW)


def test_coupon_buy_and_refund() -> None:
    book = Book("coins")
    book.apply(w.credit(COINS, book.wallet, 40, NOW, "UTC"))
    book.apply(w.coupon_buy(COINS, book.wallet, 30, NOW))
    assert figures(book.wallet) == (10, 40, 30, 0, 0, 0)
    book.apply(w.coupon_refund(COINS, book.wallet, 30, NOW, "UTC"))
    assert figures(book.wallet) == (40, 40, 0, 0, 0, 0)
    with pytest.raises(InsufficientPoints):
        w.coupon_buy(COINS, Wallet("coins", 29, 29), 30, NOW)


# ---------------------------------------------------------------- expiry


def test_debits_consume_earliest_expiry_first_and_only_the_remainder_expires() -> None:
    book = Book("miles")
    first = book.apply(w.credit(EXP, book.wallet, 10, utc(2026, 1, 1, 12), "UTC", batch_id=book.bid()))
    assert first.entries[0].expires_at == utc(2026, 1, 31)
    book.apply(
        w.credit(EXP, book.wallet, 20, utc(2026, 1, 10, 12), "UTC", batch_id=book.bid(), batches=book.live())
    )
    book.apply(w.redeem(EXP, book.wallet, 15, utc(2026, 1, 15), batches=book.live()))
    assert {b.batch_id: b.remaining for b in book.live()} == {"b1": 0, "b2": 15}
    nothing = book.apply(w.expire(EXP, book.wallet, book.live(), utc(2026, 1, 31)))
    assert nothing.entries == []
    lapse = book.apply(w.expire(EXP, book.wallet, book.live(), utc(2026, 2, 9)))
    assert [(e.amount, e.kind, e.booked_under, e.batch_id) for e in lapse.entries] == [
        (-15, "expiry", "expired", "b2")
    ]
    assert figures(book.wallet) == (0, 30, 0, 15, 15, 0)


def test_expiry_is_at_local_midnight() -> None:
    berlin_daily = point("day_pass", redeemable=True, expirable=True, expiresAfterDays=1)
    book = Book("day_pass")
    # Earned at 00:30 on 2 January in Berlin: expires at 00:00 on 3 January Berlin time.
    book.apply(w.credit(berlin_daily, book.wallet, 5, utc(2026, 1, 1, 23, 30), "Europe/Berlin", batch_id="a"))
    assert book.live()[0].expires_at == utc(2026, 1, 2, 23)
    assert book.apply(w.expire(berlin_daily, book.wallet, book.live(), utc(2026, 1, 2, 22, 59))).entries == []
    book.apply(w.expire(berlin_daily, book.wallet, book.live(), utc(2026, 1, 2, 23)))
    assert figures(book.wallet) == (0, 5, 0, 0, 5, 0)


def test_a_debit_cannot_spend_points_that_already_lapsed() -> None:
    book = Book("miles")
    book.apply(w.credit(EXP, book.wallet, 10, utc(2026, 1, 1, 12), "UTC", batch_id="a"))
    with pytest.raises(InsufficientPoints):
        w.redeem(EXP, book.wallet, 5, utc(2026, 2, 1), batches=book.live())
    book.apply(w.credit(EXP, book.wallet, 8, utc(2026, 1, 20), "UTC", batch_id="b", batches=book.live()))
    change = book.apply(w.redeem(EXP, book.wallet, 5, utc(2026, 2, 1), batches=book.live()))
    # The lapsed credit expires in the same change, then the debit comes out of the other.
    assert [(e.kind, e.amount) for e in change.entries] == [("expiry", -10), ("redeem", -5)]
    assert change.conditions == [FigureCondition("balance", "gte", 15)]
    assert figures(book.wallet) == (3, 18, 0, 5, 10, 0)


# ---------------------------------------------------------------- reject reversals


def test_reversal_of_spent_points_goes_negative() -> None:
    book = Book("coins")
    award = book.apply(w.credit(COINS, book.wallet, 100, NOW, "UTC"))
    book.apply(w.redeem(COINS, book.wallet, 80, NOW))
    change = book.apply(w.reverse(COINS, book.wallet, award.entries, NOW, "UTC"))
    assert [(e.amount, e.kind, e.booked_under, e.shortfall) for e in change.entries] == [
        (-100, "reversal", "earned", 0)
    ]
    assert figures(book.wallet) == (-80, 0, 0, 80, 0, 0)


def test_reversal_on_stop_at_zero_stops_and_records_the_shortfall() -> None:
    book = Book("stars")
    award = book.apply(w.credit(STOP, book.wallet, 100, NOW, "UTC"))
    book.apply(w.redeem(STOP, book.wallet, 80, NOW))
    change = book.apply(w.reverse(STOP, book.wallet, award.entries, NOW, "UTC"))
    assert [(e.amount, e.booked_under, e.shortfall) for e in change.entries] == [(-20, "earned", 80)]
    assert change.shortfall == 80
    assert change.conditions == [FigureCondition("balance", "gte", 20)]
    assert figures(book.wallet) == (0, 80, 0, 80, 0, 0)


def test_reversing_a_redeem_lowers_redeemed() -> None:
    book = Book("coins")
    book.apply(w.credit(COINS, book.wallet, 50, NOW, "UTC"))
    spend = book.apply(w.redeem(COINS, book.wallet, 20, NOW))
    book.apply(w.reverse(COINS, book.wallet, spend.entries, NOW, "UTC"))
    assert figures(book.wallet) == (50, 50, 0, 0, 0, 0)


def test_reversing_a_set_decrease_and_a_negative_increment() -> None:
    book = Book("karma")
    book.apply(w.increment(NEG, book.wallet, 30, NOW, "UTC"))
    penalty = book.apply(w.increment(NEG, book.wallet, -10, NOW, "UTC"))
    book.apply(w.reverse(NEG, book.wallet, penalty.entries, NOW, "UTC"))
    assert figures(book.wallet) == (30, 30, 0, 0, 0, 0)


def test_reversing_an_expirable_credit_whose_remainder_lapsed() -> None:
    book = Book("miles")
    award = book.apply(w.credit(EXP, book.wallet, 10, utc(2026, 1, 1, 12), "UTC", batch_id="a"))
    book.apply(w.redeem(EXP, book.wallet, 4, utc(2026, 1, 15), batches=book.live()))
    book.apply(w.expire(EXP, book.wallet, book.live(), utc(2026, 1, 31)))
    assert figures(book.wallet) == (0, 10, 0, 4, 6, 0)
    change = book.apply(
        w.reverse(
            EXP, book.wallet, award.entries, utc(2026, 2, 1), "UTC", batches=list(book.batches.values())
        )
    )
    # As if never earned: nothing earned, nothing expired; the redeem it paid for stays.
    assert figures(book.wallet) == (-4, 0, 0, 4, 0, 0)
    assert [(e.amount, e.booked_under) for e in change.entries] == [(6, "expired"), (-10, "earned")]


def test_a_credit_pays_off_a_negative_balance_before_it_can_expire() -> None:
    book = Book("miles")
    award = book.apply(w.credit(EXP, book.wallet, 10, utc(2026, 1, 1), "UTC", batch_id="a"))
    book.apply(w.redeem(EXP, book.wallet, 10, utc(2026, 1, 2), batches=book.live()))
    book.apply(
        w.reverse(
            EXP, book.wallet, award.entries, utc(2026, 1, 3), "UTC", batches=list(book.batches.values())
        )
    )
    assert book.wallet.balance == -10
    book.apply(w.credit(EXP, book.wallet, 25, utc(2026, 1, 4), "UTC", batch_id="b", batches=book.live()))
    assert book.batches["b"].remaining == 15
    book.apply(w.expire(EXP, book.wallet, book.live(), utc(2026, 3, 1)))
    assert figures(book.wallet) == (0, 25, 0, 10, 15, 0)


def test_wallet_and_point_type_must_agree() -> None:
    with pytest.raises(ValueError):
        w.credit(COINS, Wallet("xp"), 1, NOW, "UTC")
