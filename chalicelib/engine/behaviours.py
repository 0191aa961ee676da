"""Behaviour matching: which behaviours one behaviour activity awards, and what they give.

Pure: the caller passes the site's mechanics, the activity's metadata, the instant it is
processed at, the site's zone and the user's usage counters; the outcome says what to write.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from chalicelib.engine.errors import UnknownBehaviour
from chalicelib.engine.periods import WeekStart, local_date, period_key, zone
from chalicelib.models.mechanics import (
    AndCondition,
    Condition,
    ConditionLeaf,
    FlexibleBehaviour,
    OrCondition,
    SimpleBehaviour,
    SiteMechanics,
)

# ---------------------------------------------------------------- conditions


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same_kind(a: object, b: object) -> bool:
    # Numbers compare with numbers, strings with strings, booleans with booleans; anything
    # else is a mismatch, which never matches (no coercion of "5" to 5, no exceptions).
    if _is_number(a):
        return _is_number(b)
    return type(a) is type(b) and isinstance(a, str | bool)


def _temporal(value: object) -> dt.date | dt.datetime | None:
    if isinstance(value, dt.datetime | dt.date):
        return value
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        if len(value) == 10:
            return dt.date.fromisoformat(value)
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None


def _as_local_date(value: dt.date | dt.datetime, tz: str) -> dt.date:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            return value.date()
        return value.astimezone(zone(tz)).date()
    return value


def _as_instant(value: dt.datetime) -> dt.datetime:
    # A date-time without an offset is taken as UTC, the API's convention for times.
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _compare_temporal(op: str, actual: object, expected: object, tz: str) -> bool:
    a, e = _temporal(actual), _temporal(expected)
    if a is None or e is None:
        return False
    if op == "on" or not (isinstance(a, dt.datetime) and isinstance(e, dt.datetime)):
        # A bare date on either side means the comparison is about site-local calendar days.
        ad, ed = _as_local_date(a, tz), _as_local_date(e, tz)
        return ad == ed if op == "on" else (ad < ed if op == "before" else ad > ed)
    ai, ei = _as_instant(a), _as_instant(e)
    return ai < ei if op == "before" else ai > ei


def _leaf_matches_value(leaf: ConditionLeaf, actual: object, tz: str) -> bool:
    op, expected = leaf.op, leaf.value
    if op in ("before", "after", "on"):
        return _compare_temporal(op, actual, expected, tz)
    if op == "in":
        assert isinstance(expected, list)
        return any(_same_kind(actual, v) and actual == v for v in expected)
    if op == "contains":
        return isinstance(actual, str) and isinstance(expected, str) and expected in actual
    if not _same_kind(actual, expected):
        return False
    if op == "eq":
        return actual == expected
    if op == "ne":
        return actual != expected
    if isinstance(actual, bool):
        return False  # booleans have no order
    a: Any = actual
    if op == "gt":
        return bool(a > expected)
    if op == "gte":
        return bool(a >= expected)
    if op == "lt":
        return bool(a < expected)
    return bool(a <= expected)


_MISSING = object()


def _lookup(metadata: Mapping[str, Any], key: str) -> object:
    if key in metadata:
        return metadata[key]
    # Dotted keys reach into nested objects ("device.os"), the way integrators send metadata.
    node: object = metadata
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _MISSING
        node = node[part]
    return node


def condition_matches(condition: Condition, metadata: Mapping[str, Any], tz: str = "UTC") -> bool:
    """Whether a condition tree holds for an activity's metadata.

    A missing key never matches (whatever the op, `ne` included); a list value matches when
    any of its elements does.
    """
    if isinstance(condition, AndCondition):
        return all(condition_matches(c, metadata, tz) for c in condition.and_)
    if isinstance(condition, OrCondition):
        return any(condition_matches(c, metadata, tz) for c in condition.or_)
    actual = _lookup(metadata, condition.key)
    if actual is _MISSING:
        return False
    if isinstance(actual, list | tuple):
        return any(_leaf_matches_value(condition, element, tz) for element in actual)
    return _leaf_matches_value(condition, actual, tz)


# ---------------------------------------------------------------- usage and outcome


@dataclass(frozen=True)
class BehaviourUsage:
    """How often one behaviour was awarded to one user.

    `by_period` maps period keys (`periods.period_key`) to award counts; the store only needs
    to keep the current key of the behaviour's periodic limit.
    """

    total: int = 0
    by_period: Mapping[str, int] = field(default_factory=dict)
    last_awarded_at: dt.datetime | None = None


ExceptionType = Literal["LimitReached", "CoolOff"]


@dataclass(frozen=True)
class BehaviourException:
    """A matched behaviour that a limit or cool-off kept from awarding (the activity succeeds)."""

    verb: str
    type: ExceptionType
    message: str
    behaviour_id: str


@dataclass(frozen=True)
class AwardedBehaviour:
    behaviour_id: str
    kind: Literal["simple", "flexible"]
    name: str
    points: Mapping[str, int]


@dataclass(frozen=True)
class BehaviourOutcome:
    verb: str
    awarded: list[AwardedBehaviour]
    exceptions: list[BehaviourException]
    points: dict[str, int]
    """Points awarded, summed per point type (one entry per type, as api.md reports them)."""
    add_tags: list[str]
    remove_tags: list[str]
    usage: dict[str, BehaviourUsage]
    """New usage of every awarded behaviour (others are unchanged)."""
    usage_period_keys: dict[str, str]
    """The period key each awarded behaviour's periodic counter moved in (for an atomic ADD)."""


