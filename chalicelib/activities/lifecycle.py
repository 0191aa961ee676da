"""Status changes that end an activity's processing."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from chalicelib.activities.effects import Context, Effects
from chalicelib.store import db
from chalicelib.store.keys import STATS_SK, activity_sk, pending_sk, user_pk


def finish(ctx: Context) -> Effects:
    """PROCESSING -> SUCCEEDED, counted in the stats, copied to a gift or bounty target."""
    target = received_by(ctx.activity)
    if target and "results" not in ctx.activity:
        # The target's copy carries the result; the execution's slim copy does not.
        from chalicelib.store import activities

        ctx.activity = activities.get(ctx.site_id, ctx.uuid, ctx.activity_id) or ctx.activity
    pk = user_pk(ctx.site_id, ctx.uuid)
    effects = Effects(ctx, "finish")
    effects.ops.append(db.tx_delete(pk, pending_sk(ctx.activity_id)))
    effects.ops.append(db.tx_update(pk, STATS_SK, "ADD activities :one", values={":one": 1}))
    effects.measure(ctx.uuid, "n:activities", 1)
    if target:
        copy = {k: v for k, v in ctx.activity.items() if k not in ("PK", "SK", "steps", "effects")}
        effects.ops.append(db.tx_put({**copy, "PK": user_pk(ctx.site_id, target), "SK": activity_sk(ctx.activity_id),
                                      "status": "SUCCEEDED", "processedAt": ctx.now_iso, "role": "target"}))
    effects.commit({}, status_note={"status": "SUCCEEDED", "processedAt": ctx.now_iso})
    return effects


def received_by(activity: dict[str, Any]) -> str | None:
    """The other user an activity shows up for: a gift's target or a bounty's winner."""
    attrs = activity.get("attrs") or {}
    if attrs.get("type") == "gift" or (attrs.get("type") == "bounty" and attrs.get("action") == "award"):
        target = attrs.get("targetUuid")
        return str(target) if target else None
    return None


def fail(site: str, uuid: str, activity_id: str, error: dict[str, str], now: str) -> bool:
    """-> FAILED with `{type, message}`; nothing else of the activity was applied."""
    pk = user_pk(site, uuid)
    try:
        db.transact([
            db.tx_update(pk, activity_sk(activity_id),
                         "SET #s = :failed, #e = :err, processedAt = :now",
                         values={":failed": "FAILED", ":err": error, ":now": now, ":q": "QUEUED",
                                 ":p": "PROCESSING"},
                         names={"#s": "status", "#e": "error"}, condition="#s IN (:q, :p)"),
            db.tx_delete(pk, pending_sk(activity_id)),
        ])
    except ClientError as err:
        # Only a failed status condition means "already ended"; a conflict or throttle must
        # surface so MarkFailed retries, or the activity would stay PROCESSING and its pending
        # marker would hold up every later activity of the user.
        if db.cancellation_reasons(err)[:1] == ["ConditionalCheckFailed"]:
            return False
        raise
    return True
