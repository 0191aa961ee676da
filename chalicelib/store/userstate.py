"""A user's current state: everything under `S#` in their partition, in one Query."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from chalicelib.engine.behaviours import BehaviourUsage
from chalicelib.engine.wallet import CreditBatch, Wallet
from chalicelib.store import db
from chalicelib.store.keys import CREDIT, STATE, user_pk


def parse_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass
class UserState:
    uuid: str
    profile: dict[str, Any]
    wallets: dict[str, Wallet] = field(default_factory=dict)
    verb_counts: dict[str, dict[str, Any]] = field(default_factory=dict)
    usage: dict[str, BehaviourUsage] = field(default_factory=dict)
    rewards: dict[str, dict[str, Any]] = field(default_factory=dict)
    coupons: dict[str, dict[str, Any]] = field(default_factory=dict)
    bounties: dict[str, dict[str, Any]] = field(default_factory=dict)
    scores: dict[str, dict[str, Any]] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def blocked(self) -> bool:
        return bool(self.profile.get("blocked"))

    @property
    def member(self) -> bool:
        return bool(self.profile.get("member", True))

    @property
    def tags(self) -> list[str]:
        return list(self.profile.get("tags") or [])

    def wallet(self, point_id: str) -> Wallet:
        return self.wallets.get(point_id) or Wallet(point_id)


WALLET_FIGURES = ("balance", "earned", "spent", "redeemed", "expired", "adjusted")


def state_from_items(uuid: str, items: list[dict[str, Any]]) -> UserState | None:
    profile = next((i for i in items if i["SK"] == "S#PROFILE"), None)
    if profile is None:
        return None
    state = UserState(uuid, profile)
    for item in items:
        sk: str = item["SK"]
        kind, _, rest = sk[2:].partition("#")
        if kind == "W":
            state.wallets[rest] = Wallet(rest, *(int(item.get(f, 0)) for f in WALLET_FIGURES))
        elif kind == "C":
            state.verb_counts[rest] = item
        elif kind == "U":
            state.usage[rest] = BehaviourUsage(
                int(item.get("total", 0)),
                {k: int(v) for k, v in (item.get("byPeriod") or {}).items()},
                parse_time(item.get("lastAwardedAt")),
            )
        elif kind == "R":
            state.rewards[rest] = item
        elif kind == "Q":
            state.coupons[rest] = item
        elif kind == "Y":
            state.bounties[rest] = item
        elif kind == "K":
            state.scores[rest] = item
        elif sk == "S#STATS":
            state.stats = item
    return state


def load(site: str, uuid: str) -> UserState | None:
    items = db.query_all(
        key_condition="PK = :pk AND begins_with(SK, :s)",
        values={":pk": user_pk(site, uuid), ":s": STATE},
    )
    return state_from_items(uuid, items)


def load_credits(site: str, uuid: str, point_id: str) -> tuple[list[CreditBatch], dict[str, str]]:
    """Unconsumed expirable credits of one point type, earliest expiry first, and their keys."""
    items = db.query_all(
        key_condition="PK = :pk AND begins_with(SK, :p)",
        values={":pk": user_pk(site, uuid), ":p": f"{CREDIT}{point_id}#"},
    )
    batches, keys = [], {}
    for item in items:
        if int(item.get("remaining", 0)) <= 0 and int(item.get("expired", 0)) <= 0:
            continue
        earned_at = parse_time(item["earnedAt"])
        expires_at = parse_time(item["expiresAt"])
        assert earned_at is not None and expires_at is not None
        batches.append(CreditBatch(item["batchId"], earned_at, expires_at, int(item["amount"]),
                                   int(item["remaining"]), int(item.get("expired", 0))))
        keys[item["batchId"]] = item["SK"]
    return batches, keys
