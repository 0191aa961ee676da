"""The values the tab routes accept, apart from the tab code so that routes stay light to import."""

from __future__ import annotations

ACTIVITY_TYPES = ("behaviour", "point", "coupon", "gift", "bounty")
ACTIVITY_STATUSES = ("QUEUED", "PROCESSING", "SUCCEEDED", "FAILED", "REJECTED")
ACTIVITY_SORTS = ("createdAt", "type", "status")
KPI_PERIODS = ("daily", "weekly", "monthly", "quarterly", "yearly")
BOUNTY_STATUSES = ("open", "cancelled", "awarded", "rejected")
