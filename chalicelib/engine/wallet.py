"""Wallet arithmetic: what one movement of points writes to the ledger and the wallet.

Every function takes the wallet as read and returns a `WalletChange`: the ledger entries to
append, the wallet deltas, and the conditions that must still hold on the stored wallet when
the store applies them in one conditional transaction (so two debits racing for the same
points cannot both succeed; the store never read-modify-writes a balance).

Sign convention: an entry's `amount` is what it adds to the balance. Each entry is booked under
one figure; `earned` moves by `+amount`, every other figure by `-amount` (a debit of 10 booked
under `redeemed` has amount -10 and raises `redeemed` by 10; a refund of 4 has amount +4 and
lowers it by 4). Hence `balance == earned - spent - redeemed - expired - adjusted` and
`balance == sum(ledger amounts)` hold after any sequence of entries.

Expirable types keep credit batches (one per credit entry, keyed by that entry's id): debits
consume the batch expiring first, and expiry takes only a batch's unconsumed remainder. Credits
that expired before a debit is processed are expired first, in the same change, so a debit can
never spend points that had already lapsed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

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
from chalicelib.engine.periods import expiry_instant
from chalicelib.models.mechanics import PointType

Figure = Literal["earned", "spent", "redeemed", "expired", "adjusted"]
FIGURES: tuple[Figure, ...] = ("earned", "spent", "redeemed", "expired", "adjusted")
EntryKind = Literal[
    "credit",
    "increment",
    "set",
    "redeem",
    "refund",
    "gift_in",
    "gift_out",
    "bounty_escrow",
    "bounty_refund",
    "bounty_payout",
    "coupon_buy",
    "coupon_refund",
    "expiry",
    "reversal",
]


@dataclass(frozen=True)
class Wallet:
    """One user's figures for one point type (derived from the ledger, rebuildable from it)."""

    point_id: str
    balance: int = 0
    earned: int = 0
    spent: int = 0
    redeemed: int = 0
    expired: int = 0
    adjusted: int = 0

    def figure(self, name: Figure) -> int:
        value: int = getattr(self, name)
        return value

    def consistent(self) -> bool:
        return self.balance == self.earned - self.spent - self.redeemed - self.expired - self.adjusted


@dataclass(frozen=True)
class CreditBatch:
    """The part of one expirable credit that is still unspent (`remaining`) or has lapsed."""

    batch_id: str
    earned_at: dt.datetime
    expires_at: dt.datetime
    amount: int
    remaining: int
    expired: int = 0


@dataclass(frozen=True)
class LedgerEntry:
    """One immutable movement of points. The store adds user, activity id, time and entry id."""

    point_id: str
    amount: int
    kind: EntryKind
    booked_under: Figure
    expires_at: dt.datetime | None = None
    """Set on credits of expirable types: when this credit's remainder expires."""
    batch_id: str | None = None
    """The credit batch this entry created (credits) or expired (expiry entries)."""
    shortfall: int = 0
    """On stopAtZero reversals: the part that could not be taken back."""


@dataclass(frozen=True)
class FigureCondition:
    """`figure >= value` (op "gte") or `figure == value` (op "eq") on the stored wallet."""

    figure: Literal["balance", "earned", "spent", "redeemed", "expired", "adjusted"]
    op: Literal["gte", "eq"]
    value: int


@dataclass(frozen=True)
class BatchUpdate:
    """Take `consumed` (spent) and `expired` out of a batch's remaining."""

    batch_id: str
    consumed: int = 0
    expired: int = 0


@dataclass(frozen=True)
class WalletChange:
    point_id: str
    before: Wallet
    after: Wallet
    entries: list[LedgerEntry]
    conditions: list[FigureCondition]
    new_batches: list[CreditBatch] = field(default_factory=list)
    batch_updates: list[BatchUpdate] = field(default_factory=list)

    @property
    def deltas(self) -> dict[str, int]:
        """What to ADD to each stored figure (balance included); zero deltas left out."""
        out: dict[str, int] = {}
        for name in ("balance", *FIGURES):
            d = getattr(self.after, name) - getattr(self.before, name)
            if d:
                out[name] = d
        return out

    @property
    def shortfall(self) -> int:
        return sum(e.shortfall for e in self.entries)


