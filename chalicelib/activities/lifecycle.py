"""Status changes that end an activity's processing."""

from __future__ import annotations

from typing import Any

from chalicelib.activities.effects import Context, Effects
from chalicelib.store import activities as store
from chalicelib.store import db
from chalicelib.store.keys import activity_sk, user_pk


def rewards_pending(activity: dict[str, Any], changed: dict[str, list[str]], blocked: bool) -> bool:
    """Whether the rewards step has anything to evaluate after the activity's own step.

    Only what could unlock a reward counts: a verb counted or points earned that the type
    step did not already settle (`Effects.rewards_settled`), or a gift carrying a reward.
    """
    if blocked:
        return False
    gift_reward = (activity.get("attrs") or {}).get("rewardId")
    return bool(changed.get("verbs") or changed.get("points") or gift_reward)


def closing(effects: Effects, result: dict[str, Any], *, last: bool) -> dict[str, Any]:
    """The status note of a processing commit; the finish rides along when it is the last.

    `last`: the rewards step (always the last) or a type step with no rewards to evaluate.
    The finish (the activity counted, a gift's or award's copy for its target, and right after
    the commit the ordering marker removed) then costs no commit or read of its own.
    """
    ctx = effects.ctx
    if not last and rewards_pending(ctx.activity, effects.changed(), bool(result.get("blocked"))):
        return {"status": "PROCESSING"}
    effects.ends_work = True  # the ordering marker goes right after the commit
    effects.measure(ctx.uuid, "n:activities", 1)  # the stats bar's count: all time's n:activities
    target = received_by(ctx.activity)
    if target:
        results = {**(_stored(ctx).get("results") or {}), **ctx.results, effects.step: result,
                   **{other.step: part for other, part in effects.absorbed}}
        copy = {k: v for k, v in {**_stored(ctx), **ctx.activity}.items() if k not in ("PK", "SK", "steps", "effects")}
        effects.ops.append(db.tx_put({**copy, "PK": user_pk(ctx.site_id, target), "SK": activity_sk(ctx.activity_id),
                                      "status": "SUCCEEDED", "processedAt": ctx.now_iso, "role": "target",
                                      "results": results}))
    # `finishedBy`: the step whose commit carried the finish (the invariant checker looks for it).
    return {"status": "SUCCEEDED", "processedAt": ctx.now_iso, "finishedBy": effects.step}


def _stored(ctx: Context) -> dict[str, Any]:
    """The activity as stored (for a target's copy), when the work carried only its slim form."""
    if "createdAt" in ctx.activity and "status" in ctx.activity:
        return ctx.activity
    if ctx.stored is None:
        ctx.stored = store.get(ctx.site_id, ctx.uuid, ctx.activity_id) or {}
    return ctx.stored


def finish(ctx: Context) -> Effects:
    """PROCESSING -> SUCCEEDED on its own, when the last step committed nothing (no unlock)."""
    effects = Effects(ctx, "finish")
    effects.commit({}, status_note=closing(effects, {}, last=True))
    return effects


def received_by(activity: dict[str, Any]) -> str | None:
    """The other user an activity shows up for: a gift's target or a bounty's winner."""
    attrs = activity.get("attrs") or {}
    if attrs.get("type") == "gift" or (attrs.get("type") == "bounty" and attrs.get("action") == "award"):
        target = attrs.get("targetUuid")
        return str(target) if target else None
    return None


def fail(site: str, uuid: str, activity_id: str, error: dict[str, str], now: str) -> bool:
    """-> FAILED with `{type, message}`; nothing else of the activity was applied.

    False when the activity had already ended. A conflict or throttle surfaces as
    TransientError, so that MarkFailed (or the reconciler) tries again. On a site with webhook
    endpoints its one event, `activity.failed`, is recorded in the same transaction.
    """
    from chalicelib.store import sites
    from chalicelib.store import webhooks as webhook_store
    from chalicelib.webhooks import events, worker

    site_item = sites.get_site(site) or {}
    outbox = None
    if int(site_item.get("webhookEndpoints") or 0):
        recorded = events.commit_events(site=site, activity_id=activity_id, step="fail", at=now, ledger=[],
                                        balances={}, notices=[], ended="FAILED")
        outbox = webhook_store.outbox_put(site, uuid, activity_id, ["fail"], recorded, {}, now)
    if not store.fail(site, uuid, activity_id, error, now, extra=[outbox] if outbox else []):
        return False
    if outbox is not None:
        worker.dispatch_outbox(site, uuid, webhook_store.outbox_sk(activity_id, "fail"))
    return True
