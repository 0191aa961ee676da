"""Point expiry: expirable credits past their date leave the balance as `expired` ledger entries.

Per site and run (run key: the site-local date of `now`; the schedule runs hourly, a site's run
happens in the first hour after its local midnight, when credits expire), for every user and
expirable point type, one Query reads the credit batches that expire in `(through, now]` and
still hold points (`E#{pointId}#{expiresAt}#...` sorts by expiry: a key range, not a history;
`through` is the previous complete run's `now`). For a user with such batches:
1. the user's state (`S#`) is read; `engine.wallet.expire` books an `expiry` entry per lapsing
   batch (oldest first, only the unconsumed remainder) and the wallet deltas;
2. on ladders that can demote (`canDemote`), levels of those point types are re-evaluated with
   `engine.rewards.evaluate_rewards` (criteria on `earned - expired`): a level that stops
   holding is marked lost (`lostAt`), as processing does;
3. everything is one TransactWriteItems built by the same `Effects.change_wallet` that
   activities use (wallet ADDs with the condition `balance >= lapsing`, ledger entries, batch
   updates conditioned on `remaining`), led by a marker item `J#expiry#{runKey}#{firstBatch}`
   (condition `attribute_not_exists`): a second attempt of the same run cancels on it, a debit
   racing with it cancels it on the batch or balance condition and the user is re-read.
So `balance == sum(ledger)` holds after every transaction, and running the job twice changes
nothing.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from chalicelib import clock
from chalicelib.activities.effects import Context, Effects
from chalicelib.engine import wallet
from chalicelib.engine.wallet import CreditBatch
from chalicelib.jobs import segments
from chalicelib.models.mechanics import PointType, SiteMechanics
from chalicelib.store import db, userstate
from chalicelib.store import jobs as store
from chalicelib.store.keys import reward_sk, user_pk
from chalicelib.store.userstate import parse_time

JOB = "expiry"
# Each lapsing batch is two operations (ledger entry, batch update); a transaction takes 100.
MAX_BATCHES_PER_TRANSACTION = 40
MAX_ATTEMPTS = 5
Item = dict[str, Any]


class ExpiryConflict(Exception):
    """Concurrent debits kept cancelling one user's expiry transaction."""


def _batch(item: Item) -> CreditBatch:
    earned_at, expires_at = parse_time(item["earnedAt"]), parse_time(item["expiresAt"])
    assert earned_at is not None and expires_at is not None
    return CreditBatch(str(item["batchId"]), earned_at, expires_at, int(item["amount"]), int(item["remaining"]),
                       int(item.get("expired", 0)))


def demoting(mechanics: SiteMechanics, point_ids: list[str]) -> bool:
    """Whether lowering `earned - expired` of these point types can cost a level."""
    return any(mechanics.ladder_can_demote(level.ladder)
               for pid in point_ids for level in mechanics.levels_by_point.get(pid, ()))


def expire_user(site: str, site_item: Item, mechanics: SiteMechanics, uuid: str, due: dict[str, list[Item]],
                now: dt.datetime, run_key: str) -> Counter[str]:
    """Expire one user's due batches (as read) in as few transactions as the limit allows."""
    counts: Counter[str] = Counter()
    pending = sorted(((pid, item) for pid, items in due.items() for item in items),
                     key=lambda p: (str(p[1]["expiresAt"]), str(p[1]["batchId"])))
    attempts = 0
    while pending:
        chunk, rest = pending[:MAX_BATCHES_PER_TRANSACTION], pending[MAX_BATCHES_PER_TRANSACTION:]
        outcome = _expire_chunk(site, site_item, mechanics, uuid, chunk, now, run_key)
        if outcome is None:  # a concurrent debit changed the batches: read them again
            attempts += 1
            if attempts >= MAX_ATTEMPTS:
                # The page is not checkpointed: this run stays incomplete and the next one retries.
                raise ExpiryConflict(f"user '{uuid}' kept changing under the expiry of {run_key}")
            fresh: list[tuple[str, Item]] = []
            for pid in dict.fromkeys(p for p, _ in chunk):
                fresh.extend((pid, i) for i in store.due_credits(site, uuid, pid, None, clock.iso(now),
                                                                 consistent=True))
            pending = sorted(fresh, key=lambda p: (str(p[1]["expiresAt"]), str(p[1]["batchId"]))) + [
                p for p in rest if p[1]["batchId"] not in {i["batchId"] for _, i in fresh}]
            continue
        counts.update(outcome)
        pending = rest
    return counts