class _Change:
    """Accumulates entries while keeping the wallet and the batches up to date."""

    def __init__(self, point_type: PointType, wallet: Wallet, batches: Iterable[CreditBatch]) -> None:
        if wallet.point_id != point_type.id:
            raise ValueError(f"wallet of '{wallet.point_id}' used with point type '{point_type.id}'")
        self.pt = point_type
        self.before = wallet
        self.wallet = wallet
        self.entries: list[LedgerEntry] = []
        self.conditions: list[FigureCondition] = []
        self.batches: dict[str, CreditBatch] = {b.batch_id: b for b in batches if b.remaining > 0}
        self.new_batches: list[CreditBatch] = []
        self.updates: dict[str, tuple[int, int]] = {}

    def book(self, entry: LedgerEntry) -> None:
        w = self.wallet
        fig = entry.booked_under
        moved = entry.amount if fig == "earned" else -entry.amount
        f = {name: w.figure(name) for name in FIGURES}
        f[fig] += moved
        self.wallet = Wallet(
            w.point_id,
            w.balance + entry.amount,
            f["earned"],
            f["spent"],
            f["redeemed"],
            f["expired"],
            f["adjusted"],
        )
        self.entries.append(entry)

    def _update(self, batch: CreditBatch, consumed: int = 0, expired: int = 0) -> None:
        remaining = batch.remaining - consumed - expired
        updated = replace(batch, remaining=remaining, expired=batch.expired + expired)
        if batch.batch_id in self.batches:
            self.batches[batch.batch_id] = updated
        c, e = self.updates.get(batch.batch_id, (0, 0))
        self.updates[batch.batch_id] = (c + consumed, e + expired)

    def expire_due(self, now: dt.datetime) -> None:
        if not self.pt.expirable:
            return
        for batch in sorted(self.batches.values(), key=lambda b: (b.expires_at, b.batch_id)):
            if batch.expires_at <= now and batch.remaining > 0:
                self.book(
                    LedgerEntry(self.pt.id, -batch.remaining, "expiry", "expired", batch_id=batch.batch_id)
                )
                self._update(batch, expired=batch.remaining)

    def consume(self, amount: int, first: str | None = None) -> None:
        """Take `amount` out of the batches, `first` (if given) then earliest expiry first."""
        if not self.pt.expirable or amount <= 0:
            return
        order = sorted(self.batches.values(), key=lambda b: (b.batch_id != first, b.expires_at, b.batch_id))
        for batch in order:
            if amount <= 0:
                break
            take = min(batch.remaining, amount)
            if take > 0:
                self._update(batch, consumed=take)
                amount -= take

    def credit(
        self, amount: int, kind: EntryKind, booked: Figure, now: dt.datetime, tz: str, batch_id: str
    ) -> None:
        expires_at = None
        if self.pt.expirable:
            days = self.pt.expires_after_days or 0
            expires_at = expiry_instant(now, days, tz)
            # A credit pays off a negative balance first: only what is left over can expire.
            debt = max(0, -self.wallet.balance)
            remaining = max(0, amount - debt)
            batch = CreditBatch(batch_id, now, expires_at, amount, remaining)
            self.new_batches.append(batch)
            if remaining:
                self.batches[batch_id] = batch
        self.book(
            LedgerEntry(self.pt.id, amount, kind, booked, expires_at, batch_id if self.pt.expirable else None)
        )

    def debit(self, amount: int, kind: EntryKind, booked: Figure) -> None:
        """A debit that must be covered by the balance (condition `balance >= amount`)."""
        if self.wallet.balance < amount:
            raise InsufficientPoints(f"{self.pt.name}: balance {self.wallet.balance} is less than {amount}")
        # The stored balance must still cover what this change takes, counted from the
        # balance as read (expiry entries in the same change have already lowered ours).
        self.conditions.append(
            FigureCondition("balance", "gte", self.before.balance - self.wallet.balance + amount)
        )
        self.consume(amount)
        self.book(LedgerEntry(self.pt.id, -amount, kind, booked))

    def result(self) -> WalletChange:
        return WalletChange(
            self.pt.id,
            self.before,
            self.wallet,
            self.entries,
            self.conditions,
            self.new_batches,
            [BatchUpdate(bid, c, e) for bid, (c, e) in self.updates.items()],
        )


