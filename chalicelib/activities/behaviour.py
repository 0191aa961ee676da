"""A behaviour activity: award the simple behaviour and every matching flexible one."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from chalicelib.activities import common
from chalicelib.activities.effects import Context, Effects
from chalicelib.activities.rewards import progress_of, settle_in
from chalicelib.engine import wallet
from chalicelib.engine.behaviours import apply_tags, evaluate_behaviour
from chalicelib.engine.periods import period_key
from chalicelib.engine.rewards import after_behaviour, evaluate_rewards
from chalicelib.store import db, userstate
from chalicelib.store.keys import PROFILE_SK, user_pk

# A verb's count is kept per day, week and month too, for achievements that repeat per period.
COUNT_PERIODS = userstate.COUNT_GRANULARITIES


def process(ctx: Context) -> Effects:
    attrs: dict[str, Any] = ctx.activity["attrs"]
    state = common.load_user(ctx, ctx.uuid)
    common.require_member(state)
    verb = attrs["verb"]
    effects = common.new_effects(ctx, "behaviour")
    if state.blocked:
        if not ctx.mechanics.has_verb(verb):
            from chalicelib.engine.errors import UnknownBehaviour

            raise UnknownBehaviour(f"no behaviour with verb '{verb}'")
        effects.commit(common.empty_result(blocked=True))
        return effects
    outcome = evaluate_behaviour(ctx.mechanics, verb, attrs.get("metadata") or {}, ctx.now, ctx.tz,
                                 state.usage, ctx.week_start)
    points = dict(outcome.points)
    for adhoc in attrs.get("adhocPoints") or []:
        points[adhoc["pointId"]] = points.get(adhoc["pointId"], 0) + adhoc["points"]
    earned: dict[str, int] = {}
    wallets = dict(state.wallets)
    for point_id, amount in points.items():
        pt = common.point_type(ctx, point_id)
        change = wallet.credit(pt, state.wallet(point_id), amount, ctx.now, ctx.tz,
                               batch_id=common.batch_id(ctx, point_id))
        effects.change_wallet(ctx.uuid, pt, change)
        wallets[point_id] = change.after
        if change.after.earned != change.before.earned:
            earned[point_id] = change.after.earned - change.before.earned
    pk = user_pk(ctx.site_id, ctx.uuid)
    for behaviour_id, usage in outcome.usage.items():
        userstate.set_usage(effects.state_of(ctx.uuid), behaviour_id, usage.total,
                            {k: v for k, v in usage.by_period.items() if k in outcome.usage_period_keys.values()},
                            last_awarded_at=ctx.now_iso)
    # The verb's counts (all time, and the day, week and month that repeating achievements
    # read) are this measure's figures on the user's state item.
    counter_keys = {f"p:{period_key(p, ctx.now, ctx.tz, ctx.week_start)}" for p in COUNT_PERIODS}
    effects.measure(ctx.uuid, f"beh:{verb}", 1)
    effects.extra_record["verb"] = verb
    effects.extra_record["usage"] = {bid: outcome.usage_period_keys.get(bid) for bid in outcome.usage}
    tags = state.tags
    if outcome.add_tags or outcome.remove_tags:
        tags = apply_tags(state.tags, outcome.add_tags, outcome.remove_tags)
        effects.extra_record["tags"] = {"before": state.tags, "after": tags}
    # The rewards on the state read here plus this activity's own changes are what the rewards
    # step would read back after this commit and decide. When something unlocks or lapses,
    # it is settled in this same commit (rewards.settle_in); otherwise there is nothing to
    # settle. (Other users' activities that change this user, a gift say, evaluate this user
    # in their own rewards step.)
    after = after_behaviour(progress_of(state), verb, [k[2:] for k in counter_keys], earned, tags)
    moved = evaluate_rewards(ctx.mechanics, after, ctx.now, ctx.tz, ctx.week_start, changed_verbs=[verb],
                             changed_points=effects.changed()["points"])
    moves = bool(moved.unlocked or moved.lost)
    settled = moves and settle_in(effects, replace(state, wallets=wallets, profile={**state.profile, "tags": tags}),
                                  moved)
    if tags != state.tags and not (settled and (moved.add_tags or moved.remove_tags)):
        # (When the settled rewards change the tags too, their update carries the final ones:
        # one update of the profile per transaction.)
        effects.ops.append(db.tx_update(pk, PROFILE_SK, "SET tags = :t", values={":t": tags}))
    effects.rewards_settled = settled or not moves
    # Boards with tags rank only users having one: a tag change moves who is ranked.
    effects.retagged = tags != state.tags or bool(settled and (moved.add_tags or moved.remove_tags))
    result = common.empty_result()
    result["awarded"]["points"] = common.points_list(points)
    result["awarded"]["behaviours"] = [a.behaviour_id for a in outcome.awarded]
    result["exceptions"] = [{"verb": e.verb, "type": e.type, "message": e.message, "behaviourId": e.behaviour_id}
                            for e in outcome.exceptions]
    effects.commit(result)
    return effects
