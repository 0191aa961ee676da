"""The event types of api.md and the notification kind (a user's Settings) each belongs to."""

from __future__ import annotations

from typing import Any

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


def commit_events(*, site: str, activity_id: str, step: str, at: str, ledger: list[dict[str, Any]],
                  balances: dict[tuple[str, str], int | None], notices: list[tuple[str, dict[str, Any]]],
                  ended: str | None) -> list[dict[str, Any]]:
    """The events one commit records, in the contract's order: the wallet changes
    (`points.changed`, one per ledger entry, with the balance the commit leaves), the rewards and
    other notices, then the activity's end (`activity.succeeded|failed|rejected`, whose resource
    the fan-out reads from the activity as stored). Ids come from the activity, the step and the
    position: the same whoever records them, so a retried step cannot make a second event."""
    running = dict(balances)
    bodies: list[tuple[str, dict[str, Any], str | None]] = []
    for row in ledger:
        key = (str(row["uuid"]), str(row["pointId"]))
        before = running.get(key)
        running[key] = None if before is None else before + int(row["amount"])
        bodies.append(("points.changed", {"uuid": key[0], "pointId": key[1], "delta": int(row["amount"]),
                                          "balance": running[key], "kind": row["kind"], "activityId": activity_id},
                       key[0]))
    bodies += [(kind, data, data.get("uuid")) for kind, data in notices]
    if ended is not None:
        bodies.append((f"activity.{ended.lower()}", {"activityId": activity_id}, None))
    return [{"id": f"evt_{activity_id.lower()}_{step}_{n}", "type": kind, "createdAt": at, "site": site,
             "data": data, "about": about} for n, (kind, data, about) in enumerate(bodies)]


def delivered_to(endpoint: dict[str, Any], event: dict[str, Any], preferences: dict[str, dict[str, bool]]) -> bool:
    """Whether an endpoint receives an event: subscribed to its type, and, when it respects
    users' preferences, the user it is about has its kind on (as recorded with the event)."""
    if not endpoint.get("active", True) or not subscribed(list(endpoint.get("events") or []), event["type"]):
        return False
    kind, about = preference_kind(event["type"]), event.get("about")
    if not endpoint.get("respectUserPreferences", True) or kind is None or about is None:
        return True
    return bool((preferences.get(about) or {}).get(kind, True))
