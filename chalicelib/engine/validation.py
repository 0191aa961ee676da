"""Whether a mechanic can work on its site: the checks that need the other mechanics.

The pydantic models refuse a bad shape; these functions refuse what is well-formed but cannot
work (a criterion naming an unknown verb, a price in a non-redeemable type, overlapping KPI
targets...). Each `Problem` names the offending field as a dotted path into the mechanic's
JSON body (camelCase, list indexes as numbers), ready for the error's `details`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from chalicelib.models.mechanics import (
    Achievement,
    AssignEveryone,
    AssignTags,
    AssignUsers,
    Coupon,
    FlexibleBehaviour,
    Gift,
    Kpi,
    KpiTarget,
    Leaderboard,
    Level,
    Mechanic,
    MechanicKind,
    Mission,
    PointType,
    RanksByBehaviour,
    RanksByPoints,
    SimpleBehaviour,
    SiteMechanics,
    TracksBehaviour,
    TracksPoints,
    TracksReward,
)

ProblemType = Literal["ValidationError", "TargetsOverlap", "AlreadyExists", "ReferencedBy"]


@dataclass(frozen=True)
class Problem:
    field: str
    message: str
    status: Literal[400, 409] = 400
    type: ProblemType = "ValidationError"


def _invalid(field: str, message: str) -> Problem:
    return Problem(field, message, 400, "ValidationError")


def validate_mechanic(
    kind: MechanicKind, mechanic: Mechanic, site: SiteMechanics, *, creating: bool = False
) -> list[Problem]:
    """Problems with saving `mechanic` (POST when `creating`, else PUT) on `site` as it is now.

    An empty list means it can be saved. When problems of several statuses come back, answer
    with the first one's status and type (409s are listed after 400s only when both occur).
    """
    problems: list[Problem] = []
    existing = site.get(kind, mechanic.id)
    if creating and existing is not None:
        problems.append(Problem("id", f"{kind}/{mechanic.id} already exists", 409, "AlreadyExists"))
    candidate = site.with_mechanic(kind, mechanic)
    if isinstance(mechanic, PointType):
        problems += _point_type(mechanic, candidate)
    elif isinstance(mechanic, SimpleBehaviour | FlexibleBehaviour):
        problems += _behaviour(mechanic, existing, site, candidate)
    elif isinstance(mechanic, Achievement | Level | Mission | Gift):
        problems += _reward(mechanic, candidate)
    elif isinstance(mechanic, Kpi):
        problems += _kpi(mechanic, candidate)
    elif isinstance(mechanic, Coupon):
        problems += _coupon(mechanic, candidate)
    elif isinstance(mechanic, Leaderboard):
        problems += _leaderboard(mechanic, candidate)
    return sorted(problems, key=lambda p: p.status)


def validate_delete(kind: MechanicKind, mechanic_id: str, site: SiteMechanics) -> list[Problem]:
    """A 409 ReferencedBy per mechanic still referring to the one to delete."""
    return [
        Problem("id", f"referred to by {ref}", 409, "ReferencedBy")
        for ref in referrers(kind, mechanic_id, site)
    ]


# ---------------------------------------------------------------- per kind


def _point_type(p: PointType, site: SiteMechanics) -> list[Problem]:
    out: list[Problem] = []
    if p.expirable and not p.expires_after_days:
        out.append(_invalid("expiresAfterDays", "an expirable point type needs expiresAfterDays > 0"))
    if not p.expirable and p.expires_after_days is not None:
        out.append(_invalid("expiresAfterDays", "only an expirable point type takes expiresAfterDays"))
    if p.expirable and p.negativeable:
        # Expiry takes the unspent remainder of each credit; a negative balance has none, so
        # the two would disagree about what a penalty means.
        out.append(_invalid("negativeable", "an expirable point type cannot be negativeable"))
    if p.negativeable and p.stop_at_zero:
        out.append(_invalid("stopAtZero", "a negativeable point type cannot also stop at zero"))
    if not p.redeemable:
        for coupon in site.coupons.values():
            if coupon.price is not None and coupon.price.point_id == p.id:
                out.append(
                    _invalid("redeemable", f"coupons/{coupon.id} is priced in it, so it must stay redeemable")
                )
    return out


def _points_exist(prefix: str, point_ids: Iterable[str], site: SiteMechanics) -> list[Problem]:
    return [
        _invalid(f"{prefix}.{i}.pointId", f"unknown point type '{pid}'")
        for i, pid in enumerate(point_ids)
        if pid not in site.point_types
    ]


def _verb_users(verb: str, site: SiteMechanics) -> list[str]:
    """Mechanics that depend on a verb existing (flexible children, criteria, KPIs, boards)."""
    refs = [f"behaviours/{b.id}" for b in site.flexible_by_verb.get(verb, [])]
    refs += [f"rewards/{r.id}" for r in site.achievements_by_verb.get(verb, [])]
    refs += [
        f"kpis/{k.id}"
        for k in site.kpis.values()
        if isinstance(k.tracks, TracksBehaviour) and k.tracks.behaviour == verb
    ]
    refs += [
        f"leaderboards/{b.id}"
        for b in site.leaderboards.values()
        if isinstance(b.ranks_by, RanksByBehaviour) and b.ranks_by.behaviour == verb
    ]
    return list(dict.fromkeys(refs))


def _behaviour(
    b: SimpleBehaviour | FlexibleBehaviour,
    existing: Mechanic | None,
    site: SiteMechanics,
    candidate: SiteMechanics,
) -> list[Problem]:
    out = _points_exist("prizes.points", (p.point_id for p in b.prizes.points), candidate)
    if isinstance(b, SimpleBehaviour):
        for other in candidate.behaviours.values():
            if isinstance(other, SimpleBehaviour) and other.id != b.id and other.verb == b.verb:
                out.append(
                    Problem("verb", f"verb '{b.verb}' is already behaviours/{other.id}", 409, "AlreadyExists")
                )
    elif not candidate.has_verb(b.verb):
        out.append(
            _invalid(
                "verb", f"a flexible behaviour extends a simple one: no simple behaviour has verb '{b.verb}'"
            )
        )
    if isinstance(existing, SimpleBehaviour) and not candidate.has_verb(existing.verb):
        # Renaming the verb (or turning it flexible) would strand what counts the old verb.
        refs = [r for r in _verb_users(existing.verb, site) if r != f"behaviours/{b.id}"]
        if refs:
            out.append(
                Problem("verb", f"verb '{existing.verb}' is used by {', '.join(refs)}", 409, "ReferencedBy")
            )
    return out


def _reward(r: Achievement | Level | Mission | Gift, site: SiteMechanics) -> list[Problem]:
    out = _points_exist("prizes.points", (p.point_id for p in r.prizes.points), site)
    out += [
        _invalid(f"prizes.coupons.{i}", f"unknown coupon '{cid}'")
        for i, cid in enumerate(r.prizes.coupons)
        if cid not in site.coupons
    ]
    if isinstance(r, Achievement):
        out += [
            _invalid(f"criteria.{i}.verb", f"no simple behaviour has verb '{c.verb}'")
            for i, c in enumerate(r.criteria)
            if not site.has_verb(c.verb)
        ]
    elif isinstance(r, Level):
        out += _points_exist("criteria", (c.point_id for c in r.criteria), site)
        others = [
            lv for lv in site.ladders.get(r.ladder, []) if lv.id != r.id and lv.can_demote != r.can_demote
        ]
        if others:
            out.append(
                _invalid(
                    "canDemote",
                    f"every level of ladder '{r.ladder}' must agree: rewards/{others[0].id} differs",
                )
            )
    elif isinstance(r, Mission):
        for i, c in enumerate(r.criteria):
            if c.reward_id not in site.rewards:
                out.append(_invalid(f"criteria.{i}.rewardId", f"unknown reward '{c.reward_id}'"))
            elif (path := _path_back(c.reward_id, r.id, site)) is not None:
                chain = " -> ".join([r.id, *path])
                out.append(_invalid(f"criteria.{i}.rewardId", f"a mission cannot contain itself ({chain})"))
    return out


def _path_back(start: str, target: str, site: SiteMechanics) -> list[str] | None:
    """A chain of mission criteria from `start` leading back to `target`, if any."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        rid, path = stack.pop()
        if rid == target:
            return path
        if rid in seen:
            continue
        seen.add(rid)
        reward = site.rewards.get(rid)
        if isinstance(reward, Mission):
            stack.extend((c.reward_id, [*path, c.reward_id]) for c in reward.criteria)
    return None