def _positive(amount: int, what: str) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidAmount(f"{what} must be a positive integer, not {amount!r}")


# ---------------------------------------------------------------- earning


def credit(
    point_type: PointType,
    wallet: Wallet,
    amount: int,
    now: dt.datetime,
    tz: str,
    *,
    kind: EntryKind = "credit",
    batch_id: str = "",
    batches: Sequence[CreditBatch] = (),
) -> WalletChange:
    """Points earned (behaviour and reward prizes, gifts and bounties received): `earned`."""
    _positive(amount, "points")
    change = _Change(point_type, wallet, batches)
    change.credit(amount, kind, "earned", now, tz, batch_id)
    return change.result()


def increment(
    point_type: PointType,
    wallet: Wallet,
    amount: int,
    now: dt.datetime,
    tz: str,
    *,
    batch_id: str = "",
    batches: Sequence[CreditBatch] = (),
) -> WalletChange:
    """The point action `increment`: positive books `earned`; negative books `adjusted` and
    is allowed only on negativeable types, where it may take the balance below zero."""
    if isinstance(amount, bool) or not isinstance(amount, int) or amount == 0:
        raise InvalidAmount(f"points must be a non-zero integer, not {amount!r}")
    change = _Change(point_type, wallet, batches)
    if amount > 0:
        change.credit(amount, "increment", "earned", now, tz, batch_id)
        return change.result()
    if not point_type.negativeable:
        raise NegativeNotAllowed(f"{point_type.name} does not take negative increments")
    change.expire_due(now)
    change.consume(-amount)
    change.book(LedgerEntry(point_type.id, amount, "increment", "adjusted"))
    return change.result()


def set_balance(point_type: PointType, wallet: Wallet, amount: int, now: dt.datetime) -> WalletChange:
    """The point action `set`: an increase books `earned`, a decrease `adjusted`.

    Refused on expirable types (a set balance has no earned date to expire from). The store
    must apply it only if the balance is still the one read (condition `balance == read`).
    """
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise InvalidAmount(f"points must be an integer >= 0, not {amount!r}")
    if point_type.expirable:
        raise SetOnExpirable(f"{point_type.name} expires: its balance cannot be set")
    change = _Change(point_type, wallet, ())
    change.conditions.append(FigureCondition("balance", "eq", wallet.balance))
    diff = amount - wallet.balance
    if diff > 0:
        change.book(LedgerEntry(point_type.id, diff, "set", "earned"))
    elif diff < 0:
        change.book(LedgerEntry(point_type.id, diff, "set", "adjusted"))
    return change.result()


# ---------------------------------------------------------------- spending


def redeem(
    point_type: PointType,
    wallet: Wallet,
    amount: int,
    now: dt.datetime,
    *,
    batches: Sequence[CreditBatch] = (),
) -> WalletChange:
    """The point action `redeem`: books `redeemed`; needs a redeemable type and the points."""
    _positive(amount, "points")
    if not point_type.redeemable:
        raise NotRedeemable(f"{point_type.name} is not redeemable")
    change = _Change(point_type, wallet, batches)
    change.expire_due(now)
    change.debit(amount, "redeem", "redeemed")
    return change.result()


