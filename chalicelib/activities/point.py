"""A point activity: increment, set, redeem or refund on one or more wallets."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from chalicelib.activities import common
from chalicelib.activities.effects import Context, Effects
from chalicelib.engine import errors as rules
from chalicelib.engine import wallet
from chalicelib.engine.rewards import after_earning, evaluate_rewards

EARNING = ("increment", "set")


def process(ctx: Context) -> Effects:
    attrs: dict[str, Any] = ctx.activity["attrs"]
    action = attrs["action"]
    state = common.load_user(ctx, ctx.uuid)
    common.require_member(state)
    effects = common.new_effects(ctx, "point")
    if state.blocked:
        if action in EARNING:
            effects.commit(common.empty_result(blocked=True))
            return effects
        raise rules.UserBlocked(f"user '{ctx.uuid}' is blocked")
    awarded: dict[str, int] = {}
    wallets = dict(state.wallets)
    for item in attrs["points"]:
        pt = common.point_type(ctx, item["pointId"])
        amount = int(item["points"])
        current = state.wallet(pt.id)
        batches, keys = common.credits_for(ctx, ctx.uuid, pt)
        bid = common.batch_id(ctx, pt.id)
        if action == "increment":
            change = wallet.increment(pt, current, amount, ctx.now, ctx.tz, batch_id=bid, batches=batches)
        elif action == "set":
            change = wallet.set_balance(pt, current, amount, ctx.now)
        elif action == "redeem":
            change = wallet.redeem(pt, current, amount, ctx.now, batches=batches)
        else:
            change = wallet.refund(pt, current, amount, ctx.now, ctx.tz, batch_id=bid, batches=batches)
        effects.change_wallet(ctx.uuid, pt, change, keys)
        wallets[pt.id] = change.after
        awarded[pt.id] = change.after.balance - change.before.balance
    result = common.empty_result()
    if action in EARNING:
        result["awarded"]["points"] = common.points_list({k: v for k, v in awarded.items() if v > 0})
    if action == "increment":
        # As the behaviour step does: the rewards on the user as read plus the points this commit
        # earns are what the rewards step would read back and decide; what unlocks or lapses on
        # them is settled in this same commit, and the finish rides in it.
        from chalicelib.activities.rewards import progress_of, settle_in

        earned = {e["pointId"]: 0 for e in effects.ledger if e["bookedUnder"] == "earned"}
        for entry in effects.ledger:
            if entry["bookedUnder"] == "earned":
                earned[entry["pointId"]] += int(entry["amount"])
        moved = evaluate_rewards(ctx.mechanics, after_earning(progress_of(state), earned), ctx.now, ctx.tz,
                                 ctx.week_start, changed_verbs=[], changed_points=sorted(earned))
        moves = bool(moved.unlocked or moved.lost)
        effects.rewards_settled = not moves or settle_in(effects, replace(state, wallets=wallets), moved)
    effects.commit(result)
    return effects