def _assignees(target: KpiTarget) -> set[str]:
    a = target.assign_to
    if isinstance(a, AssignEveryone):
        return {"everyone"}
    if isinstance(a, AssignUsers):
        return {f"user '{u}'" for u in a.users}
    assert isinstance(a, AssignTags)
    return {f"tag '{t}'" for t in a.tags}


def _kpi(k: Kpi, site: SiteMechanics) -> list[Problem]:
    out: list[Problem] = []
    tracks = k.tracks
    if isinstance(tracks, TracksPoints) and tracks.points not in site.point_types:
        out.append(_invalid("tracks.points", f"unknown point type '{tracks.points}'"))
    if isinstance(tracks, TracksBehaviour) and not (
        site.has_verb(tracks.behaviour) or tracks.behaviour in site.behaviours
    ):
        out.append(_invalid("tracks.behaviour", f"no behaviour or verb '{tracks.behaviour}'"))
    if isinstance(tracks, TracksReward) and tracks.reward not in site.rewards:
        out.append(_invalid("tracks.reward", f"unknown reward '{tracks.reward}'"))
    for i, t in enumerate(k.targets):
        if t.valid_from > t.valid_to:
            out.append(_invalid(f"targets.{i}.validTo", "validTo must not be before validFrom"))
    for j, later in enumerate(k.targets):
        for i in range(j):
            earlier = k.targets[i]
            if later.valid_from > earlier.valid_to or earlier.valid_from > later.valid_to:
                continue
            shared = _assignees(earlier) & _assignees(later)
            if shared:
                out.append(
                    Problem(
                        f"targets.{j}.validFrom",
                        f"overlaps targets.{i} for {sorted(shared)[0]} "
                        f"({max(earlier.valid_from, later.valid_from)} to {min(earlier.valid_to, later.valid_to)})",
                        409,
                        "TargetsOverlap",
                    )
                )
                break
    return out


