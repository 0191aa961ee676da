"""Small builders for engine tests: mechanics from their wire shapes (api.md)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from chalicelib.models.mechanics import (
    BEHAVIOUR_ADAPTER,
    REWARD_ADAPTER,
    Coupon,
    Kpi,
    Leaderboard,
    PointType,
    SiteMechanics,
)


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)  # type: ignore[misc]


def point(id: str, **flags: Any) -> PointType:
    return PointType.model_validate({"id": id, "name": id.upper(), **flags})


def simple(id: str, verb: str | None = None, points: dict[str, int] | None = None, **extra: Any) -> Any:
    body = {
        "id": id,
        "kind": "simple",
        "verb": verb or id,
        "name": id.replace("_", " ").title(),
        "prizes": {"points": [{"pointId": p, "points": n} for p, n in (points or {}).items()]},
        **extra,
    }
    return BEHAVIOUR_ADAPTER.validate_python(body)


def flexible(
    id: str, verb: str, conditions: dict[str, Any], points: dict[str, int] | None = None, **extra: Any
) -> Any:
    body = {
        "id": id,
        "kind": "flexible",
        "verb": verb,
        "name": id,
        "conditions": conditions,
        "prizes": {"points": [{"pointId": p, "points": n} for p, n in (points or {}).items()]},
        **extra,
    }
    return BEHAVIOUR_ADAPTER.validate_python(body)


def reward(body: dict[str, Any]) -> Any:
    return REWARD_ADAPTER.validate_python({"name": body["id"].title(), **body})


def kpi(body: dict[str, Any]) -> Kpi:
    return Kpi.model_validate({"name": body["id"], **body})


def coupon(body: dict[str, Any]) -> Coupon:
    return Coupon.model_validate({"name": body["id"], **body})


def board(body: dict[str, Any]) -> Leaderboard:
    return Leaderboard.model_validate({"name": body["id"], **body})


def site(**kinds: list[Any]) -> SiteMechanics:
    return SiteMechanics(**kinds)
