"""Reject: compensating entries for everything an activity did, then REJECTED.

Nothing is edited in place: every ledger entry gets a reversal, every counter and bucket is
moved back at the time it was counted, coupons and bounties return to their earlier state,
and rewards whose criteria no longer hold are revoked with their prizes taken back.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from chalicelib.activities import common
from chalicelib.activities.effects import Context, Effects, ReversalRefused
from chalicelib.activities.lifecycle import received_by
from chalicelib.activities.rewards import progress_of
from chalicelib.engine import wallet
from chalicelib.engine.errors import NotRejectable
from chalicelib.engine.periods import period_key
from chalicelib.engine.rewards import VerbCount, revoke_after_reject
from chalicelib.engine.wallet import LedgerEntry
from chalicelib.store import db, reversals, userstate
from chalicelib.store.keys import (
    activity_sk,
    bounty_sk,
    pending_sk,
    user_coupon_sk,
    user_pk,
)
from chalicelib.store.userstate import UserState, parse_time

STEPS = ("behaviour", "point", "coupon", "gift", "bounty", "rewards")


def dependents(site: str, activity: dict[str, Any]) -> list[str]:
    """Later activities that used this one's effects (they must be rejected first).

    A use this cannot name (a coupon changed without a recorded activity) is listed as the
    coupon or bounty itself: the reject is refused all the same.
    """
    effects = activity.get("effects") or {}
    later: list[str] = []
    uuid = activity["uuid"]
    bounty = (effects.get("bounty") or {}).get("bounty") or {}
    if bounty.get("action") == "start":
        item = db.get(user_pk(site, uuid), bounty_sk(bounty["id"]))
        if item and item.get("status") != "open":
            later.append(str(item.get("closedBy") or f"bounty {bounty['id']}"))
    for acquired in (effects.get("coupon") or {}).get("acquired", []):
        item = db.get(user_pk(site, acquired["uuid"]), user_coupon_sk(acquired["userCouponId"]))
        if item is None:
            continue
        expected = _acquired_status(activity)
        if item.get("status") == expected and (expected != "redeemed"
                                               or item.get("redeemedBy") in (None, activity["id"])):
            continue
        user = item.get("refundedBy") or item.get("redeemedBy")
        later.append(str(user or f"coupon {acquired['userCouponId']}"))
    return later


def _acquired_status(activity: dict[str, Any]) -> str:
    """The status a coupon this activity handed out had when handed out."""
    return "redeemed" if (activity.get("attrs") or {}).get("action") == "redeem" else "available"


def _entry(row: dict[str, Any]) -> LedgerEntry:
    expires = parse_time(row.get("expiresAt"))
    return LedgerEntry(row["pointId"], int(row["amount"]), row["kind"], row["bookedUnder"], expires,
                       row.get("batchId"), int(row.get("shortfall", 0)))


def _records(activity: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    records = [(step, (activity.get("effects") or {}).get(step) or {}) for step in STEPS]
    return [(s, r) for s, r in records if r]


def applied_steps(activity: dict[str, Any]) -> list[str]:
    """The steps whose effects were committed (and would need undoing)."""
    return [s for s in STEPS if s in (activity.get("steps") or {})]


def process(ctx: Context) -> Effects:
    """The reject job: everything undone, the activity REJECTED.

    Refused (`NotRejectable`, recorded on the activity by MarkFailed) when a later activity
    used its effects: checked on what is read here, and again by the guards of every
    reversal inside the commit, so that a use between the two cannot slip through.
    """
    activity = ctx.activity
    later = dependents(ctx.site_id, activity)
    if later:
        raise NotRejectable(f"a later activity used this one's effects; reject {later[0]} first")
    effects = Effects(ctx, "reject")
    records = _records(activity)
    _reverse(ctx, effects, records)
    pk = user_pk(ctx.site_id, ctx.uuid)
    job = activity.get("rejectJob")
    if job:
        effects.ops.append(db.tx_delete(pk, pending_sk(job)))
    target = received_by(activity)
    rejection = {**(activity.get("rejection") or {}), "pending": False}
    if target:
        effects.ops.append(db.tx_update(user_pk(ctx.site_id, target), activity_sk(ctx.activity_id),
                                        "SET #s = :r, rejection = :rej",
                                        values={":r": "REJECTED", ":rej": rejection}, names={"#s": "status"}))
    # The activity's count goes back with the measures of the step whose commit carried the
    # finish; when that was the rewards step (whose records are not reversed blindly), here.
    counted = any("n:activities" in m["values"] for step, record in records if step != "rewards"
                  for m in record.get("measures", []))
    if not counted:
        effects.measure(ctx.uuid, "n:activities", -1, at=_finished_at(activity))
    try:
        effects.commit({}, status_note={"status": "REJECTED", "rejection": rejection, "rejectedAt": ctx.now_iso})
    except ReversalRefused as refused:
        raise NotRejectable(f"a later activity used this one's effects: {refused}") from refused
    return effects


def compensate(ctx: Context, error: dict[str, str]) -> Effects:
    """An activity that failed after some of its steps committed: undo them, then FAILED.

    A failed activity must leave nothing behind (no half-applied activity); the same
    reversal as a reject, without the parts only a finished activity has.
    """
    effects = Effects(ctx, "compensate")
    _reverse(ctx, effects, _records(ctx.activity))
    effects.ops.append(db.tx_delete(user_pk(ctx.site_id, ctx.uuid), pending_sk(ctx.activity_id)))
    effects.commit({}, status_note={"status": "FAILED", "error": error, "processedAt": ctx.now_iso})
    return effects


def _reverse(ctx: Context, effects: Effects, records: list[tuple[str, dict[str, Any]]]) -> None:
    activity = ctx.activity
    states: dict[str, UserState] = {}

    def state_of(uuid: str) -> UserState:
        if uuid not in states:
            states[uuid] = common.load_user(ctx, uuid)
        return states[uuid]

    # The rewards step's prizes are not reversed blindly: a reward the activity unlocked stays
    # if later activities would have unlocked it anyway. Only the completions that
    # `revoke_after_reject` returns give their prizes (and counts) back.
    own = [(step, record) for step, record in records if step != "rewards"]
    # Ledger: one reversal per user and point type, through the wallet rules (stopAtZero...).
    by_wallet: dict[tuple[str, str], list[LedgerEntry]] = defaultdict(list)
    for _, record in own:
        for row in record.get("ledger", []):
            by_wallet[(row.get("uuid") or activity["uuid"], row["pointId"])].append(_entry(row))
    # Rewards that no longer hold; their prize points join the reversal of the same wallet
    # (one transaction may touch each wallet item only once).
    for (uuid, point_id), amount in _revoke_rewards(ctx, effects, records, state_of, by_wallet).items():
        by_wallet[(uuid, point_id)].append(LedgerEntry(point_id, amount, "credit", "earned"))
    for (uuid, point_id), entries in by_wallet.items():
        pt = common.point_type(ctx, point_id)
        state = state_of(uuid)
        batches, keys = common.credits_for(ctx, uuid, pt)
        change = wallet.reverse(pt, state.wallet(point_id), entries, ctx.now, ctx.tz, batches=batches,
                                batch_id=common.batch_id(ctx, point_id, ":reject"))
        effects.change_wallet(uuid, pt, change, keys, measure=False)
    # Measures go back in the periods they were counted in.
    for _, record in own:
        for m in record.get("measures", []):
            for name, value in m["values"].items():
                effects.measure(m["uuid"], name, -int(value), at=m["at"])
    _undo_behaviour(ctx, effects, own, state_of)
    _undo_coupons(ctx, effects, own)
    _undo_bounty(ctx, effects, own)
    _undo_gift(ctx, effects, own)


def _finished_at(activity: dict[str, Any]) -> str:
    return str((activity.get("steps") or {}).get("finish") or activity.get("processedAt") or activity["createdAt"])


def _undo_behaviour(ctx: Context, effects: Effects, records: list[tuple[str, dict[str, Any]]],
                    state_of: Any) -> None:
    record = dict(records).get("behaviour")
    if not record or not record.get("verb"):
        return
    # The verb's counts go back with the measures (`beh:{verb}`, in the periods counted).
    state = state_of(ctx.uuid)
    for behaviour_id, key in (record.get("usage") or {}).items():
        usage = state.usage.get(behaviour_id)
        if usage is None:
            continue
        by_period = dict(usage.by_period)
        if key and by_period.get(key):
            by_period[key] -= 1
        userstate.set_usage(effects.state_of(ctx.uuid), behaviour_id, max(0, usage.total - 1), by_period,
                            read_total=usage.total)
    tags = record.get("tags")
    if tags:
        from chalicelib.store.keys import PROFILE_SK

        effects.ops.append(db.tx_update(user_pk(ctx.site_id, ctx.uuid), PROFILE_SK, "SET tags = :t", values={":t": tags["before"]}))


def _undo_coupons(ctx: Context, effects: Effects, records: list[tuple[str, dict[str, Any]]]) -> None:
    acquired_status = _acquired_status(ctx.activity)
    for _, record in records:
        for acquired in record.get("acquired", []):
            effects.guarded(reversals.take_back_coupon(
                ctx.site_id, acquired["uuid"], acquired["userCouponId"], acquired_status=acquired_status,
                activity_id=ctx.activity_id, now_iso=ctx.now_iso))
        for changed in record.get("coupons", []):
            effects.guarded(reversals.restore_coupon_status(
                ctx.site_id, ctx.uuid, changed["userCouponId"], back=changed["from"], now=changed["to"],
                activity_id=ctx.activity_id))


def _undo_bounty(ctx: Context, effects: Effects, records: list[tuple[str, dict[str, Any]]]) -> None:
    record = dict(records).get("bounty") or {}
    bounty = record.get("bounty")
    if not bounty:
        return
    if bounty["action"] == "start":
        effects.guarded(reversals.withdraw_bounty(ctx.site_id, ctx.uuid, bounty["id"]))
    else:
        # Rejecting a cancel or an award puts the points back in escrow and reopens the bounty.
        closed_as = "awarded" if bounty["action"] == "award" else "cancelled"
        effects.guarded(reversals.reopen_bounty(ctx.site_id, ctx.uuid, bounty["id"], closed_as=closed_as,
                                                closed_by=ctx.activity_id))


def _undo_gift(ctx: Context, effects: Effects, records: list[tuple[str, dict[str, Any]]]) -> None:
    record = dict(records).get("gift") or {}
    gift = record.get("gift")
    if not gift:
        return
    # A gift badge's count; `giftsReceived` (in records before the state item) is the n:gifts
    # measure's all-time figure, which the measures' reversal already takes back.
    target = effects.state_of(gift["target"])
    for name, count in gift["stats"].items():
        if name.startswith("g:"):
            target.add(name, -int(count))


def _revoke_rewards(ctx: Context, effects: Effects, records: list[tuple[str, dict[str, Any]]], state_of: Any,
                    by_wallet: dict[tuple[str, str], list[LedgerEntry]]) -> dict[tuple[str, str], int]:
    """Completions that no longer hold once the activity is gone, cascading to missions.

    Returns the prize points to take back per (user, point type).
    """
    take_back: dict[tuple[str, str], int] = defaultdict(int)
    record = dict(records)
    behaviour = record.get("behaviour") or {}
    rejected_at = parse_time(record.get("rewards", {}).get("at") or ctx.activity["createdAt"])
    assert rejected_at is not None
    gift_reward = (ctx.activity.get("attrs") or {}).get("rewardId") if ctx.activity["type"] == "gift" else None
    for uuid in {ctx.uuid, *(u for u, _ in by_wallet)}:
        state = state_of(uuid)
        progress = progress_of(state)
        earned = dict(progress.earned)
        for (owner, point_id), entries in by_wallet.items():
            if owner == uuid:
                earned[point_id] = earned.get(point_id, 0) - sum(e.amount for e in entries
                                                                 if e.booked_under == "earned")
        counts = dict(progress.behaviour_counts)
        verb = behaviour.get("verb") if uuid == ctx.uuid else None
        if verb:
            counts = _with_ended_periods(ctx, state, counts, behaviour, rejected_at)
        if verb and verb in counts:
            counts[verb] = VerbCount(max(0, counts[verb].total - 1), counts[verb].by_period)
        gifts = dict(progress.gifts_received)
        forced = []
        if gift_reward and uuid == (record.get("gift") or {}).get("gift", {}).get("target"):
            gifts[gift_reward] = max(0, gifts.get(gift_reward, 0) - 1)
            forced.append(gift_reward)
        from dataclasses import replace

        progress = replace(progress, earned=earned, behaviour_counts=counts, gifts_received=gifts)
        revocation = revoke_after_reject(ctx.mechanics, progress, rejected_at, ctx.now, ctx.tz, ctx.week_start,
                                         rejected_verb=verb, revoke=[r for r in forced
                                                                     if r in progress.rewards])
        removed: dict[str, int] = defaultdict(int)
        for revoked in revocation.revoked:
            item = state.rewards.get(revoked.reward_id) or {}
            completions = item.get("completions") or []
            index = next((i for i, c in enumerate(completions)
                          if parse_time(c["at"]) == revoked.completed_at), len(completions) - 1 - removed[revoked.reward_id])
            removed[revoked.reward_id] += 1
            effects.guarded(reversals.remove_completion(ctx.site_id, uuid, revoked.reward_id, index,
                                                        str(completions[index]["at"])))
            effects.notices.append(("reward.revoked", common.reward_notice(ctx, uuid, revoked.reward_id)))
            at = revoked.completed_at.isoformat().replace("+00:00", "Z")
            for name in (f"rk:{revoked.kind}", f"rw:{revoked.reward_id}"):
                effects.measure(uuid, name, -1, at=at)
        for point_id, amount in revocation.points.items():
            take_back[(uuid, point_id)] += amount
            effects.measure(uuid, f"pts:{point_id}", -amount, at=record.get("rewards", {}).get("at"))
    return take_back


def _with_ended_periods(ctx: Context, state: UserState, counts: dict[str, VerbCount], behaviour: dict[str, Any],
                        rejected_at: Any) -> dict[str, VerbCount]:
    """The verb counts of the ended periods a revocation may look at, which live in buckets.

    A period-repeating achievement completed after the rejected activity is checked on the
    count of its completion's period: that of the activity itself, or a later one.
    """
    moments = [parse_time(behaviour.get("at")) or rejected_at]
    for item in state.rewards.values():
        moments.extend(at for c in item.get("completions") or [] if (at := parse_time(c["at"])) and at >= rejected_at)
    keys = {period_key(g, at, ctx.tz, ctx.week_start) for g in userstate.COUNT_GRANULARITIES for at in moments}
    ended = userstate.ended_counts(ctx.site_id, state, keys)
    out = dict(counts)
    for verb, by_key in ended.items():
        count = out.get(verb, VerbCount())
        out[verb] = VerbCount(count.total, {**by_key, **count.by_period})
    return out


def abandon(site: str, uuid: str, activity_id: str, job_id: str, error: dict[str, str]) -> None:
    """A reject that could not be applied: the activity stays SUCCEEDED with `rejection.refused`
    set, and a new reject may be asked for (it replaces this rejection)."""
    pk = user_pk(site, uuid)
    try:
        db.transact([
            db.tx_update(pk, activity_sk(activity_id), "SET rejection.pending = :f, rejection.refused = :err",
                         values={":f": False, ":err": error, ":ok": "SUCCEEDED", ":job": job_id},
                         names={"#s": "status"}, condition="#s = :ok AND rejectJob = :job"),
            db.tx_delete(pk, pending_sk(job_id)),
        ])
    except db.TransactionCancelled as err:
        if not err.failed_at(0):
            raise
        # The reject had ended already (another delivery): only its marker may be left.
        db.delete(pk, pending_sk(job_id))
