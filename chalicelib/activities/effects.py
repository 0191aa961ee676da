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

from chalicelib.clock import iso
from chalicelib.engine.leaderboards import (
    ScoreUpdate,
    entries_held,
    next_entries,
    ranked_measure,
    restated_entries,
)
from chalicelib.engine.periods import period_key
from chalicelib.engine.wallet import WalletChange
from chalicelib.ids import new_id
from chalicelib.models.mechanics import PointType, SiteMechanics
from chalicelib.store import activities as activity_store
from chalicelib.store import db, userstate
from chalicelib.store import ranks as rank_store
from chalicelib.store import webhooks as webhook_store
from chalicelib.store.keys import (
    USER_STATE_SK,
    activity_sk,
    board_live_sk,
    bucket_sk,
    credit_sk,
    ledger_sk,
    user_pk,
)
from chalicelib.store.reversals import Guarded
from chalicelib.store.userstate import (
    StateChange,
    UserState,
    bucket_add,
    from_state_item,
    granularity_of,
    measure_attr,
    measures_of,
    period_attr,
    wallet_attr,
)
from chalicelib.webhooks import events as webhook_events
from chalicelib.webhooks import worker as webhook_worker

# KPI and stats buckets are kept per day, week, month, quarter, year and all time, so that
# any period's value is one item and a tab reads a handful of items, not a history.
GRANULARITIES = ("day", "week", "month", "quarter", "year")
BOARD_PERIODS = {"daily": "day", "weekly": "week", "monthly": "month"}
MAX_TRANSACTION_ITEMS = 100
# Reads and writes of one user's live scores before keep_scores gives up on a contended item
# (each lost race means another writer set a newer figure meanwhile).
LIVE_SCORE_TRIES = 5


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
    # Each user's state as last read in this invocation (common.load_user): what a commit's
    # update of their state item is decided on (which periods it holds, its version).
    states: dict[str, UserState] = field(default_factory=dict)

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
    retagged: bool = False  # the commit changes the user's tags (rank_store.touch_live after it)
    # Events of this commit beside its wallet changes (`reward.unlocked`, ...): (type, data),
    # recorded in its outbox item when the site has webhook endpoints (`_outbox`).
    notices: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    applied: bool = False
    result_blocked: bool = False
    # Set by a step that evaluated the rewards on what its own commit leaves and found that
    # nothing can unlock or lapse: the rewards step then has nothing to read or decide.
    rewards_settled: bool = False
    # Index in `ops` -> what a failure of that operation's condition means (store.reversals).
    guards: dict[int, Guarded] = field(default_factory=dict)
    # Whether the commit ended the activity (SUCCEEDED, FAILED or REJECTED).
    finished: bool = False
    # The commit ends the activity's work (the finish rides in it): its ordering marker goes.
    ends_work: bool = False
    # uuid -> what this commit changes on that user's state item (one update each).
    state: dict[str, StateChange] = field(default_factory=dict)
    # (uuid, board, period, period key) -> (the measure it ranks by, whether it rose): the
    # scores to set once the commit is made (keep_scores).
    scores: dict[tuple[str, str, str, str], tuple[str, bool]] = field(default_factory=dict)
    # Other steps committed in this step's transaction (`absorb`), with their results: their
    # measures move with this commit's, their records stay theirs.
    absorbed: list[tuple[Effects, dict[str, Any]]] = field(default_factory=list)
    # Users whose state item the commit changes only if it still holds the version read
    # (`_pin_scored_state`): what the commit leaves them is known without reading it back.
    pinned: set[str] = field(default_factory=set)

    def state_of(self, uuid: str) -> StateChange:
        """The commit's change to `uuid`'s state item (wallets, usage, gift counts, measures)."""
        return self.state.setdefault(uuid, StateChange())

    # ------------------------------------------------------------ wallets and ledger

    def change_wallet(self, uuid: str, point_type: PointType, change: WalletChange,
                      batch_keys: dict[str, str] | None = None, *, measure: bool = True) -> None:
        """Wallet update, ledger entries and credit batches of one change.

        `measure=False` for reversals: a reject takes measures back at the time they were
        counted (the original period), not at the time of the reject.
        """
        pk = user_pk(self.ctx.site_id, uuid)
        state = self.state_of(uuid)
        for cond in change.conditions:
            test = ">=" if cond.op == "gte" else "="
            if (cond.op == "gte" and cond.value <= 0) or (cond.op == "eq" and cond.value == 0):
                test = f"absent or {test}"  # a wallet never written reads as zeros
            state.require(wallet_attr(point_type.id, cond.figure), test, cond.value)
        # Only ADDs: concurrent credits never conflict.
        for figure, delta in change.deltas.items():
            state.add(wallet_attr(point_type.id, figure), delta)
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

    def absorb(self, other: Effects, result: dict[str, Any]) -> None:
        """`other`'s effects committed in this step's transaction, recorded as `other.step`'s.

        A type step that settles the rewards itself (it evaluated them on the state it read plus
        its own changes) commits them with its own: one transaction instead of two, and the
        activity, the user's state item and the marker written once. The rewards keep their own
        marker, result and record on the activity, so reject and the tabs read them as before.
        `other` started from a copy of this step's state changes and carries both now (one
        update per state item).
        """
        self.state = other.state
        offset = len(self.ops)
        self.guards.update({offset + i: guard for i, guard in other.guards.items()})
        self.ops.extend(other.ops)
        self.absorbed.append((other, result))

    def _all_measures(self) -> dict[tuple[str, str], dict[str, int]]:
        merged: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for source in (self.measures, *(other.measures for other, _ in self.absorbed)):
            for key, values in source.items():
                for name, value in values.items():
                    merged[key][name] += value
        return merged

    def _measure_ops(self) -> None:
        """Measures onto the state item (current periods) or the buckets of ended ones.

        A period the state item still holds after it ended moves out to its bucket in this same
        update (conditional on the version read: nothing else wrote the item meanwhile).
        """
        per_user: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
        boards: dict[tuple[str, str], dict[str, int]] = {}
        for (uuid, at), measures in self._all_measures().items():
            live = {k: v for k, v in measures.items() if v}
            if not live:
                continue
            moment = dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
            for key in bucket_keys(self.ctx, moment):
                for name, value in live.items():
                    per_user[uuid][key][name] += value
            boards[(uuid, at)] = live
        current = {granularity_of(k): k for k in bucket_keys(self.ctx, self.ctx.now)}
        for uuid in sorted(set(per_user) | set(self.state)):
            held = self.ctx.states.get(uuid)
            if held is None:  # a user this invocation changes without having read them
                held = self.ctx.states[uuid] = userstate.load(self.ctx.site_id, uuid) or UserState(uuid, {})
            self._route_measures(uuid, held, current, per_user.get(uuid, {}))
        scores: dict[tuple[str, str, str, str, str], int] = defaultdict(int)
        for (uuid, at), live in boards.items():
            moment = dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
            for board_id, period, key, measure, delta in self._board_deltas(live, moment):
                scores[(uuid, board_id, period, key, measure)] += delta
        for (uuid, board_id, period, key, measure), delta in scores.items():
            if delta:
                # A period's score is that period's measure (domain.md: points earned or behaviours
                # counted within the period): set from the state item once committed.
                self.scores[(uuid, board_id, period, key)] = (measure, delta > 0)

    def _route_measures(self, uuid: str, held: UserState, current: dict[str, str],
                        deltas: dict[str, dict[str, int]]) -> None:
        change = self.state_of(uuid)
        buckets: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        moved: set[str] = set()
        for granularity, key in current.items():
            holding = held.periods.get(granularity)
            if holding == key:
                if key in deltas:
                    change.require(period_attr(granularity), "=", key)
                continue
            if holding is not None:
                for name, value in held.measures.get(holding, {}).items():
                    buckets[holding][name] += value
                    change.remove(measure_attr(granularity, name))
                moved.add(granularity)
            elif key in deltas:
                change.require(period_attr(granularity), "absent")
            else:
                continue
            change.set(period_attr(granularity), key)
        if moved:
            change.require_version(held.version)
        for key, measures in deltas.items():
            granularity = granularity_of(key)
            if key != current[granularity]:
                for name, value in measures.items():
                    buckets[key][name] += value
                continue
            for name, value in measures.items():
                attr = measure_attr(granularity, name)
                if attr in change.removes:  # the period before held it: this one starts from here
                    change.removes.discard(attr)
                    change.set(attr, value)
                else:
                    change.add(attr, value)
        for key, measures in buckets.items():
            op = bucket_add(self.ctx.site_id, uuid, key, measures)
            if op is not None:
                self.ops.append(op)

    def _board_periods(self, at: dt.datetime) -> list[tuple[str, str, str, str]]:
        """(board, period, period key at `at`, the measure it ranks by) of every board period."""
        out: list[tuple[str, str, str, str]] = []
        for board in self.ctx.mechanics.leaderboards.values():
            measure = ranked_measure(board)
            for period in board.periods:
                key = "all" if period == "allTime" else period_key(BOARD_PERIODS[period], at,
                                                                    self.ctx.tz, self.ctx.week_start)
                out.append((board.id, period, key, measure))
        return out

    def _board_deltas(self, measures: dict[str, int], at: dt.datetime) -> list[tuple[str, str, str, str, int]]:
        return [(board_id, period, key, measure, measures[measure])
                for board_id, period, key, measure in self._board_periods(at) if measures.get(measure)]

    def keep_scores(self, *, everything: bool = False, users: list[str] | None = None) -> None:
        """The live scores this commit moved, set from the state item as stored: one write per
        user and board, whatever the number of periods (`rank_store.put_live`).

        Outside the transaction (a plain write costs half a transactional one) and safe there:
        the scores are absolute, read back after the commit (so they hold every commit before
        it, a gift's credit made meanwhile too), never older than what is stored (the state
        item's version rides on the live item) and written on the live item as read (another
        writer in between makes this one read again). An ended period's score (a reject after
        the period turned) is its bucket's, restated on the entry that holds it. `everything`:
        every board period of `users` (default: the users read), for a step that found its
        commit already applied or its work already ended (its first run may have died between
        the commit and these writes).
        """
        wanted: dict[str, dict[str, dict[tuple[str, str], tuple[str, bool | None]]]] = defaultdict(dict)
        for (uuid, board_id, period, key), (measure, rose) in self.scores.items():
            wanted[uuid].setdefault(board_id, {})[(period, key)] = (measure, rose)
        current = {(board_id, period): key for board_id, period, key, _ in self._board_periods(self.ctx.now)}
        if everything:
            for uuid in users if users is not None else list(self.ctx.states):
                for board_id, period, key, measure in self._board_periods(self.ctx.now):
                    wanted[uuid].setdefault(board_id, {}).setdefault((period, key), (measure, None))
        for uuid, boards in sorted(wanted.items()):
            ended = sorted({key for board_id, periods in boards.items() for period, key in periods
                            if key != current.get((board_id, period))})
            found = None if everything or ended else self._as_committed(uuid)
            for _ in range(LIVE_SCORE_TRIES):
                if found is None:
                    found = rank_store.live_items(self.ctx.site_id, uuid, sorted(boards),
                                                  extra=[USER_STATE_SK, *(bucket_sk(k) for k in ended)])
                if self._set_live(uuid, boards, current, found):
                    break
                found = None  # a live item changed since it was read: read them all again

    def _as_committed(self, uuid: str) -> dict[str, dict[str, Any]] | None:
        """A pinned user's state item as the commit left it and their live items as read with
        it, by sort key: what keep_scores would read back (None for a user not pinned). A live
        item written meanwhile fails its put's condition, and keep_scores reads them then."""
        if uuid not in self.pinned:
            return None
        held = self.ctx.states[uuid]  # pinned only when read with its live items
        return {USER_STATE_SK: self.state_of(uuid).applied_to(held.item), **(held.live or {})}

    def _pin_scored_state(self) -> None:
        """The activity's own user, when the commit moves their scores and their live items were
        read with their state: the commit requires the version read, so its result is known and
        keep_scores writes the live items without reading anything back first (one request less
        an activity that moves a leaderboard). Other users (a gift's receiver, who others may
        credit at the same moment) are not pinned; for the activity's own user, whose work runs
        one at a time, a writer in between is rare and makes the step read again (StepConflict)."""
        uuid = self.ctx.uuid
        held = self.ctx.states.get(uuid)
        if (held is None or held.live is None or uuid not in self.state
                or not any(key[0] == uuid for key in self.scores)):
            return
        self.state[uuid].require_version(held.version)
        self.pinned.add(uuid)

    def _set_live(self, uuid: str, boards: dict[str, dict[tuple[str, str], tuple[str, bool | None]]],
                  current: dict[tuple[str, str], str], found: dict[str, dict[str, Any]]) -> bool:
        """One pass of keep_scores over one user's boards; False when a write met another."""
        held = from_state_item(uuid, {}, found.get(USER_STATE_SK))
        if held.version is None:
            return True
        done = True
        for board_id, periods in sorted(boards.items()):
            seen = found.get(board_live_sk(board_id))
            restating = any(key != current.get((board_id, period)) for period, key in periods)
            stored = int(seen.get("stateVersion", 0)) if seen is not None else -1
            if stored > held.version or (stored == held.version and not restating):
                continue  # this state, or a newer one, is there already
            updates = [ScoreUpdate(period, key, held.measures.get(key, {}).get(measure, 0), rose)
                       for (period, key), (measure, rose) in sorted(periods.items())
                       if key == current.get((board_id, period))]
            entries = next_entries(seen or {}, updates, self.ctx.now_iso)
            for (period, key), (measure, _) in sorted(periods.items()):
                if key != current.get((board_id, period)):
                    bucket = found.get(bucket_sk(key))
                    entries = restated_entries(entries, period, key, measures_of(bucket, held, key).get(measure, 0))
            if seen is not None and entries == entries_held(seen):
                continue
            if not rank_store.put_live(self.ctx.site_id, uuid, board_id, entries, version=held.version, seen=seen):
                done = False
        return done

    def operations(self) -> list[dict[str, Any]]:
        """Every operation of the commit: the steps' own, the measures', one per state item.

        Called once, when the commit is made (it routes the measures collected so far).
        """
        self._measure_ops()
        self._pin_scored_state()
        for uuid, change in sorted(self.state.items()):
            op = change.operation(self.ctx.site_id, uuid)
            if op is not None:
                self.ops.append(op)
        return self.ops

    def guarded(self, operation: Guarded) -> None:
        """A reversal operation whose failed condition is a refusal or a conflict, not a crash."""
        self.guards[len(self.ops)] = operation
        self.ops.append(operation.op)

    # ------------------------------------------------------------ commit

    def record(self) -> dict[str, Any]:
        """What reject needs to undo this step exactly."""
        return {"ledger": [self._compact(row) for row in self.ledger],
                "measures": [{"uuid": u, "at": at, "values": dict(m)} for (u, at), m in self.measures.items()],
                "at": self.ctx.now_iso, **self.extra_record}

    def _compact(self, row: dict[str, Any]) -> dict[str, Any]:
        """A ledger row as the activity records it: what a reversal needs, nothing the activity
        itself says (its id, the step's time, its own user) and no empty field. The record
        keeps the activity item under 1 KB, where a write costs 2 units in a transaction, not 4."""
        kept = {k: row[k] for k in ("pointId", "amount", "kind", "bookedUnder")}
        kept.update({k: row[k] for k in ("expiresAt", "batchId", "shortfall") if row.get(k)})
        if row.get("uuid") and row["uuid"] != self.ctx.uuid:
            kept["uuid"] = row["uuid"]
        return kept

    def _outbox(self, status_note: dict[str, Any] | None) -> dict[str, Any] | None:
        """The commit's events as one outbox item's Put, in its own transaction: an event exists
        if and only if its effect happened (a retried or duplicated step finds the marker and
        records nothing). Only on a site with webhook endpoints (the site item says how many)."""
        if not int(self.ctx.site.get("webhookEndpoints") or 0):
            return None
        parts = [self, *(other for other, _ in self.absorbed)]
        ledger = [row for part in parts for row in part.ledger]
        notices = [notice for part in parts for notice in part.notices]
        status = (status_note or {}).get("status")
        ended = status if status in activity_store.ENDED_STATUSES else None
        if not ledger and not notices and ended is None:
            return None
        balances: dict[tuple[str, str], int | None] = {}
        for row in ledger:
            held = self.ctx.states.get(str(row["uuid"]))
            wallet = held.wallets.get(str(row["pointId"])) if held is not None else None
            balances.setdefault((str(row["uuid"]), str(row["pointId"])), wallet.balance if wallet else (
                0 if held is not None else None))
        events = webhook_events.commit_events(site=self.ctx.site_id, activity_id=self.ctx.activity_id, step=self.step,
                                              at=self.ctx.now_iso, ledger=ledger, balances=balances, notices=notices,
                                              ended=ended)
        preferences = {uuid: dict((held.profile.get("settings") or {}).get("notifications") or {})
                       for uuid, held in self.ctx.states.items()}
        return webhook_store.outbox_put(self.ctx.site_id, self.ctx.uuid, self.ctx.activity_id,
                                        [part.step for part in parts], events, preferences, self.ctx.now_iso)

    def commit(self, result: dict[str, Any], *, status_note: dict[str, Any] | None = None) -> bool:
        """Apply everything at once. False when this step had already been applied."""
        if status_note is None and self.ctx.closing is not None:
            status_note = self.ctx.closing(self, result)
        self.result_blocked = bool(result.get("blocked"))
        marker_values: dict[str, Any] = {":now": self.ctx.now_iso, ":r": result, ":e": self.record()}
        expression = "SET steps.#step = :now, results.#step = :r, effects.#step = :e"
        for i, value in enumerate((status_note or {}).values()):
            expression += f", #n{i} = :n{i}"
            marker_values[f":n{i}"] = value
        names = {"#step": self.step, "#status": "status",
                 **{f"#n{i}": n for i, n in enumerate(status_note or {})}}
        absent = ""
        for i, (other, part_result) in enumerate(self.absorbed):
            expression += f", steps.#p{i} = :now, results.#p{i} = :pr{i}, effects.#p{i} = :pe{i}"
            names[f"#p{i}"] = other.step
            marker_values[f":pr{i}"], marker_values[f":pe{i}"] = part_result, other.record()
            absent += f" AND attribute_not_exists(steps.#p{i})"
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
                              condition=f"attribute_exists(PK) AND attribute_not_exists(steps.#step){absent} "
                                        f"AND {expected}")
        ops = [marker, *self.operations()]
        outbox = self._outbox(status_note)
        if outbox is not None:
            ops.append(outbox)
        if len(ops) > MAX_TRANSACTION_ITEMS:
            raise ActivityRuleBroken("TooManyEffects", f"this activity changes {len(ops)} items; the limit is "
                                     f"{MAX_TRANSACTION_ITEMS}")
        try:
            db.transact(ops)
        except db.TransactionCancelled as err:
            if err.failed_at(0):  # the marker: this step was applied already (a redelivery)
                self.applied = False
                if self.step != "reject":
                    self.keep_scores(everything=True)
                return False
            failed = [i - 1 for i in err.failed()]  # positions among operations(), after the marker
            refusals = [g.refusal for i in failed if (g := self.guards.get(i)) and g.refusal]
            if refusals:
                raise ReversalRefused("; ".join(refusals)) from err
            if failed:
                raise StepConflict(f"state changed under step {self.step}: {err.reasons}") from err
            raise  # refused for another reason (an item too large): not worth a retry
        self.applied = True
        if self.ends_work:
            # After the commit, as a plain delete (1 write unit, 2 inside the transaction): a run
            # that dies before it leaves the marker of ended work, which whoever finds it next
            # (the user's next work, or the reconciler) removes (workflow.steps).
            activity_store.clear_marker(self.ctx.site_id, self.ctx.uuid, self.ctx.activity_id)
        self.keep_scores()
        if outbox is not None:  # its deliveries made at once (the sweep makes any hand-off lost here)
            webhook_worker.dispatch_outbox(self.ctx.site_id, self.ctx.uuid, webhook_store.outbox_sk(
                self.ctx.activity_id, self.step))
        if self.retagged and any(board.tags for board in self.ctx.mechanics.leaderboards.values()):
            rank_store.touch_live(self.ctx.site_id, self.ctx.uuid)
        self.finished = (status_note or {}).get("status") in activity_store.ENDED_STATUSES
        self.ctx.results[self.step] = result
        for other, part_result in self.absorbed:
            self.ctx.results[other.step] = part_result
        return True

    def changed(self) -> dict[str, list[str]]:
        """What the rewards step must look at after this step: verbs, earned points, rewards."""
        if self.rewards_settled:
            return {"verbs": [], "points": []}
        return {
            "verbs": [self.extra_record["verb"]] if self.extra_record.get("verb") else [],
            "points": sorted({e["pointId"] for e in self.ledger if e["bookedUnder"] == "earned"}),
        }
