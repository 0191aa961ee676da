"""Bounties: points held in escrow by the offerer, then cancelled back or awarded to another user.

The bounty item lives in the offerer's partition; every state change is conditional on the
bounty still being `open`, so a cancel and an award racing (or one retried) win exactly once.
"""

from __future__ import annotations

from typing import Any

from chalicelib.activities import common
from chalicelib.activities.effects import Context, Effects
from chalicelib.engine import errors as rules
from chalicelib.engine import wallet
from chalicelib.store import db
from chalicelib.store.keys import bounty_sk, user_pk


def process(ctx: Context) -> Effects:
    attrs: dict[str, Any] = ctx.activity["attrs"]
    offerer = common.load_spender(ctx)
    action = attrs["action"]
    effects = common.new_effects(ctx, "bounty")
    pk = user_pk(ctx.site_id, ctx.uuid)
    result = common.empty_result()
    if action == "start":
        escrow: dict[str, int] = {}
        for item in attrs["points"]:
            pt = common.point_type(ctx, item["pointId"])
            batches, keys = common.credits_for(ctx, ctx.uuid, pt)
            effects.change_wallet(ctx.uuid, pt, wallet.bounty_escrow(pt, offerer.wallet(pt.id), int(item["points"]),
                                                                     ctx.now, batches=batches), keys)
            escrow[pt.id] = int(item["points"])
        effects.ops.append(db.tx_put({
            "PK": pk, "SK": bounty_sk(ctx.activity_id), "bountyId": ctx.activity_id, "points": escrow,
            "reason": ctx.activity.get("reason", ""), "status": "open", "createdAt": ctx.now_iso,
            "awardedTo": None}, condition="attribute_not_exists(PK)"))
        effects.extra_record["bounty"] = {"id": ctx.activity_id, "action": "start"}
        effects.commit(result)
        return effects

    bounty_id = attrs["bountyId"]
    bounty = offerer.bounties.get(bounty_id)
    if bounty is None:
        raise rules.BountyNotFound(f"user '{ctx.uuid}' has no bounty '{bounty_id}'")
    if bounty["status"] != "open":
        raise rules.BountyNotOpen(f"bounty '{bounty_id}' is {bounty['status']}")
    escrow = {k: int(v) for k, v in bounty["points"].items()}
    if action == "cancel":
        for point_id, amount in escrow.items():
            pt = common.point_type(ctx, point_id)
            effects.change_wallet(ctx.uuid, pt, wallet.bounty_cancel(
                pt, offerer.wallet(pt.id), amount, ctx.now, ctx.tz, batch_id=common.batch_id(ctx, pt.id)))
        new_status, awarded_to = "cancelled", None
    else:
        target_uuid = attrs["targetUuid"]
        target = common.load_receiver(ctx, target_uuid, "a bounty cannot be awarded to its offerer")
        for point_id, amount in escrow.items():
            pt = common.point_type(ctx, point_id)
            effects.change_wallet(target_uuid, pt, wallet.bounty_payout(
                pt, target.wallet(pt.id), amount, ctx.now, ctx.tz, batch_id=common.batch_id(ctx, pt.id)))
        result["awarded"]["points"] = common.points_list(escrow)
        new_status, awarded_to = "awarded", target_uuid
    effects.ops.append(db.tx_update(
        pk, bounty_sk(bounty_id), "SET #s = :new, awardedTo = :to, closedAt = :now, closedBy = :act",
        values={":new": new_status, ":to": awarded_to, ":now": ctx.now_iso, ":act": ctx.activity_id,
                ":open": "open"},
        names={"#s": "status"}, condition="#s = :open"))
    effects.extra_record["bounty"] = {"id": bounty_id, "action": action, "target": awarded_to}
    effects.commit(result)
    return effects
