"""The rewards step: unlock what the activity made reachable, cascading, and pay the prizes."""

from __future__ import annotations

import copy
from typing import Any

from chalicelib.activities import common, coupon
from chalicelib.activities.effects import MAX_TRANSACTION_ITEMS, Context, Effects
from chalicelib.engine import errors as rules
from chalicelib.engine import wallet
from chalicelib.engine.behaviours import apply_tags
from chalicelib.engine.rewards import (
    Completion,
    RewardOutcome,
    RewardRecord,
    UserProgress,
    VerbCount,
    evaluate_rewards,
)
from chalicelib.observability import logger
from chalicelib.store import db
from chalicelib.store.keys import PROFILE_SK, reward_sk, user_pk
from chalicelib.store.userstate import UserState, parse_time

# What a commit adds to its steps' own operations: the activity's marker, one update per state
# item, the buckets of ended periods, the finish's marker delete and a target's copy.
FOLD_MARGIN = 12
# Why a prize coupon cannot be handed out (coupon.acquire): the reward is unlocked without it and
# the activity's result carries the refusal. Nothing else is caught: a throttle or a conflict
# must reach the step's retries.
UNAVAILABLE = (rules.CouponInactive, rules.CouponExpired, rules.CouponLimitReached, rules.CouponSoldOut)


def progress_of(state: UserState) -> UserProgress:
    """The engine's view of a user, built from the `S#` items."""
    counts = {
        verb: VerbCount(int(item.get("total", 0)),
                        {k[2:]: int(v) for k, v in item.items() if k.startswith("p:")})
        for verb, item in state.verb_counts.items()
    }
    records = {}
    for reward_id, item in state.rewards.items():
        completions = []
        for c in item.get("completions") or []:
            at = parse_time(c["at"])
            assert at is not None
            completions.append(Completion(at, {k: int(v) for k, v in (c.get("verbCounts") or {}).items()}))
        records[reward_id] = RewardRecord(reward_id, tuple(completions), parse_time(item.get("lostAt")))
    gifts = {k[2:]: int(v) for k, v in state.stats.items() if k.startswith("g:")}
    return UserProgress(
        uuid=state.uuid, tags=tuple(state.tags), behaviour_counts=counts,
        earned={pid: w.earned for pid, w in state.wallets.items()},
        expired={pid: w.expired for pid, w in state.wallets.items()},
        rewards=records, gifts_received=gifts,
        gifts_received_at={rid: at for rid, raw in state.gifts_received_at.items() if (at := parse_time(raw))},
    )


def process(ctx: Context, uuids: list[str], changed_verbs: list[str], changed_points: list[str],
            changed_rewards: list[str]) -> Effects:
    effects = Effects(ctx, "rewards")
    summary = _summary()
    for uuid in uuids:
        state = common.load_user(ctx, uuid)
        if state.blocked or not state.member:
            continue
        unlock_for(ctx, effects, state, summary, changed_verbs if uuid == ctx.uuid else [],
                   changed_points, changed_rewards if uuid != ctx.uuid else [])
    if not (effects.ops or effects.state):
        return effects  # nothing unlocked: no write (and nothing a retry could apply twice)
    effects.commit(_result(summary))
    return effects


def settle_in(effects: Effects, state: UserState, outcome: RewardOutcome) -> bool:
    """The rewards step's work for the activity's own user, in the type step's commit: False
    (nothing changed) when the two would not fit one transaction, and the rewards step then
    commits them on its own, as before.

    `outcome` is the rewards evaluated on `state` (the user as the step read them, with the
    step's own wallet credits and tags) plus the step's other changes (its verb counted): what
    the rewards step would read back after the type step's commit and decide
    (`test_the_behaviour_step_foresees_the_state_the_rewards_step_reads`). Committing it in the
    same transaction guards it as the rewards step's own commit is guarded: each unlock is
    conditional on the reward's completions as read (never unlocked twice), prizes are ADDs,
    and a condition that fails cancels the type step's effects with it, so the step re-reads.
    """
    ctx = effects.ctx
    rewards = Effects(ctx, "rewards", state=copy.deepcopy(effects.state))
    summary = _summary()
    unlock_for(ctx, rewards, state, summary, [], [], [], outcome=outcome)
    if len(effects.ops) + len(rewards.ops) > MAX_TRANSACTION_ITEMS - FOLD_MARGIN:
        return False
    effects.absorb(rewards, _result(summary))
    return True


def _summary() -> dict[str, Any]:
    return {"points": {}, "rewards": [], "coupons": [], "lost": [], "exceptions": []}


def _result(summary: dict[str, Any]) -> dict[str, Any]:
    return {"points": common.points_list(summary["points"]), "rewards": summary["rewards"],
            "coupons": summary["coupons"], "lost": summary["lost"], "exceptions": summary["exceptions"]}


