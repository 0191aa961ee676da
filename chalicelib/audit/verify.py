"""Invariant checker: reads the table directly and reports every broken money rule.

What it checks, per site (all sites unless told):
- wallets: every wallet equals the sum of its user's ledger for that point type, and
  `balance = earned - spent - redeemed - expired - adjusted`; a ledger without a wallet is a
  violation too.
- coupons: no code of a `multiple` coupon is held twice, and no more copies exist than the
  coupon's stock counter handed out.
- bounties: at most one payout (a `bounty_payout` ledger entry of an award that is not
  REJECTED or FAILED) per bounty; an awarded bounty names the award that closed it, an open
  one has none.
- goods: an activity that was REJECTED (or FAILED and compensated) handed back every coupon it
  handed out (now `refunded`, and not redeemed meanwhile by an activity that still stands),
  and a bounty whose start was rejected was neither awarded nor cancelled: no goods are kept
  whose payment was returned.
- activities: a SUCCEEDED one has its type step's marker and its finish (a `finish` marker, or
  `finishedBy` naming the step whose commit carried it) and every ledger entry its
  steps recorded; a REJECTED one also has its reject marker and its entries sum with their
  reversals to zero per wallet (less the recorded stopAtZero shortfall and what had already
  lapsed; a reject that revoked a reward another activity unlocked may take back more, never
  less); a FAILED one left no ledger entry, or compensated all it booked (its `compensate`
  step reversed its entries, by the same rule as a reject).
- ordering markers: none left of an activity that ended, nor one without its activity once the
  accept's grace has passed.
- events: an activity's recorded events (its commits' outbox items, on a site with webhook
  endpoints) are its effects, no more and no fewer: one `points.changed` per ledger entry its
  steps recorded (same user, point type and amount), one `activity.*` per status it ended in,
  the last of them its status now, and no event id twice.
- leaderboard counters: per board period, the users its top counter item counts in each band
  are exactly the rank items counted there as of that item's run (a rank item a later run
  wrote at its `before` score), whenever it is read, a run of the rank job under way or not.

Users are listed with paged Queries of GSI1 (each `{site}#USERS#{nn}` shard and `{site}#USERS`),
sites with GSI1 (`SITES`), and each user's partition is read with paged Queries: never a Scan. It is an offline tool (make
verify, the soak run, the tests), so it reads whole partitions with strong consistency.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from chalicelib import clock
from chalicelib.store import db, stock
from chalicelib.store.activities import ENDED_STATUSES, accept_may_be_writing
from chalicelib.store.keys import (
    ACTIVITY,
    LEDGER,
    PENDING,
    SITES_INDEX_PK,
    USER_STATE_SK,
    user_pk,
    users_index_pks,
)
from chalicelib.store.userstate import WALLET_FIGURES, from_state_item

TYPE_STEPS = ("behaviour", "point", "coupon", "gift", "bounty")


@dataclass(frozen=True)
class Violation:
    site: str
    rule: str
    where: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.site}] {self.rule}: {self.where}: {self.detail}"


@dataclass
class Report:
    checked: Counter[str] = field(default_factory=Counter)
    violations: list[Violation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def add(self, site: str, rule: str, where: str, detail: str) -> None:
        self.violations.append(Violation(site, rule, where, detail))

    def summary(self) -> str:
        lines = ["checked: " + ", ".join(f"{n} {what}" for what, n in sorted(self.checked.items()))]
        if self.ok:
            lines.append("no violations")
        else:
            lines.append(f"{len(self.violations)} violation(s):")
            lines.extend(f"  {v}" for v in self.violations)
        return "\n".join(lines)


def _paged(**query: Any) -> Iterable[db.Item]:
    start: dict[str, Any] | None = None
    while True:
        items, start = db.query_window(limit=100, start_key=start, **query)
        yield from items
        if not start:
            return


def site_ids() -> list[str]:
    return [str(i["id"]) for i in _paged(index="GSI1", key_condition="GSI1PK = :pk",
                                          values={":pk": SITES_INDEX_PK})]


def user_ids(site: str) -> Iterable[str]:
    for pk in users_index_pks(site):
        for item in _paged(index="GSI1", key_condition="GSI1PK = :pk", values={":pk": pk}):
            yield str(item["uuid"])


def _partition(site: str, uuid: str) -> list[db.Item]:
    return list(_paged(key_condition="PK = :pk", values={":pk": user_pk(site, uuid)}, consistent=True))


@dataclass
class _SiteData:
    ledger: list[db.Item] = field(default_factory=list)  # every entry of every user, with `uuid`
    activities: dict[str, db.Item] = field(default_factory=dict)  # the owner's copy, by id
    coupons: list[db.Item] = field(default_factory=list)
    bounties: dict[str, db.Item] = field(default_factory=dict)
    markers: list[db.Item] = field(default_factory=list)  # ordering markers `P#`, with `owner`
    rank_items: list[db.Item] = field(default_factory=list)  # `S#K#` of the counters' layout (with `run`)
    outboxes: dict[str, list[db.Item]] = field(default_factory=lambda: defaultdict(list))  # by activity id


def verify(sites: list[str] | None = None, report: Report | None = None) -> Report:
    report = report or Report()
    for site in sites if sites is not None else site_ids():
        verify_site(site, report)
    return report


def verify_site(site: str, report: Report) -> Report:
    report.checked["sites"] += 1
    data = _SiteData()
    for uuid in user_ids(site):
        report.checked["users"] += 1
        items = _partition(site, uuid)
        _check_wallets(site, uuid, items, report)
        for item in items:
            sk: str = item["SK"]
            if sk.startswith(LEDGER):
                data.ledger.append({**item, "uuid": item.get("uuid") or uuid})
            elif sk.startswith(ACTIVITY) and item.get("role") != "target":
                data.activities[str(item["id"])] = item
            elif sk.startswith("S#Q#"):
                data.coupons.append({**item, "owner": uuid})
            elif sk.startswith("S#Y#"):
                data.bounties[str(item["bountyId"])] = {**item, "owner": uuid}
            elif sk.startswith(PENDING):
                data.markers.append({**item, "owner": uuid})
            elif sk.startswith("S#K#") and "run" in item:
                data.rank_items.append(item)
            elif sk.startswith("OUT#"):
                data.outboxes[sk.split("#")[1]].append(item)
    _check_coupons(site, data, report)
    _check_bounties(site, data, report)
    _check_goods(site, data, report)
    _check_activities(site, data, report)
    _check_markers(site, data, report)
    _check_rank_counters(site, data, report)
    _check_events(site, data, report)
    return report


def _check_events(site: str, data: _SiteData, report: Report) -> None:
    seen: set[str] = set()
    for activity_id, outboxes in sorted(data.outboxes.items()):
        events = [e for box in outboxes for e in box.get("events") or []]
        report.checked["events"] += len(events)
        ids = [str(e["id"]) for e in events]
        if len(set(ids)) != len(ids) or seen & set(ids):
            report.add(site, "event-once", activity_id, "an event id recorded twice")
        seen.update(ids)
        activity = data.activities.get(activity_id)
        if activity is None:
            report.add(site, "event-has-effect", activity_id, "events of an activity that does not exist")
            continue
        owner = str(activity["uuid"])
        effects = activity.get("effects") or {}
        for box in outboxes:
            steps = [str(step) for step in box.get("steps") or []]
            booked = Counter((str(row.get("uuid") or owner), str(row["pointId"]), int(row["amount"]))
                             for step in steps for row in (effects.get(step) or {}).get("ledger") or [])
            told = Counter((str(e["data"]["uuid"]), str(e["data"]["pointId"]), int(e["data"]["delta"]))
                           for e in box.get("events") or [] if e["type"] == "points.changed")
            if booked != told:
                report.add(site, "event-has-effect", f"{activity_id} {steps}",
                           f"ledger {dict(booked)} but points.changed events {dict(told)}")
            ends = [str(e["type"]) for e in box.get("events") or [] if str(e["type"]).startswith("activity.")]
            status = str(activity.get("status", ""))
            if "reject" in steps:
                wanted = ["activity.rejected"]
            elif "compensate" in steps or "fail" in steps:
                wanted = ["activity.failed"]
            elif activity.get("finishedBy") in steps:
                wanted = ["activity.succeeded"]
            else:
                wanted = []
            if ends != wanted:
                report.add(site, "event-has-effect", f"{activity_id} {steps}",
                           f"status {status} (finished by {activity.get('finishedBy')}) but end events {ends}")


def _check_rank_counters(site: str, data: _SiteData, report: Report) -> None:
    from chalicelib.engine.leaderboards import slot_of
    from chalicelib.jobs.ranks import histogram_value
    from chalicelib.store import ranks

    by_period: dict[tuple[str, str], list[db.Item]] = defaultdict(list)
    for item in data.rank_items:
        by_period[(str(item["boardId"]), str(item["periodKey"]))].append(item)
    tops = ranks.histogram_items([(ranks.histogram_pk(site, board, key), ranks.HISTOGRAM_TOP_SK)
                                  for board, key in by_period])
    for (board, key), items in sorted(by_period.items()):
        top = tops.get((ranks.histogram_pk(site, board, key), ranks.HISTOGRAM_TOP_SK))
        run = int((top or {}).get("run", 0))
        counted = Counter(slot_of(value).band for item in items
                          if (value := histogram_value(item, run)) is not None)
        report.checked["leaderboard periods"] += 1
        if dict(counted) != ranks.counts_of(top):
            report.add(site, "rank-counters", f"{board} {key}",
                       f"counted per band {dict(sorted(ranks.counts_of(top).items()))}, rank items "
                       f"{dict(sorted(counted.items()))}")


def _check_markers(site: str, data: _SiteData, report: Report) -> None:
    """An activity's ordering marker stands for unfinished work: once the activity ended it is
    gone (else it would hold the user's later work back), and one with no activity behind it
    (an accept that died between its two writes) is gone once its accept's grace has passed."""
    now = clock.now()
    for marker in data.markers:
        work = marker.get("todo") or {}
        if work.get("job") != "process":
            continue  # a reject job's marker: its activity stays SUCCEEDED while it is pending
        gate = str(marker["SK"])[len(PENDING):]
        where = f"marker {gate} (user {marker['owner']})"
        activity = data.activities.get(gate)
        if activity is not None and activity.get("status") in ENDED_STATUSES:
            report.add(site, "marker-of-unfinished-work", where, f"the activity is {activity['status']}")
        if activity is None and not accept_may_be_writing(gate, now):
            report.add(site, "marker-of-unfinished-work", where, "no activity behind it, past the accept's grace")


def _undone(activity: db.Item | None) -> bool:
    """The activity's payment was returned: REJECTED, or FAILED with its steps compensated."""
    if activity is None:
        return False
    status = activity.get("status")
    return status == "REJECTED" or (status == "FAILED" and "compensate" in (activity.get("steps") or {}))


def _check_goods(site: str, data: _SiteData, report: Report) -> None:
    """Goods handed out whose payment was returned (the reject race of a coupon or bounty)."""
    coupons = {str(c.get("userCouponId") or c["SK"].removeprefix("S#Q#")): c for c in data.coupons}
    for activity_id, activity in sorted(data.activities.items()):
        if not _undone(activity):
            continue
        for step, record in (activity.get("effects") or {}).items():
            if step in ("reject", "compensate", "rewards"):
                continue  # a reward's prize coupon follows the reward, not the payment
            for acquired in (record or {}).get("acquired", []):
                coupon = coupons.get(str(acquired.get("userCouponId")))
                if coupon is None:
                    continue
                where = f"coupon {acquired.get('userCouponId')} of {coupon['owner']}"
                used_by = coupon.get("redeemedBy")
                if coupon.get("status") != "refunded":
                    report.add(site, "goods-kept-payment-returned", where,
                               f"still {coupon.get('status')} although {activity_id}, which handed it out, "
                               f"is {activity.get('status')}")
                elif used_by and used_by != activity_id and not _undone(data.activities.get(str(used_by))):
                    report.add(site, "goods-kept-payment-returned", where,
                               f"redeemed by {used_by}, which stands, although {activity_id} (its purchase) "
                               f"is {activity.get('status')} and its price was returned")
    for bounty_id, bounty in sorted(data.bounties.items()):
        start = data.activities.get(bounty_id)
        if _undone(start) and bounty.get("status") in ("awarded", "cancelled") \
                and not _undone(data.activities.get(str(bounty.get("closedBy")))):
            report.add(site, "goods-kept-payment-returned", f"bounty {bounty_id} of {bounty['owner']}",
                       f"{bounty.get('status')} by {bounty.get('closedBy')} although its start is "
                       f"{(start or {}).get('status')} and its escrow was returned")


def _check_wallets(site: str, uuid: str, items: list[db.Item], report: Report) -> None:
    state_item = next((item for item in items if item["SK"] == USER_STATE_SK), None)
    wallets = {p: {f: getattr(w, f) for f in WALLET_FIGURES}
               for p, w in from_state_item(uuid, {}, state_item).wallets.items()}
    sums: dict[str, int] = defaultdict(int)
    for item in items:
        if item["SK"].startswith(LEDGER):
            sums[str(item["pointId"])] += int(item["amount"])
            report.checked["ledger entries"] += 1
    for point_id in sorted(set(wallets) | set(sums)):
        report.checked["wallets"] += 1
        where = f"user {uuid} wallet {point_id}"
        wallet = wallets.get(point_id)
        if wallet is None:
            if sums[point_id]:
                report.add(site, "wallet-equals-ledger", where, f"no wallet but the ledger sums to {sums[point_id]}")
            continue
        f = {name: int(wallet.get(name, 0)) for name in WALLET_FIGURES}
        if f["balance"] != sums[point_id]:
            report.add(site, "wallet-equals-ledger", where, f"balance {f['balance']} but the ledger sums to "
                                                             f"{sums[point_id]}")
        derived = f["earned"] - f["spent"] - f["redeemed"] - f["expired"] - f["adjusted"]
        if f["balance"] != derived:
            report.add(site, "wallet-figures", where, f"balance {f['balance']} != earned - spent - redeemed - "
                                                       f"expired - adjusted = {derived} ({f})")


def _check_coupons(site: str, data: _SiteData, report: Report) -> None:
    from chalicelib.store import mechanics as mechanics_store

    coupons = mechanics_store.load(site, fresh=True).mechanics.coupons
    held: dict[str, list[db.Item]] = defaultdict(list)
    for item in data.coupons:
        held[str(item["couponId"])].append(item)
        report.checked["user coupons"] += 1
    for coupon_id, copies in sorted(held.items()):
        coupon = coupons.get(coupon_id)
        issued = stock.handed_out(site, coupon_id)
        acquired = [c for c in copies if c.get("acquiredBy") in ("purchase", "award")]
        if len(acquired) > issued:
            report.add(site, "coupon-stock", f"coupon {coupon_id}",
                       f"{len(acquired)} copies held but the stock handed out {issued}")
        if coupon is None or coupon.code_type != "multiple":
            continue
        codes = Counter(str(c.get("code")) for c in copies)
        for code, n in sorted(codes.items()):
            if n > 1:
                owners = sorted(str(c["owner"]) for c in copies if str(c.get("code")) == code)
                report.add(site, "coupon-code-once", f"coupon {coupon_id} code {code}",
                           f"handed out {n} times (to {', '.join(owners)})")


def _check_bounties(site: str, data: _SiteData, report: Report) -> None:
    payouts: dict[str, set[str]] = defaultdict(set)  # bounty id -> award activity ids that paid
    for entry in data.ledger:
        if entry.get("kind") != "bounty_payout":
            continue
        award = data.activities.get(str(entry["activityId"]))
        bounty_id = str(((award or {}).get("attrs") or {}).get("bountyId") or "?")
        if award is None or award.get("status") in ("REJECTED", "FAILED"):
            continue  # taken back (a rejected or compensated award nets to zero: checked below)
        payouts[bounty_id].add(str(entry["activityId"]))
    for bounty_id, bounty in sorted(data.bounties.items()):
        report.checked["bounties"] += 1
        paid = payouts.pop(bounty_id, set())
        where = f"bounty {bounty_id} of {bounty['owner']}"
        if len(paid) > 1:
            report.add(site, "bounty-paid-once", where, f"paid by {len(paid)} awards: {sorted(paid)}")
        if bounty.get("status") == "awarded" and paid and bounty.get("closedBy") not in paid:
            report.add(site, "bounty-paid-once", where, f"closed by {bounty.get('closedBy')} but paid by "
                                                         f"{sorted(paid)}")
        if bounty.get("status") == "open" and paid:
            report.add(site, "bounty-paid-once", where, f"still open but paid by {sorted(paid)}")
    for bounty_id, paid in sorted(payouts.items()):
        report.add(site, "bounty-paid-once", f"bounty {bounty_id}", f"paid by {sorted(paid)} but no bounty item")


def _check_activities(site: str, data: _SiteData, report: Report) -> None:
    by_activity: dict[str, list[db.Item]] = defaultdict(list)
    for entry in data.ledger:
        by_activity[str(entry.get("activityId"))].append(entry)
    for activity_id, activity in sorted(data.activities.items()):
        report.checked["activities"] += 1
        status = activity.get("status")
        report.checked[f"{str(status).lower()} activities"] += 1
        where = f"activity {activity_id} ({activity.get('type')}, user {activity.get('uuid')})"
        entries = by_activity.get(activity_id, [])
        steps = activity.get("steps") or {}
        if status == "FAILED":
            # FAILED means no effect: nothing booked, or what was booked compensated in full.
            if entries and "compensate" not in steps:
                report.add(site, "failed-has-no-effects", where, f"FAILED but {len(entries)} ledger entries exist "
                                                                  "and no compensation")
            elif entries:
                _check_reversal(site, where, activity, entries, report, rule="failed-has-no-effects",
                                record_step="compensate")
            continue
        if status not in ("SUCCEEDED", "REJECTED"):
            continue
        finished_by = activity.get("finishedBy") or "finish"
        missing = [s for s in (activity.get("type"), finished_by) if s not in steps]
        if missing:
            report.add(site, "succeeded-effects-present", where, f"step markers missing: {missing}")
        originals = [e for e in entries if e.get("kind") != "reversal"]
        recorded = Counter((str(r.get("uuid") or activity.get("uuid")), str(r["pointId"]), int(r["amount"]))
                           for step, record in (activity.get("effects") or {}).items()
                           if step not in ("reject", "compensate")
                           for r in (record or {}).get("ledger", []))
        stored = Counter((str(e["uuid"]), str(e["pointId"]), int(e["amount"])) for e in originals)
        if recorded != stored:
            report.add(site, "succeeded-effects-present", where,
                       f"ledger entries recorded {dict(recorded)} but stored {dict(stored)}")
        rejection = activity.get("rejection") or {}
        if status == "SUCCEEDED":
            if any(e.get("kind") == "reversal" for e in entries) and not rejection.get("pending"):
                report.add(site, "rejected-reversed", where, "reversal entries but the activity is not REJECTED")
            continue
        if "reject" not in steps:
            report.add(site, "rejected-reversed", where, "REJECTED without the reject step marker")
        _check_reversal(site, where, activity, entries, report)


def _check_reversal(site: str, where: str, activity: db.Item, entries: list[db.Item], report: Report, *,
                    rule: str = "rejected-reversed", record_step: str = "reject") -> None:
    net: dict[tuple[str, str], int] = defaultdict(int)
    for e in entries:
        # What a reversal could not take back is accounted for elsewhere: the stopAtZero
        # shortfall it records, and the part of a credit that had already lapsed (the expiry
        # job's entry took it; the reversal books it back under `expired` and takes it again).
        amount = int(e["amount"]) - int(e.get("shortfall") or 0)
        if e.get("kind") == "reversal" and e.get("bookedUnder") == "expired" and int(e["amount"]) > 0:
            amount -= int(e["amount"])
        net[(str(e["uuid"]), str(e["pointId"]))] += amount
    effects = activity.get("effects") or {}
    record = effects.get(record_step) or {}
    own_rewards = set(((activity.get("results") or {}).get("rewards") or {}).get("rewards") or [])
    revoked = {(str(m.get("uuid")), name[3:]) for m in record.get("measures", [])
               for name, value in (m.get("values") or {}).items() if name.startswith("rw:") and value < 0}
    # A reward revoked by this reject but unlocked by another activity: its prize is taken back too.
    revoked_elsewhere = any(reward not in own_rewards for _, reward in revoked)
    # A reward this activity unlocked whose criteria still hold without it (later activities
    # meet them) is not revoked, so its prize stays: the end state of "as if it never happened",
    # where a later activity would have unlocked it. Only a reject keeps such a prize.
    kept_prizes: dict[tuple[str, str], int] = defaultdict(int)
    if record_step == "reject":
        rewards_record = effects.get("rewards") or {}
        keepers = {str(u["uuid"]) for u in rewards_record.get("unlocked", [])
                   if (str(u["uuid"]), u["rewardId"]) not in revoked}
        for entry in rewards_record.get("ledger", []):
            uuid = str(entry.get("uuid") or activity.get("uuid"))
            if uuid in keepers and int(entry["amount"]) > 0:
                kept_prizes[(uuid, str(entry["pointId"]))] += int(entry["amount"])
    for (uuid, point_id), residual in sorted(net.items()):
        if residual == 0 or (residual < 0 and revoked_elsewhere):
            continue
        if 0 < residual <= kept_prizes[(uuid, point_id)]:
            continue
        report.add(site, rule, where,
                   f"user {uuid} {point_id}: entries and reversals sum to {residual} "
                   "(net of recorded shortfall and lapsed credit)")