def _coupon(c: Coupon, site: SiteMechanics) -> list[Problem]:
    out: list[Problem] = []
    if c.price is not None:
        pt = site.point_types.get(c.price.point_id)
        if pt is None:
            out.append(_invalid("price.pointId", f"unknown point type '{c.price.point_id}'"))
        elif not pt.redeemable:
            out.append(_invalid("price.pointId", f"point type '{pt.id}' is not redeemable"))

    def field_of(i: int) -> str:
        return "code" if c.code_type == "single" else f"codes.{i}"

    seen: set[str] = set()
    taken = {
        code: other.id for other in site.coupons.values() if other.id != c.id for code in other.all_codes()
    }
    for i, code in enumerate(c.all_codes()):
        if code in seen:
            out.append(_invalid(field_of(i), f"code '{code}' is listed twice"))
        seen.add(code)
        if code in taken:
            out.append(
                Problem(field_of(i), f"code '{code}' belongs to coupons/{taken[code]}", 409, "AlreadyExists")
            )
    return out


def _leaderboard(b: Leaderboard, site: SiteMechanics) -> list[Problem]:
    rb = b.ranks_by
    if isinstance(rb, RanksByPoints) and rb.points not in site.point_types:
        return [_invalid("ranksBy.points", f"unknown point type '{rb.points}'")]
    if isinstance(rb, RanksByBehaviour) and not site.has_verb(rb.behaviour):
        return [_invalid("ranksBy.behaviour", f"no simple behaviour has verb '{rb.behaviour}'")]
    return []


# ---------------------------------------------------------------- who refers to whom


def referrers(kind: MechanicKind, mechanic_id: str, site: SiteMechanics) -> list[str]:
    """Every mechanic that refers to the given one, as "rewards/starter" (for 409 ReferencedBy)."""
    refs: list[str] = []
    if kind == "point-types":
        for b in site.behaviours.values():
            if any(p.point_id == mechanic_id for p in b.prizes.points):
                refs.append(f"behaviours/{b.id}")
        for r in site.rewards.values():
            if any(p.point_id == mechanic_id for p in r.prizes.points) or (
                isinstance(r, Level) and any(c.point_id == mechanic_id for c in r.criteria)
            ):
                refs.append(f"rewards/{r.id}")
        refs += [
            f"kpis/{k.id}"
            for k in site.kpis.values()
            if isinstance(k.tracks, TracksPoints) and k.tracks.points == mechanic_id
        ]
        refs += [
            f"coupons/{c.id}"
            for c in site.coupons.values()
            if c.price is not None and c.price.point_id == mechanic_id
        ]
        refs += [
            f"leaderboards/{b.id}"
            for b in site.leaderboards.values()
            if isinstance(b.ranks_by, RanksByPoints) and b.ranks_by.points == mechanic_id
        ]
    elif kind == "behaviours":
        behaviour = site.behaviours.get(mechanic_id)
        if isinstance(behaviour, SimpleBehaviour):
            refs += [r for r in _verb_users(behaviour.verb, site) if r != f"behaviours/{mechanic_id}"]
        refs += [
            f"kpis/{k.id}"
            for k in site.kpis.values()
            if isinstance(k.tracks, TracksBehaviour) and k.tracks.behaviour == mechanic_id
        ]
    elif kind == "rewards":
        refs += [f"rewards/{m.id}" for m in site.missions_by_reward.get(mechanic_id, [])]
        refs += [
            f"kpis/{k.id}"
            for k in site.kpis.values()
            if isinstance(k.tracks, TracksReward) and k.tracks.reward == mechanic_id
        ]
    elif kind == "coupons":
        refs += [f"rewards/{r.id}" for r in site.rewards.values() if mechanic_id in r.prizes.coupons]
    return list(dict.fromkeys(refs))