def _expire_chunk(site: str, site_item: Item, mechanics: SiteMechanics, uuid: str, chunk: list[tuple[str, Item]],
                  now: dt.datetime, run_key: str) -> Counter[str] | None:
    state = userstate.load(site, uuid)
    if state is None:
        return Counter()
    ctx = Context(site, site_item, mechanics, {"id": "", "uuid": uuid}, now)
    ctx.states[uuid] = state
    effects = Effects(ctx, JOB)
    expired: dict[str, int] = {}
    by_point: dict[str, list[Item]] = {}
    for pid, item in chunk:
        by_point.setdefault(pid, []).append(item)
    for pid, items in by_point.items():
        point_type: PointType | None = mechanics.point_types.get(pid)
        if point_type is None or not point_type.expirable:
            continue
        change = wallet.expire(point_type, state.wallet(pid), [_batch(i) for i in items], now)
        if not change.entries:
            continue
        effects.change_wallet(uuid, point_type, change, {str(i["batchId"]): str(i["SK"]) for i in items})
        expired[pid] = -sum(e.amount for e in change.entries)
        state.wallets[pid] = change.after
    if not expired:
        return Counter()
    lost: list[str] = []
    if demoting(mechanics, list(expired)):
        from chalicelib.activities.rewards import progress_of
        from chalicelib.engine.rewards import evaluate_rewards

        outcome = evaluate_rewards(mechanics, progress_of(state), now, ctx.tz, ctx.week_start,
                                   changed_points=list(expired))
        for reward_id in outcome.lost:
            effects.ops.append(db.tx_update(user_pk(site, uuid), reward_sk(reward_id), "SET lostAt = :now",
                                            values={":now": ctx.now_iso}, condition="attribute_exists(PK)"))
            lost.append(reward_id)
    first_batch = str(chunk[0][1]["batchId"])
    marker = store.expiry_marker(site, uuid, run_key, first_batch, now,
                                 {"at": ctx.now_iso, "expired": expired, "lost": lost})
    try:
        db.transact([marker, *effects.operations()])
    except db.TransactionCancelled as err:
        if err.failed_at(0):
            return Counter({"alreadyExpired": 1})
        if err.failed():
            return None
        raise
    except db.Busy:  # another transaction held an item (or a throttle): read again, a bounded number of times
        return None
    counts: Counter[str] = Counter({"usersExpired": 1, "levelsLost": len(lost)})
    for pid, amount in expired.items():
        counts[f"points:{pid}"] += amount
    return counts


def prepare(site: str, site_item: Item, now: dt.datetime, run_key: str, mark: Item | None) -> segments.Plan | None:
    from chalicelib.store import mechanics as mechanics_store

    mechanics = mechanics_store.load(site, fresh=True).mechanics
    expirable = [pt.id for pt in mechanics.point_types.values() if pt.expirable]
    if not expirable:
        return None
    since = str(mark["through"]) if mark and mark.get("through") else None
    until = clock.iso(now)

    def handle_page(users: list[Item]) -> Counter[str]:
        counts: Counter[str] = Counter()
        for user in users:
            uuid = str(user["uuid"])
            due = {pid: found for pid in expirable if (found := store.due_credits(site, uuid, pid, since, until))}
            if due:
                counts.update(expire_user(site, site_item, mechanics, uuid, due, now, run_key))
        return counts

    return segments.Plan(handle_page, {"through": until})


def run(now: dt.datetime | None = None, sites: list[str] | None = None, **options: Any) -> dict[str, Any]:
    """Expire the due credits of every site (or the given ones) as of `now`."""
    return segments.run_job(JOB, prepare, now or clock.now(), sites, **options)