def unlock_for(ctx: Context, effects: Effects, state: UserState, summary: dict[str, Any],
               changed_verbs: list[str], changed_points: list[str], changed_rewards: list[str], *,
               outcome: RewardOutcome | None = None) -> None:
    """Unlock and revoke what `outcome` says (evaluated here on `state` when not given)."""
    if outcome is None:
        outcome = evaluate_rewards(ctx.mechanics, progress_of(state), ctx.now, ctx.tz, ctx.week_start,
                                   changed_verbs=changed_verbs, changed_points=changed_points,
                                   changed_rewards=changed_rewards)
    pk = user_pk(ctx.site_id, state.uuid)
    unlocked: list[dict[str, Any]] = []
    for unlock in outcome.unlocked:
        existing = state.rewards.get(unlock.reward_id) or {}
        count = len(existing.get("completions") or [])
        completion = {"at": ctx.now_iso, "verbCounts": dict(unlock.verb_counts), "activityId": ctx.activity_id}
        values: dict[str, Any] = {":c": [completion], ":empty": [], ":kind": unlock.kind, ":name": unlock.name,
                                  ":now": ctx.now_iso}
        # A reject that revoked the only completion leaves an empty list, not a missing one.
        values[":n"] = count
        condition = "size(completions) = :n" if count else "attribute_not_exists(completions) OR size(completions) = :n"
        effects.ops.append(db.tx_update(
            pk, reward_sk(unlock.reward_id),
            "SET completions = list_append(if_not_exists(completions, :empty), :c), kind = :kind, "
            "#n = :name, lastAt = :now REMOVE lostAt",
            values=values, names={"#n": "name"}, condition=condition))
        # What KPIs can track: rewards of a kind, one reward (each measure is kept for every
        # period on the state item: nothing is measured that no reader asks for).
        effects.measure(state.uuid, f"rk:{unlock.kind}", 1)
        effects.measure(state.uuid, f"rw:{unlock.reward_id}", 1)
        summary["rewards"].append(unlock.reward_id)
        unlocked.append({"uuid": state.uuid, "rewardId": unlock.reward_id, "kind": unlock.kind})
        effects.notices.append(("reward.unlocked", {"uuid": state.uuid, "rewardId": unlock.reward_id,
                                                    "kind": unlock.kind, "name": unlock.name,
                                                    "activityId": ctx.activity_id}))
    for reward_id in outcome.lost:
        effects.ops.append(db.tx_update(pk, reward_sk(reward_id), "SET lostAt = :now",
                                        values={":now": ctx.now_iso}))
        summary["lost"].append(reward_id)
        effects.notices.append(("reward.revoked", common.reward_notice(ctx, state.uuid, reward_id)))
    for point_id, amount in outcome.points.items():
        pt = common.point_type(ctx, point_id)
        change = wallet.credit(pt, state.wallet(point_id), amount, ctx.now, ctx.tz,
                               batch_id=common.batch_id(ctx, point_id, ":prize"))
        effects.change_wallet(state.uuid, pt, change)
        summary["points"][point_id] = summary["points"].get(point_id, 0) + amount
    for coupon_id in dict.fromkeys(outcome.coupons):
        found = ctx.mechanics.coupons.get(coupon_id)
        if found is None:
            continue
        try:
            item = coupon.acquire(ctx, effects, state, found, "award", uuid=state.uuid)
        except UNAVAILABLE as exc:  # the reward stands without its coupon; the result says why
            summary["exceptions"].append(_coupon_skipped(state.uuid, _prized_by(ctx, outcome, coupon_id), found.id,
                                                         exc))
            continue
        summary["coupons"].append(item["userCouponId"])
    if outcome.add_tags or outcome.remove_tags:
        tags = apply_tags(state.tags, outcome.add_tags, outcome.remove_tags)
        effects.ops.append(db.tx_update(pk, PROFILE_SK, "SET tags = :t", values={":t": tags}))
        effects.extra_record.setdefault("tags", {})[state.uuid] = {"before": state.tags, "after": tags}
    effects.extra_record.setdefault("unlocked", []).extend(unlocked)


def _prized_by(ctx: Context, outcome: RewardOutcome, coupon_id: str) -> list[str]:
    """The rewards unlocked here whose prizes include `coupon_id` (in unlock order)."""
    prized = []
    for unlock in outcome.unlocked:
        reward = ctx.mechanics.rewards.get(unlock.reward_id)
        prizes = getattr(reward, "prizes", None)
        if prizes is not None and coupon_id in prizes.coupons and unlock.reward_id not in prized:
            prized.append(unlock.reward_id)
    return prized


def _coupon_skipped(uuid: str, reward_ids: list[str], coupon_id: str, error: rules.DomainError) -> dict[str, Any]:
    """The result's exception for a prize coupon not handed out (docs/engine.md, "Rewards").

    `verb` is null: it names the behaviour verb a behaviour exception refused, and no verb was
    refused here; `rewardId`, `couponId` and `uuid` say which prize of whose reward it was.
    """
    rewards = ", ".join(f"'{r}'" for r in reward_ids) or "a reward"
    message = f"reward {rewards} unlocked without its prize coupon '{coupon_id}': {error.message}"
    logger.warning("prize coupon not handed out", extra={
        "reward_ids": reward_ids, "coupon_id": coupon_id, "error_type": error.type, "error_message": error.message,
        "prize_uuid": uuid})
    return {"verb": None, "type": error.type, "message": message, "rewardId": reward_ids[0] if reward_ids else None,
            "couponId": coupon_id, "uuid": uuid}
