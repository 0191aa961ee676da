"""A gift from the activity's user to another: an optional badge and optional points."""

from __future__ import annotations

from typing import Any

from chalicelib.activities import common
from chalicelib.activities.effects import Context, Effects
from chalicelib.engine import errors as rules
from chalicelib.engine import wallet
from chalicelib.engine.rewards import after_earning, evaluate_rewards
from chalicelib.models.mechanics import Gift
from chalicelib.store.userstate import gift_attr, gift_time_attr


def process(ctx: Context) -> Effects:
    attrs: dict[str, Any] = ctx.activity["attrs"]
    sender = common.load_spender(ctx)
    target_uuid = attrs["targetUuid"]
    target = common.load_receiver(ctx, target_uuid, "a user cannot send a gift to themselves")
    reward_id = attrs.get("rewardId")
    if reward_id is not None and not isinstance(ctx.mechanics.rewards.get(reward_id), Gift):
        raise rules.NotGiftable(f"'{reward_id}' is not a gift reward")
    effects = common.new_effects(ctx, "gift")
    sent: dict[str, int] = {}
    earned: dict[str, int] = {}  # by the target
    for item in attrs.get("points") or []:
        pt = common.point_type(ctx, item["pointId"])
        amount = int(item["points"])
        batches, keys = common.credits_for(ctx, ctx.uuid, pt)
        effects.change_wallet(ctx.uuid, pt, wallet.gift_send(pt, sender.wallet(pt.id), amount, ctx.now,
                                                             batches=batches), keys)
        received = wallet.gift_receive(pt, target.wallet(pt.id), amount, ctx.now, ctx.tz,
                                       batch_id=common.batch_id(ctx, pt.id))
        effects.change_wallet(target_uuid, pt, received)
        earned[pt.id] = received.after.earned - received.before.earned
        sent[pt.id] = amount
    stats: dict[str, int] = {}
    if reward_id:
        stats[gift_attr(reward_id)] = 1
        effects.state_of(target_uuid).add(gift_attr(reward_id), 1)
        effects.state_of(target_uuid).set(gift_time_attr(reward_id), ctx.now_iso)
    effects.measure(target_uuid, "n:gifts", 1)
    effects.extra_record["gift"] = {"target": target_uuid, "stats": stats}
    if reward_id is None:
        # Like a point increment's: what the target's new points could unlock is evaluated here,
        # on the state read plus this gift; only when something can does the rewards step run
        # (a gift badge always goes through it: missions may need it). The sender only spends.
        from chalicelib.activities.rewards import progress_of

        moved = evaluate_rewards(ctx.mechanics, after_earning(progress_of(target), earned), ctx.now, ctx.tz,
                                 ctx.week_start, changed_verbs=[], changed_points=sorted(p for p, n in earned.items() if n))
        effects.rewards_settled = not (moved.unlocked or moved.lost)
    result = common.empty_result()
    result["awarded"]["points"] = common.points_list(sent)
    if reward_id:
        result["awarded"]["rewards"] = [reward_id]
    effects.commit(result)
    return effects
