"""Reversals as conditional store operations: each one holds only on the state it reverses.

A reject (or the compensation of a failed activity) reads the user, decides what to undo and
commits it in one transaction. Between that read and the commit, another activity may use
what is being reversed: a bought coupon redeemed, a bounty awarded, a reward's completions
changed. Each operation here therefore carries the condition "what I reverse is still as the
activity left it", inside the same transaction as the points it returns, so that no
interleaving can hand out goods whose payment comes back.

A failed condition means one of two things, and each `Guarded` says which:
- a `refusal` (the thing was used: the reversal must not happen until that use is undone),
  which a reject reports as `NotRejectable`;
- a conflict (`refusal is None`: something moved that a fresh read accounts for), which the
  step retries after reading again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.store import db
from chalicelib.store.keys import bounty_sk, reward_sk, user_coupon_sk, user_pk


@dataclass(frozen=True)
class Guarded:
    """One TransactWriteItems operation and what its condition failing means."""

    op: dict[str, Any]
    refusal: str | None = None  # None: a conflict to retry on a fresh read


def take_back_coupon(site: str, owner: str, user_coupon_id: str, *, acquired_status: str, activity_id: str,
                     now_iso: str) -> Guarded:
    """A coupon the activity handed out becomes `refunded`, only while still as handed out.

    `available` for a purchase or an award; `redeemed` by the acquisition itself for a
    one-step purchase (no `redeemedBy`, or this activity). Redeemed since, refunded or
    otherwise changed: the reversal is refused.
    """
    condition = "#s = :as"
    values: dict[str, Any] = {":r": "refunded", ":now": now_iso, ":as": acquired_status}
    if acquired_status == "redeemed":
        condition += " AND (attribute_not_exists(redeemedBy) OR redeemedBy = :null OR redeemedBy = :me)"
        values.update({":null": None, ":me": activity_id})
    return Guarded(
        db.tx_update(user_pk(site, owner), user_coupon_sk(user_coupon_id), "SET #s = :r, rejectedAt = :now",
                     values=values, names={"#s": "status"}, condition=condition),
        refusal=f"coupon {user_coupon_id} is no longer {acquired_status}: a later activity used it")


def restore_coupon_status(site: str, owner: str, user_coupon_id: str, *, back: str, now: str,
                          activity_id: str) -> Guarded:
    """A coupon the activity moved (`back` -> `now`, e.g. redeemed) returns to `back`."""
    expression, values = "SET #s = :back", dict[str, Any]({":back": back, ":now": now})
    if now == "redeemed":  # the redeem never happened: no trace of it stays on the coupon
        expression, values = expression + ", redeemedAt = :null REMOVE redeemedBy", {**values, ":null": None}
    return Guarded(
        db.tx_update(user_pk(site, owner), user_coupon_sk(user_coupon_id), expression,
                     values=values, names={"#s": "status"}, condition="#s = :now"),
        refusal=f"coupon {user_coupon_id} is no longer {now} since activity {activity_id}: a later activity "
                "changed it")


def withdraw_bounty(site: str, owner: str, bounty_id: str) -> Guarded:
    """A bounty start is undone only while the bounty is still open (escrow untouched)."""
    return Guarded(
        db.tx_update(user_pk(site, owner), bounty_sk(bounty_id), "SET #s = :r",
                     values={":r": "rejected", ":open": "open"}, names={"#s": "status"}, condition="#s = :open"),
        refusal=f"bounty {bounty_id} is no longer open: a later activity awarded or cancelled it")


def reopen_bounty(site: str, owner: str, bounty_id: str, *, closed_as: str, closed_by: str) -> Guarded:
    """An award or cancel is undone only while the bounty is still closed by that activity."""
    return Guarded(
        db.tx_update(user_pk(site, owner), bounty_sk(bounty_id),
                     "SET #s = :open, awardedTo = :none REMOVE closedAt, closedBy",
                     values={":open": "open", ":none": None, ":closed": closed_as, ":by": closed_by},
                     names={"#s": "status"}, condition="#s = :closed AND closedBy = :by"),
        refusal=f"bounty {bounty_id} is no longer {closed_as} by activity {closed_by}")


def remove_completion(site: str, uuid: str, reward_id: str, index: int, completed_at: str) -> Guarded:
    """Revoke one completion of a reward: the element at `index` must be the one read."""
    return Guarded(
        db.tx_update(user_pk(site, uuid), reward_sk(reward_id), f"REMOVE completions[{index}]",
                     values={":at": completed_at}, names={"#at": "at"},
                     condition=f"completions[{index}].#at = :at"))
