"""What every activity type's processing shares: state loading, point types, results."""

from __future__ import annotations

from typing import Any

from chalicelib.activities.effects import Context, Effects
from chalicelib.engine import errors as rules
from chalicelib.engine.wallet import CreditBatch
from chalicelib.models.mechanics import PointType
from chalicelib.store import userstate
from chalicelib.store.userstate import UserState


def load_user(ctx: Context, uuid: str) -> UserState:
    state = userstate.load(ctx.site_id, uuid)
    if state is None:
        raise rules.TargetNotFound(f"user '{uuid}' does not exist")
    ctx.states[uuid] = state
    return state


def require_member(state: UserState) -> None:
    if not state.member:
        raise rules.UserNotMember(f"user '{state.uuid}' has opted out (member=false)")


def load_spender(ctx: Context) -> UserState:
    """The activity's user, for an activity that spends: a member, not blocked."""
    state = load_user(ctx, ctx.uuid)
    require_member(state)
    if state.blocked:
        raise rules.UserBlocked(f"user '{ctx.uuid}' is blocked")
    return state


def load_receiver(ctx: Context, target_uuid: str, to_self: str) -> UserState:
    """Another user receiving a gift or a bounty: exists, not the sender, a member, not blocked."""
    if target_uuid == ctx.uuid:
        raise rules.GiftToSelf(to_self)
    target = load_user(ctx, target_uuid)
    if not target.member:
        raise rules.UserNotMember(f"target '{target_uuid}' has opted out (member=false)")
    if target.blocked:
        raise rules.TargetBlocked(f"target '{target_uuid}' is blocked")
    return target


def point_type(ctx: Context, point_id: str) -> PointType:
    found = ctx.mechanics.point_types.get(point_id)
    if found is None:
        raise rules.UnknownPointType(f"no point type '{point_id}'")
    return found


def credits_for(ctx: Context, uuid: str, pt: PointType) -> tuple[list[CreditBatch], dict[str, str]]:
    """Expirable credits are read only where a debit must consume them oldest first."""
    if not pt.expirable:
        return [], {}
    return userstate.load_credits(ctx.site_id, uuid, pt.id)


def reward_notice(ctx: Context, uuid: str, reward_id: str) -> dict[str, Any]:
    """The data of a `reward.*` event about `uuid` (api.md)."""
    reward = ctx.mechanics.rewards.get(reward_id)
    return {"uuid": uuid, "rewardId": reward_id, "kind": getattr(reward, "kind", None),
            "name": getattr(reward, "name", ""), "activityId": ctx.activity_id}


def empty_result(blocked: bool = False) -> dict[str, Any]:
    return {"awarded": {"points": [], "behaviours": [], "rewards": [], "coupons": []},
            "exceptions": [], "blocked": blocked}


def points_list(points: dict[str, int]) -> list[dict[str, Any]]:
    return [{"pointId": pid, "points": amount} for pid, amount in points.items() if amount]


def batch_id(ctx: Context, point_id: str, suffix: str = "") -> str:
    return f"{ctx.activity_id}:{point_id}{suffix}"


def new_effects(ctx: Context, step: str) -> Effects:
    return Effects(ctx, step)
