"""Response shapes of the user details page: summary, the eight tabs, bounties, standings.

These document the wire in OpenAPI (api.md, "Users" and "The eight tabs"); the domain builds
plain dicts of exactly these shapes.
"""

from __future__ import annotations

from typing import Literal

from chalicelib.engine.wallet import EntryKind, Figure
from chalicelib.models.activities import Activity
from chalicelib.models.base import CalendarDay, ResponseModel, Timestamp
from chalicelib.models.mechanics import RewardKind
from chalicelib.models.users import User


class Stat(ResponseModel):
    count: int
    recent: bool
    """True when the category gained an item in the last 720 hours (KPIs: a target met)."""


class Stats(ResponseModel):
    activities: Stat
    rewards: Stat
    achievements: Stat
    levels: Stat
    gifts: Stat
    missions: Stat
    kpis: Stat
    coupons: Stat


class Summary(ResponseModel):
    user: User
    stats: Stats


class Wallet(ResponseModel):
    point_id: str
    name: str
    balance: int
    earned: int
    spent: int
    redeemed: int
    expired: int
    adjusted: int


class LedgerEntry(ResponseModel):
    id: str
    point_id: str
    amount: int
    kind: EntryKind
    booked_under: Figure
    activity_id: str
    at: Timestamp
    expires_at: Timestamp | None
    shortfall: int


class LedgerPage(ResponseModel):
    items: list[LedgerEntry]
    next_cursor: str | None


class PointsTab(ResponseModel):
    items: list[Wallet]
    ledger: LedgerPage


class Criterion(ResponseModel):
    label: str
    current: int
    required: int
    done: bool


class RewardEntry(ResponseModel):
    reward_id: str
    kind: RewardKind
    name: str
    criteria: list[Criterion]
    completed_at: Timestamp | None


class RewardsTab(ResponseModel):
    completed: list[RewardEntry]
    in_progress: list[RewardEntry]
    available: list[RewardEntry]


class KpiPeriod(ResponseModel):
    start: CalendarDay
    end: CalendarDay
    value: int
    target: int | None
    percent: int | None
    met: bool | None


class KpiEntry(ResponseModel):
    kpi_id: str
    name: str
    periods: list[KpiPeriod]


class KpisTab(ResponseModel):
    items: list[KpiEntry]


class UserCoupon(ResponseModel):
    user_coupon_id: str
    coupon_id: str
    name: str
    code: str
    acquired_at: Timestamp
    acquired_by: Literal["purchase", "award"]
    points_spent: int
    redeemed_at: Timestamp | None
    expires_at: Timestamp | None
    status: Literal["available", "redeemed", "expired", "refunded"]


class CouponsTab(ResponseModel):
    items: list[UserCoupon]


class LeaderboardPosition(ResponseModel):
    leaderboard_id: str
    name: str
    period: Literal["daily", "weekly", "monthly", "allTime"]
    rank: int | None
    score: int
    previous_rank: int | None
    change: int | None
    new: bool
    ranked_at: Timestamp | None


class LeaderboardsTab(ResponseModel):
    items: list[LeaderboardPosition]


class Overview(ResponseModel):
    recent_activities: list[Activity]
    balances: list[Wallet]
    coupons: list[UserCoupon]
    rewards: list[RewardEntry]
    leaderboards: list[LeaderboardPosition]


class BountyPoints(ResponseModel):
    """Points a bounty holds in escrow (its own name: generators key models by title, and a second
    `PointAmount`, the request's, made one of them drop the bounty models)."""

    point_id: str
    points: int


class Bounty(ResponseModel):
    bounty_id: str
    points: list[BountyPoints]
    reason: str
    status: Literal["open", "cancelled", "awarded", "rejected"]
    created_at: Timestamp
    awarded_to: str | None


class BountyList(ResponseModel):
    items: list[Bounty]
    next_cursor: str | None


class Standing(ResponseModel):
    rank: int
    uuid: str
    display_name: str
    score: int


class Standings(ResponseModel):
    items: list[Standing]
    next_cursor: str | None
