"""Turning an activity's computed consequences into one conditional transaction.

A step collects everything it changes (wallets with their conditions, ledger entries, credit
batches, counters, KPI buckets, leaderboard scores, coupons...) in an `Effects`, then commits
it as a single TransactWriteItems whose first operation marks the step done on the activity
item. That marker makes the step idempotent: a redelivered or retried step finds it set,
the whole transaction is cancelled, and nothing is applied twice.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.clock import iso
from chalicelib.engine.periods import period_key
from chalicelib.engine.wallet import WalletChange
from chalicelib.ids import new_id
from chalicelib.models.mechanics import PointType, SiteMechanics
from chalicelib.store import db
from chalicelib.store.keys import (
    activity_sk,
    board_index_pk,
    board_score_sk,
    bucket_sk,
    credit_sk,
    ledger_sk,
    user_pk,
    wallet_sk,
)
from chalicelib.store.reversals import Guarded

# KPI and stats buckets are kept per day, week, month, quarter, year and all time, so that
# any period's value is one item and a tab reads a handful of items, not a history.
GRANULARITIES = ("day", "week", "month", "quarter", "year")
BOARD_PERIODS = {"daily": "day", "weekly": "week", "monthly": "month"}
MAX_TRANSACTION_ITEMS = 100


class TransientError(Exception):
    """Worth retrying as is, a moment later (throttling, a transaction conflict): the ASL retries
    it, with backoff and jitter. This is the only retry layer for these: botocore's own retries
    do not cover cancelled transactions, and the Lambda does not retry them itself."""


class StepConflict(TransientError):
    """A condition on the state we read failed: someone changed it. The step re-reads and
    recomputes inside the Lambda (`workflow.steps._run`); the ASL never retries it."""


class ReversalRefused(StepConflict):
    """A reversal's guard failed: what it reverses was used meanwhile (`store.reversals`).

    A reject turns it into `NotRejectable`; anywhere else it is a conflict to re-read.
    """


# Error codes DynamoDB answers when the same request may succeed a moment later. botocore
# retries most of them itself; those that still surface must reach the ASL as TransientError
# (retried) rather than as a bare ClientError (caught into FAILED InternalError).
RETRYABLE_CODES = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
    "TransactionInProgressException", "TransactionConflictException", "InternalServerError",
    "ServiceUnavailable", "LimitExceededException",
})


def transient_from(err: ClientError) -> TransientError | None:
    """The retryable error a DynamoDB ClientError stands for, or None when it is not one."""
    code = err.response.get("Error", {}).get("Code")
    if code == "TransactionCanceledException":
        reasons = db.cancellation_reasons(err)
        if "TransactionConflict" in reasons:
            # Another transaction holds one of the items right now: nothing we read is wrong,
            # so the same work is retried later (by the ASL, with jitter), not re-read at once.
            return TransientError(f"transaction conflict: {reasons}")
        if "ThrottlingError" in reasons or "ProvisionedThroughputExceeded" in reasons:
            return TransientError(f"throttled: {reasons}")
        return None
    if code in RETRYABLE_CODES:
        return TransientError(f"{code}: {err}")
    return None


class ActivityRuleBroken(Exception):
    """A rule of the domain refused the activity; the ASL catches it into FAILED.

    The message is JSON `{type, message}` so that the failure keeps its API error type.
    """

    def __init__(self, type_: str, message: str) -> None:
        super().__init__(json.dumps({"type": type_, "message": message}))
        self.type = type_
        self.message = message


# A processing commit's status note, given the commit's effects and result (lifecycle.closing):
# PROCESSING, or SUCCEEDED with the finish's own operations added to the same commit.
Closing = Callable[["Effects", dict[str, Any]], dict[str, Any]]


@dataclass
class Context:
    site_id: str
    site: dict[str, Any]
    mechanics: SiteMechanics
    activity: dict[str, Any]
    now: dt.datetime
    # Set by the workflow for a processing step: how its commit ends (lifecycle.closing).
    closing: Closing | None = None
    # The results of the steps committed in this invocation, by step (a target's copy shows them).
    results: dict[str, Any] = field(default_factory=dict)
    # The activity as stored, once read (the work usually carries only its slim form).
    stored: dict[str, Any] | None = None

    @property
    def tz(self) -> str:
        return str(self.site.get("timezone", "UTC"))

    @property
    def week_start(self) -> Any:
        return self.site.get("weekStart", "monday")

    @property
    def now_iso(self) -> str:
        return iso(self.now)

    @property
    def activity_id(self) -> str:
        return str(self.activity["id"])

    @property
    def uuid(self) -> str:
        return str(self.activity["uuid"])


def bucket_keys(ctx: Context, at: dt.datetime) -> list[str]:
    return [period_key(g, at, ctx.tz, ctx.week_start) for g in GRANULARITIES] + ["all"]


@dataclass
class Effects:
    ctx: Context
    step: str
    ops: list[dict[str, Any]] = field(default_factory=list)
    ledger: list[dict[str, Any]] = field(default_factory=list)
    # (uuid, ISO time the measure belongs to) -> measure -> delta
    measures: dict[tuple[str, str], dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    extra_record: dict[str, Any] = field(default_factory=dict)
    applied: bool = False
    result_blocked: bool = False
    # Set by a step that evaluated the rewards on what its own commit leaves and found that
    # nothing can unlock or lapse: the rewards step then has nothing to read or decide.
    rewards_settled: bool = False
    # Index in `ops` -> what a failure of that operation's condition means (store.reversals).
    guards: dict[int, Guarded] = field(default_factory=dict)
    # Whether the commit ended the activity (SUCCEEDED, FAILED or REJECTED).
    finished: bool = False

    # ------------------------------------------------------------ wallets and ledger

    def change_wallet(self, uuid: str, point_type: PointType, change: WalletChange,
                      batch_keys: dict[str, str] | None = None, *, measure: bool = True) -> None:
        """Wallet update, ledger entries and credit batches of one change.

        `measure=False` for reversals: a reject takes measures back at the time they were
        counted (the original period), not at the time of the reject.
        """
        pk = user_pk(self.ctx.site_id, uuid)
        deltas = change.deltas
        conditions: list[str] = []
        values: dict[str, Any] = {}
        names: dict[str, str] = {}
        for i, cond in enumerate(change.conditions):
            names[f"#c{i}"] = cond.figure
            values[f":c{i}"] = cond.value
            op = ">=" if cond.op == "gte" else "="
            test = f"#c{i} {op} :c{i}"
            if (cond.op == "gte" and cond.value <= 0) or (cond.op == "eq" and cond.value == 0):
                test = f"(attribute_not_exists(#c{i}) OR {test})"
            conditions.append(test)
        adds = []
        for j, (figure, delta) in enumerate(deltas.items()):
            names[f"#f{j}"] = figure
            values[f":f{j}"] = delta
            adds.append(f"#f{j} :f{j}")
        # Only ADDs (the point type is in the key): concurrent credits never conflict.
        if adds:
            self.ops.append(db.tx_update(pk, wallet_sk(point_type.id), "ADD " + ", ".join(adds), values=values,
                                         names=names, condition=" AND ".join(conditions) or None))
        elif conditions:
            self.ops.append(db.tx_check(pk, wallet_sk(point_type.id), " AND ".join(conditions),
                                        values=values, names=names))
        for entry in change.entries:
            row = {
                "pointId": entry.point_id, "amount": entry.amount, "kind": entry.kind,
                "bookedUnder": entry.booked_under, "activityId": self.ctx.activity_id, "at": self.ctx.now_iso,
                "expiresAt": iso(entry.expires_at) if entry.expires_at else None,
                "batchId": entry.batch_id, "shortfall": entry.shortfall, "uuid": uuid,
            }
            self.ops.append(db.tx_put({"PK": pk, "SK": ledger_sk(new_id()), **row}))
            self.ledger.append(row)
            if measure and entry.booked_under == "earned":
                self.measure(uuid, f"pts:{entry.point_id}", entry.amount)
        for batch in change.new_batches:
            self.ops.append(db.tx_put({
                "PK": pk, "SK": credit_sk(point_type.id, iso(batch.expires_at), batch.batch_id),
                "batchId": batch.batch_id, "pointId": point_type.id, "amount": batch.amount,
                "remaining": batch.remaining, "expired": batch.expired, "earnedAt": iso(batch.earned_at),
                "expiresAt": iso(batch.expires_at)}))
        for update in change.batch_updates:
            sk = (batch_keys or {}).get(update.batch_id)
            if sk is None:
                continue  # a batch created in this same change: its Put already holds the net figure
            total = update.consumed + update.expired
            self.ops.append(db.tx_update(
                pk, sk, "ADD remaining :neg, expired :exp",
                values={":neg": -total, ":exp": update.expired, ":total": total},
                condition="remaining >= :total"))

    # ------------------------------------------------------------ counters

    def measure(self, uuid: str, name: str, amount: int, at: str | None = None) -> None:
        """A KPI/leaderboard/stats measure moved by `amount` for `uuid` (at the step's time)."""
        if amount:
            self.measures[(uuid, at or self.ctx.now_iso)][name] += amount

    def _bucket_ops(self) -> None:
        per_item: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        boards: dict[tuple[str, str], dict[str, int]] = {}
        for (uuid, at), measures in self.measures.items():
            live = {k: v for k, v in measures.items() if v}
            if not live:
                continue
            moment = dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
            for key in bucket_keys(self.ctx, moment):
                for name, value in live.items():
                    per_item[(uuid, key)][name] += value
            boards[(uuid, at)] = live
        for (uuid, key), measures in per_item.items():
            live = {k: v for k, v in measures.items() if v}
            if not live:
                continue
            names = {f"#m{i}": k for i, k in enumerate(live)}
            values = {f":m{i}": v for i, v in enumerate(live.values())}
            expression = "ADD " + ", ".join(f"#m{i} :m{i}" for i in range(len(live)))
            self.ops.append(db.tx_update(user_pk(self.ctx.site_id, uuid), bucket_sk(key), expression,
                                         values=values, names=names))
        scores: dict[tuple[str, str, str], int] = defaultdict(int)
        for (uuid, at), live in boards.items():
            for board_id, key, delta in self._board_deltas(live, dt.datetime.fromisoformat(at.replace("Z", "+00:00"))):
                scores[(uuid, board_id, key)] += delta
        for (uuid, board_id, key), delta in scores.items():
            if delta:
                self._score_op(uuid, board_id, key, delta)

    def _board_deltas(self, measures: dict[str, int], at: dt.datetime) -> list[tuple[str, str, int]]:
        out = []
        for board in self.ctx.mechanics.leaderboards.values():
            ranks_by = board.ranks_by
            measure = (f"pts:{ranks_by.points}" if hasattr(ranks_by, "points")
                       else f"beh:{ranks_by.behaviour}")
            delta = measures.get(measure, 0)
            if not delta:
                continue
            for period in board.periods:
                key = "all" if period == "allTime" else period_key(BOARD_PERIODS[period], at,
                                                                    self.ctx.tz, self.ctx.week_start)
                out.append((board.id, key, delta))
        return out

    def _score_op(self, uuid: str, board_id: str, key: str, delta: int) -> None:
        values: dict[str, Any] = {":d": delta, ":uuid": uuid, ":b": board_id, ":k": key,
                                  ":gpk": board_index_pk(self.ctx.site_id, board_id, key)}
        expression = "ADD score :d SET #u = :uuid, boardId = :b, periodKey = :k, GSI2PK = :gpk, GSI2SK = :uuid"
        if delta > 0:
            expression += ", reachedAt = :now"
            values[":now"] = self.ctx.now_iso
        self.ops.append(db.tx_update(user_pk(self.ctx.site_id, uuid), board_score_sk(board_id, key),
                                     expression, values=values, names={"#u": "uuid"}))

    def guarded(self, operation: Guarded) -> None:
        """A reversal operation whose failed condition is a refusal or a conflict, not a crash."""
        self.guards[len(self.ops)] = operation
        self.ops.append(operation.op)

    # ------------------------------------------------------------ commit

    def record(self) -> dict[str, Any]:
        """What reject needs to undo this step exactly."""
        return {"ledger": self.ledger,
                "measures": [{"uuid": u, "at": at, "values": dict(m)} for (u, at), m in self.measures.items()],
                "at": self.ctx.now_iso, **self.extra_record}

    def commit(self, result: dict[str, Any], *, status_note: dict[str, Any] | None = None) -> bool:
        """Apply everything at once. False when this step had already been applied."""
        if status_note is None and self.ctx.closing is not None:
            status_note = self.ctx.closing(self, result)
        self._bucket_ops()
        self.result_blocked = bool(result.get("blocked"))
        marker_values: dict[str, Any] = {":now": self.ctx.now_iso, ":r": result, ":e": self.record()}
        expression = "SET steps.#step = :now, results.#step = :r, effects.#step = :e"
        for i, value in enumerate((status_note or {}).values()):
            expression += f", #n{i} = :n{i}"
            marker_values[f":n{i}"] = value
        names = {"#step": self.step, "#status": "status",
                 **{f"#n{i}": n for i, n in enumerate(status_note or {})}}
        # A step applies only while the activity is in the status its job runs in: a duplicate
        # delivery that started before another one ended the activity (FAILED, say) must not
        # apply it after all. It finds the marker's condition failed, like a redelivery.
        if self.step == "reject":
            marker_values[":expected"] = "SUCCEEDED"
            expected = "#status = :expected"
        else:
            marker_values[":queued"], marker_values[":processing"] = "QUEUED", "PROCESSING"
            expected = "#status IN (:queued, :processing)"
        marker = db.tx_update(user_pk(self.ctx.site_id, self.ctx.uuid), activity_sk(self.ctx.activity_id),
                              expression, values=marker_values, names=names,
                              condition=f"attribute_exists(PK) AND attribute_not_exists(steps.#step) AND {expected}")
        ops = [marker, *self.ops]
        if len(ops) > MAX_TRANSACTION_ITEMS:
            raise ActivityRuleBroken("TooManyEffects", f"this activity changes {len(ops)} items; the limit is "
                                     f"{MAX_TRANSACTION_ITEMS}")
        try:
            db.transact(ops)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                reasons = db.cancellation_reasons(err)
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    self.applied = False
                    return False
                failed = [i - 1 for i, r in enumerate(reasons) if r == "ConditionalCheckFailed"]
                refusals = [g.refusal for i in failed if (g := self.guards.get(i)) and g.refusal]
                if refusals:
                    raise ReversalRefused("; ".join(refusals)) from err
                if failed:
                    raise StepConflict(f"state changed under step {self.step}: {reasons}") from err
            transient = transient_from(err)
            if transient is not None:
                raise transient from err
            raise
        self.applied = True
        self.finished = (status_note or {}).get("status") in ("SUCCEEDED", "FAILED", "REJECTED")
        self.ctx.results[self.step] = result
        return True

    def changed(self) -> dict[str, list[str]]:
        """What the rewards step must look at after this step: verbs, earned points, rewards."""
        if self.rewards_settled:
            return {"verbs": [], "points": []}
        return {
            "verbs": [self.extra_record["verb"]] if self.extra_record.get("verb") else [],
            "points": sorted({e["pointId"] for e in self.ledger if e["bookedUnder"] == "earned"}),
        }
