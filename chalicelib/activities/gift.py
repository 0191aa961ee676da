"""A gift from the activity's user to another: an optional badge and optional points."""

from __future__ import annotations

from typing import Any

from chalicelib.activities import common
from chalicelib.activities.effects import Context, Effects
from chalicelib.engine import errors as rules
from chalicelib.engine import wallet
from chalicelib.models.mechanics import Gift
from chalicelib.store import db
from chalicelib.store.keys import STATS_SK, user_pk


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
    for item in attrs.get("points") or []:
        pt = common.point_type(ctx, item["pointId"])
        amount = int(item["points"])
        batches, keys = common.credits_for(ctx, ctx.uuid, pt)
        effects.change_wallet(ctx.uuid, pt, wallet.gift_send(pt, sender.wallet(pt.id), amount, ctx.now,
                                                             batches=batches), keys)
        effects.change_wallet(target_uuid, pt, wallet.gift_receive(
            pt, target.wallet(pt.id), amount, ctx.now, ctx.tz, batch_id=common.batch_id(ctx, pt.id)))
        sent[pt.id] = amount
    stats: dict[str, int] = {"giftsReceived": 1}
    if reward_id:
        stats[f"g:{reward_id}"] = 1
    names = {f"#s{i}": k for i, k in enumerate(stats)}
    effects.ops.append(db.tx_update(user_pk(ctx.site_id, target_uuid), STATS_SK,
                                    "ADD " + ", ".join(f"#s{i} :s{i}" for i in range(len(stats))),
                                    values={f":s{i}": v for i, v in enumerate(stats.values())}, names=names))
    effects.measure(target_uuid, "n:gifts", 1)
    effects.extra_record["gift"] = {"target": target_uuid, "stats": stats}
    result = common.empty_result()
    result["awarded"]["points"] = common.points_list(sent)
    if reward_id:
        result["awarded"]["rewards"] = [reward_id]
    effects.commit(result)
    return effects