def refund(
    point_type: PointType,
    wallet: Wallet,
    amount: int,
    now: dt.datetime,
    tz: str,
    *,
    batch_id: str = "",
    batches: Sequence[CreditBatch] = (),
) -> WalletChange:
    """The point action `refund`: gives back redeemed points (never more than were redeemed).

    On expirable types the refunded points form a new credit that expires counted from now.
    """
    _positive(amount, "points")
    if not point_type.redeemable:
        raise NotRedeemable(f"{point_type.name} is not redeemable")
    if amount > wallet.redeemed:
        raise RefundExceedsRedeemed(f"{point_type.name}: refund {amount} exceeds redeemed {wallet.redeemed}")
    change = _Change(point_type, wallet, batches)
    change.conditions.append(FigureCondition("redeemed", "gte", amount))
    change.credit(amount, "refund", "redeemed", now, tz, batch_id)
    return change.result()


def _spend(
    point_type: PointType,
    wallet: Wallet,
    amount: int,
    now: dt.datetime,
    kind: EntryKind,
    batches: Sequence[CreditBatch],
) -> WalletChange:
    _positive(amount, "points")
    change = _Change(point_type, wallet, batches)
    change.expire_due(now)
    change.debit(amount, kind, "spent")
    return change.result()


def _give_back(
    point_type: PointType,
    wallet: Wallet,
    amount: int,
    now: dt.datetime,
    tz: str,
    kind: EntryKind,
    batch_id: str,
    batches: Sequence[CreditBatch],
) -> WalletChange:
    # Spent is "net of refunds and cancellations": giving back lowers `spent`.
    _positive(amount, "points")
    change = _Change(point_type, wallet, batches)
    change.credit(amount, kind, "spent", now, tz, batch_id)
    return change.result()


def gift_send(
    point_type: PointType,
    wallet: Wallet,
    amount: int,
    now: dt.datetime,
    *,
    batches: Sequence[CreditBatch] = (),
) -> WalletChange:
    """The sender's side of a gift: books `spent`."""
    if not point_type.giftable:
        raise NotGiftable(f"{point_type.name} cannot be gifted")
    return _spend(point_type, wallet, amount, now, "gift_out", batches)


def gift_receive(
    point_type: PointType, wallet: Wallet, amount: int, now: dt.datetime, tz: str, *, batch_id: str = ""
) -> WalletChange:
    """The target's side of a gift: books `earned`."""
    if not point_type.giftable:
        raise NotGiftable(f"{point_type.name} cannot be gifted")
    return credit(point_type, wallet, amount, now, tz, kind="gift_in", batch_id=batch_id)


def bounty_escrow(
    point_type: PointType,
    wallet: Wallet,
    amount: int,
    now: dt.datetime,
    *,
    batches: Sequence[CreditBatch] = (),
) -> WalletChange:
    """Bounty `start`: the offerer's points go into escrow, booked `spent`."""
    if not point_type.bountiable:
        raise NotBountiable(f"{point_type.name} cannot be put into a bounty")
    return _spend(point_type, wallet, amount, now, "bounty_escrow", batches)


def bounty_cancel(
    point_type: PointType,
    wallet: Wallet,
    amount: int,
    now: dt.datetime,
    tz: str,
    *,
    batch_id: str = "",
    batches: Sequence[CreditBatch] = (),
) -> WalletChange:
    """Bounty `cancel`: escrow back to the offerer, lowering `spent`."""
    if not point_type.bountiable:
        raise NotBountiable(f"{point_type.name} cannot be put into a bounty")
    return _give_back(point_type, wallet, amount, now, tz, "bounty_refund", batch_id, batches)


def bounty_payout(
    point_type: PointType, wallet: Wallet, amount: int, now: dt.datetime, tz: str, *, batch_id: str = ""
) -> WalletChange:
    """Bounty `award`: the escrow is paid to the target, booked `earned`."""
    if not point_type.bountiable:
        raise NotBountiable(f"{point_type.name} cannot be put into a bounty")
    return credit(point_type, wallet, amount, now, tz, kind="bounty_payout", batch_id=batch_id)