def _times(n: int) -> str:
    """How often, as people say it: "once", "5 times" (these messages reach the console as is)."""
    return "once" if n == 1 else f"{n} times"


def _blocked_by(
    behaviour: SimpleBehaviour | FlexibleBehaviour,
    usage: BehaviourUsage,
    period: str | None,
    now: dt.datetime,
) -> BehaviourException | None:
    limits = behaviour.limits
    if limits.overall is not None and usage.total >= limits.overall:
        return BehaviourException(
            behaviour.verb,
            "LimitReached",
            f"'{behaviour.name}' can be awarded at most {_times(limits.overall)}",
            behaviour.id,
        )
    if (
        limits.periodic is not None
        and period is not None
        and usage.by_period.get(period, 0) >= limits.periodic.max
    ):
        return BehaviourException(
            behaviour.verb,
            "LimitReached",
            f"'{behaviour.name}' can be awarded at most {_times(limits.periodic.max)} per {limits.periodic.period}",
            behaviour.id,
        )
    if limits.cool_off_seconds and usage.last_awarded_at is not None:
        wait = usage.last_awarded_at + dt.timedelta(seconds=limits.cool_off_seconds) - now
        if wait > dt.timedelta(0):
            return BehaviourException(
                behaviour.verb,
                "CoolOff",
                f"'{behaviour.name}' is cooling off for another {int(wait.total_seconds()) + 1} s",
                behaviour.id,
            )
    return None


def evaluate_behaviour(
    site: SiteMechanics,
    verb: str,
    metadata: Mapping[str, Any],
    now: dt.datetime,
    tz: str,
    usage: Mapping[str, BehaviourUsage],
    week_start: WeekStart = "monday",
) -> BehaviourOutcome:
    """Award the simple behaviour of `verb` and every flexible child whose conditions match.

    Each behaviour's limits are its own: a parent held back by its limit does not hold back a
    child, and the other way round. Raises UnknownBehaviour when the site has no such verb.
    """
    simple = site.simple_by_verb.get(verb)
    if simple is None:
        raise UnknownBehaviour(f"no behaviour with verb '{verb}'")
    local_date(now, tz)  # fail early on a naive `now`
    candidates: list[SimpleBehaviour | FlexibleBehaviour] = [simple]
    candidates.extend(
        b for b in site.flexible_by_verb.get(verb, ()) if condition_matches(b.conditions, metadata, tz)
    )

    awarded: list[AwardedBehaviour] = []
    exceptions: list[BehaviourException] = []
    points: dict[str, int] = {}
    tag_changes: dict[str, bool] = {}
    new_usage: dict[str, BehaviourUsage] = {}
    period_keys: dict[str, str] = {}
    empty = BehaviourUsage()
    for behaviour in candidates:
        current = usage.get(behaviour.id, empty)
        periodic = behaviour.limits.periodic
        key = period_key(periodic.period, now, tz, week_start) if periodic else None
        blocked = _blocked_by(behaviour, current, key, now)
        if blocked is not None:
            exceptions.append(blocked)
            continue
        prize_points: dict[str, int] = {}
        for prize in behaviour.prizes.points:
            prize_points[prize.point_id] = prize_points.get(prize.point_id, 0) + prize.points
            points[prize.point_id] = points.get(prize.point_id, 0) + prize.points
        # Later behaviours win a tag conflict: the simple one first, children in site order.
        for tag in behaviour.prizes.add_tags:
            tag_changes[tag] = True
        for tag in behaviour.prizes.remove_tags:
            tag_changes[tag] = False
        awarded.append(AwardedBehaviour(behaviour.id, behaviour.kind, behaviour.name, prize_points))
        by_period = dict(current.by_period)
        if key is not None:
            by_period[key] = by_period.get(key, 0) + 1
            period_keys[behaviour.id] = key
        new_usage[behaviour.id] = BehaviourUsage(current.total + 1, by_period, now)

    return BehaviourOutcome(
        verb=verb,
        awarded=awarded,
        exceptions=exceptions,
        points=points,
        add_tags=[t for t, add in tag_changes.items() if add],
        remove_tags=[t for t, add in tag_changes.items() if not add],
        usage=new_usage,
        usage_period_keys=period_keys,
    )


def apply_tags(tags: list[str], add: list[str], remove: list[str]) -> list[str]:
    """A user's tags after a tag prize: order kept, additions appended, no duplicates."""
    removed = set(remove)
    result = [t for t in tags if t not in removed]
    result.extend(t for t in add if t not in result and t not in removed)
    return result
