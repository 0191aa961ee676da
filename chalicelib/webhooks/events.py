"""The event types of api.md and the notification kind (a user's Settings) each belongs to."""

from __future__ import annotations

EVENT_TYPES = (
    "activity.succeeded", "activity.failed", "activity.rejected", "points.changed", "points.expired",
    "reward.unlocked", "reward.revoked", "coupon.acquired", "coupon.redeemed", "coupon.refunded",
    "gift.received", "bounty.awarded", "bounty.cancelled", "kpi.met", "leaderboard.closed", "webhook.test",
)
# Events of these families are about one user and filtered by that user's preferences; the
# others (activity.*, leaderboard.closed, webhook.test) are not.
PREFERENCE_OF = {"reward": "rewards", "points": "points", "gift": "gifts", "coupon": "coupons",
                 "bounty": "bounties", "kpi": "kpis"}


def subscribed(events: list[str], event_type: str) -> bool:
    """Whether an endpoint's `events` take `event_type` (`*`: every type; a test event always)."""
    return event_type == "webhook.test" or "*" in events or event_type in events


def preference_kind(event_type: str) -> str | None:
    """The notification kind of a user's settings an event type belongs to, if any."""
    return PREFERENCE_OF.get(event_type.split(".", 1)[0])