def coupon_buy(
    point_type: PointType,
    wallet: Wallet,
    price: int,
    now: dt.datetime,
    *,
    batches: Sequence[CreditBatch] = (),
) -> WalletChange:
    """Buying a priced coupon: books `spent` (prices are on redeemable types only)."""
    if not point_type.redeemable:
        raise NotRedeemable(f"{point_type.name} is not redeemable")
    return _spend(point_type, wallet, price, now, "coupon_buy", batches)


def coupon_refund(
    point_type: PointType,
    wallet: Wallet,
    price: int,
    now: dt.datetime,
    tz: str,
    *,
    batch_id: str = "",
    batches: Sequence[CreditBatch] = (),
) -> WalletChange:
    """Taking back a purchased coupon: its price returns, lowering `spent`."""
    return _give_back(point_type, wallet, price, now, tz, "coupon_refund", batch_id, batches)


# ---------------------------------------------------------------- expiry and reversal


def expire(
    point_type: PointType, wallet: Wallet, batches: Sequence[CreditBatch], now: dt.datetime
) -> WalletChange:
    """The expiry job: every batch due by `now` loses its unconsumed remainder (`expired`)."""
    change = _Change(point_type, wallet, batches)
    change.expire_due(now)
    lapsing = wallet.balance - change.wallet.balance
    if lapsing:
        # The remainders must still be there when the store writes (a concurrent debit may
        # have consumed them): the store also conditions each batch's `remaining`.
        change.conditions.append(FigureCondition("balance", "gte", lapsing))
    return change.result()


def reverse(
    point_type: PointType,
    wallet: Wallet,
    entries: Sequence[LedgerEntry],
    now: dt.datetime,
    tz: str,
    *,
    batches: Sequence[CreditBatch] = (),
    batch_id: str = "",
) -> WalletChange:
    """Compensating entries for a rejected activity's entries (or a revoked reward's prizes).

    Each reversal lowers the figure its original was booked under, as if it never happened.
    A reversal may take the balance below zero, except on stopAtZero types, where it stops at
    zero and records the part it could not take back as `shortfall`. Reversing an expirable
    credit whose remainder already expired also takes that part back out of `expired`.
    Points a reversal gives back (a reversed redeem) form a new credit on expirable types.
    """
    change = _Change(point_type, wallet, batches)
    known = {b.batch_id: b for b in batches}
    for original in entries:
        if original.point_id != point_type.id or original.amount == 0:
            continue
        amount = -original.amount
        if amount > 0:
            change.credit(
                amount, "reversal", original.booked_under, now, tz, f"{batch_id}#{len(change.entries)}"
            )
            continue
        take = -amount
        lapsed = 0
        own = known.get(original.batch_id or "")
        if own is not None and original.booked_under == "earned":
            # The lapsed part of this credit would not have lapsed either: undo it in `expired`.
            lapsed = min(own.expired, take)
        balance_drop = take - lapsed
        shortfall = 0
        if point_type.stop_at_zero:
            available = max(0, change.wallet.balance)
            shortfall = max(0, balance_drop - available)
            balance_drop -= shortfall
        if lapsed:
            change.book(LedgerEntry(point_type.id, lapsed, "reversal", "expired"))
        change.consume(balance_drop, first=original.batch_id)
        change.book(
            LedgerEntry(
                point_type.id,
                -(lapsed + balance_drop),
                "reversal",
                original.booked_under,
                shortfall=shortfall,
            )
        )
    taken = wallet.balance - change.wallet.balance
    if point_type.stop_at_zero and taken > 0:
        # The clamp was computed from the balance as read; it must still be there.
        change.conditions.append(FigureCondition("balance", "gte", taken))
    return change.result()


def rebuild_wallet(point_id: str, entries: Iterable[LedgerEntry]) -> Wallet:
    """The wallet the ledger implies (for audits and for rebuilding a damaged wallet item)."""
    figures = dict.fromkeys(FIGURES, 0)
    balance = 0
    for e in entries:
        balance += e.amount
        figures[e.booked_under] += e.amount if e.booked_under == "earned" else -e.amount
    return Wallet(point_id, balance, **figures)
