"""A user's current state: everything under `S#` in their partition, in one Query.

Most of it is one item, `S#STATE`, which an activity changes with one update (one write of one
item, however many wallets, counters and periods it moves). Its attributes are flat, because
DynamoDB's ADD works on top-level attributes only:
- `W|{pointId}|{figure}`: a wallet's figures (balance, earned, spent, redeemed, expired, adjusted);
- `U|{behaviourId}|total`, `|byPeriod`, `|lastAwardedAt`: a behaviour's limit counters;
- `g:{rewardId}`: gifts of that reward received; `gt:{rewardId}`: when the last one came;
- `P|{g}`: the period key whose measures the item holds for granularity `g` (d, w, m, q, y, a);
- `{g}|{measure}`: that period's measures (`pts:{pointId}` earned, `beh:{verb}` counted,
  `n:activities`, `n:gifts`, ...). The verb counts and the stats bar's totals are these
  measures (`beh:{verb}` of the current day, week, month and all time; `n:activities` and
  `n:gifts` of all time), never kept twice;
- `v`: the item's version, moved by every write; moving a period out is conditional on it.
A period's measures stay on the item while the period is current. The first write after it
ended moves them to the bucket item `B#{periodKey}` (ADD, in the same transaction, conditional on
the version read), where every ended period lives; a write for an ended period that the item no
longer holds goes to the bucket directly. A period's figure is therefore the bucket's plus the
state item's, when it holds that period (`measures_of`), and the KPI rollup reads both in one
transactional read (store/jobs.py): no writer and the rollup ever race for a figure.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from chalicelib.engine.behaviours import BehaviourUsage
from chalicelib.engine.wallet import CreditBatch, Wallet
from chalicelib.store import db
from chalicelib.store.keys import CREDIT, STATE, USER_STATE_SK, bucket_sk, user_pk
from chalicelib.store.reads import batch_get

# Granularities of the measures and the code each has in attribute names.
GRANULARITY_CODES = {"day": "d", "week": "w", "month": "m", "quarter": "q", "year": "y", "all": "a"}
_GRANULARITY_OF_CODE = {code: g for g, code in GRANULARITY_CODES.items()}
# The periods a verb count is kept for (period-repeating achievements read them).
COUNT_GRANULARITIES = ("day", "week", "month")
VERSION = "v"


def granularity_of(period_key: str) -> str:
    """`day:2026-12-01` -> day; `all` -> all."""
    return period_key.partition(":")[0]


def wallet_attr(point_id: str, figure: str) -> str:
    return f"W|{point_id}|{figure}"


def usage_attr(behaviour_id: str, part: str) -> str:
    return f"U|{behaviour_id}|{part}"


def gift_attr(reward_id: str) -> str:
    return f"g:{reward_id}"


def gift_time_attr(reward_id: str) -> str:
    """When the user last received this gift reward (its completion date on the Rewards tab)."""
    return f"gt:{reward_id}"


def period_attr(granularity: str) -> str:
    return f"P|{GRANULARITY_CODES[granularity]}"


def measure_attr(granularity: str, measure: str) -> str:
    return f"{GRANULARITY_CODES[granularity]}|{measure}"


def parse_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass
class UserState:
    uuid: str
    profile: dict[str, Any]
    wallets: dict[str, Wallet] = field(default_factory=dict)
    verb_counts: dict[str, dict[str, Any]] = field(default_factory=dict)
    usage: dict[str, BehaviourUsage] = field(default_factory=dict)
    rewards: dict[str, dict[str, Any]] = field(default_factory=dict)
    coupons: dict[str, dict[str, Any]] = field(default_factory=dict)
    bounties: dict[str, dict[str, Any]] = field(default_factory=dict)
    scores: dict[str, dict[str, Any]] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    gifts_received_at: dict[str, str] = field(default_factory=dict)
    # The state item's periods: granularity -> the period key it holds, and that key's measures.
    periods: dict[str, str] = field(default_factory=dict)
    measures: dict[str, dict[str, int]] = field(default_factory=dict)
    version: int | None = None
    # As read, when read with the rest of the state (`load`): the state item itself (None when
    # the user has none yet) and the leaderboard live items by sort key. None: not read.
    item: dict[str, Any] | None = None
    live: dict[str, dict[str, Any]] | None = None

    @property
    def blocked(self) -> bool:
        return bool(self.profile.get("blocked"))

    @property
    def member(self) -> bool:
        return bool(self.profile.get("member", True))

    @property
    def tags(self) -> list[str]:
        return list(self.profile.get("tags") or [])

    def wallet(self, point_id: str) -> Wallet:
        return self.wallets.get(point_id) or Wallet(point_id)


WALLET_FIGURES = ("balance", "earned", "spent", "redeemed", "expired", "adjusted")


def state_from_items(uuid: str, items: list[dict[str, Any]]) -> UserState | None:
    profile = next((i for i in items if i["SK"] == "S#PROFILE"), None)
    if profile is None:
        return None
    state = UserState(uuid, profile)
    state.live = live = {}
    for item in items:
        sk: str = item["SK"]
        kind, _, rest = sk[2:].partition("#")
        if kind == "L":
            live[sk] = item
        elif kind == "R":
            state.rewards[rest] = item
        elif kind == "Q":
            state.coupons[rest] = item
        elif kind == "Y":
            state.bounties[rest] = item
        elif kind == "K":
            state.scores[rest] = item
        elif sk == USER_STATE_SK:
            state.item = item
            _read_state_item(state, item)
    return state


def from_state_item(uuid: str, profile: dict[str, Any], item: dict[str, Any] | None) -> UserState:
    """A user's state from the profile and the state item alone (wallets, usage, measures)."""
    state = UserState(uuid, profile)
    _read_state_item(state, item or {})
    return state


def _read_state_item(state: UserState, item: dict[str, Any]) -> None:
    figures: dict[str, dict[str, int]] = {}
    usage: dict[str, dict[str, Any]] = {}
    by_code: dict[str, dict[str, int]] = {}
    for name, value in item.items():
        head, _, rest = name.partition("|")
        if head == "W":
            point_id, _, figure = rest.rpartition("|")
            figures.setdefault(point_id, {})[figure] = int(value)
        elif head == "U":
            behaviour_id, _, part = rest.rpartition("|")
            usage.setdefault(behaviour_id, {})[part] = value
        elif head == "P":
            state.periods[_GRANULARITY_OF_CODE[rest]] = str(value)
        elif head in _GRANULARITY_OF_CODE and rest:
            by_code.setdefault(head, {})[rest] = int(value)
        elif name.startswith("g:"):
            state.stats[name] = int(value)
        elif name.startswith("gt:"):
            state.gifts_received_at[name[3:]] = str(value)
    state.version = int(item[VERSION]) if VERSION in item else None
    state.wallets = {p: Wallet(p, *(f.get(n, 0) for n in WALLET_FIGURES)) for p, f in figures.items()}
    state.usage = {b: BehaviourUsage(int(u.get("total", 0)), {k: int(v) for k, v in (u.get("byPeriod") or {}).items()},
                                     parse_time(u.get("lastAwardedAt"))) for b, u in usage.items()}
    for code, measures in by_code.items():
        key = state.periods.get(_GRANULARITY_OF_CODE[code])
        if key is not None:
            state.measures[key] = measures
    all_time = state.measures.get("all", {})
    state.stats["activities"] = all_time.get("n:activities", 0)
    state.stats["giftsReceived"] = all_time.get("n:gifts", 0)
    verbs = {m[4:] for key, ms in state.measures.items() for m in ms if m.startswith("beh:")}
    for verb in verbs:
        counts: dict[str, Any] = {"total": all_time.get(f"beh:{verb}", 0)}
        for granularity in COUNT_GRANULARITIES:
            key = state.periods.get(granularity)
            if key is not None and f"beh:{verb}" in state.measures.get(key, {}):
                counts[f"p:{key}"] = state.measures[key][f"beh:{verb}"]
        state.verb_counts[verb] = counts


def measures_of(bucket: dict[str, Any] | None, state: UserState | None, period_key: str) -> dict[str, int]:
    """A period's measures: its bucket item's plus the state item's, while it holds the period."""
    out = {k: int(v) for k, v in (bucket or {}).items()
           if ":" in k and isinstance(v, int | float) and not isinstance(v, bool)}
    for name, value in ((state.measures.get(period_key) or {}) if state else {}).items():
        out[name] = out.get(name, 0) + value
    return out


def load(site: str, uuid: str) -> UserState | None:
    items = db.query_all(
        key_condition="PK = :pk AND begins_with(SK, :s)",
        values={":pk": user_pk(site, uuid), ":s": STATE},
    )
    return state_from_items(uuid, items)


def load_state_item(site: str, uuid: str) -> UserState:
    """The state item alone, as stored now (one strongly consistent GetItem)."""
    return from_state_item(uuid, {}, db.get(user_pk(site, uuid), USER_STATE_SK))


def ended_counts(site: str, state: UserState, period_keys: set[str]) -> dict[str, dict[str, int]]:
    """verb -> period key -> count, for the ended periods among `period_keys` the state item no
    longer holds (their buckets, one BatchGetItem of at most a few keys)."""
    wanted = sorted(k for k in period_keys if k not in state.measures)
    out: dict[str, dict[str, int]] = {}
    if not wanted:
        return out
    for item in batch_get([(user_pk(site, state.uuid), bucket_sk(k)) for k in wanted]):
        key = str(item["SK"]).removeprefix(bucket_sk(""))
        for name, value in measures_of(item, None, key).items():
            if name.startswith("beh:"):
                out.setdefault(name[4:], {})[key] = value
    return out


def load_credits(site: str, uuid: str, point_id: str) -> tuple[list[CreditBatch], dict[str, str]]:
    """Unconsumed expirable credits of one point type, earliest expiry first, and their keys."""
    items = db.query_all(
        key_condition="PK = :pk AND begins_with(SK, :p)",
        values={":pk": user_pk(site, uuid), ":p": f"{CREDIT}{point_id}#"},
    )
    batches, keys = [], {}
    for item in items:
        if int(item.get("remaining", 0)) <= 0 and int(item.get("expired", 0)) <= 0:
            continue
        earned_at = parse_time(item["earnedAt"])
        expires_at = parse_time(item["expiresAt"])
        assert earned_at is not None and expires_at is not None
        batches.append(CreditBatch(item["batchId"], earned_at, expires_at, int(item["amount"]),
                                   int(item["remaining"]), int(item.get("expired", 0))))
        keys[item["batchId"]] = item["SK"]
    return batches, keys


# ---------------------------------------------------------------- writing the state item

# A condition on one attribute: "=", ">=", or either of them with "absent allowed" (an absent
# number reads as zero), "absent", or "absent or =".
Test = str


@dataclass
class StateChange:
    """Everything one commit changes on one user's state item, as one update of one item.

    Adds commute (concurrent credits never conflict); sets and removes are decided on what was
    read, and the conditions say what must still hold for them.
    """

    adds: dict[str, int] = field(default_factory=dict)
    sets: dict[str, Any] = field(default_factory=dict)
    removes: set[str] = field(default_factory=set)
    conditions: dict[str, tuple[Test, Any]] = field(default_factory=dict)

    def add(self, attr: str, delta: int) -> None:
        if delta:
            self.adds[attr] = self.adds.get(attr, 0) + delta

    def set(self, attr: str, value: Any) -> None:
        self.sets[attr] = value

    def remove(self, attr: str) -> None:
        self.removes.add(attr)

    def require(self, attr: str, test: Test, value: Any = None) -> None:
        """A condition on `attr`; a second one on the same attribute must be the same."""
        previous = self.conditions.get(attr)
        if previous is not None and previous != (test, value):
            raise ValueError(f"two conditions on {attr}: {previous} and {(test, value)}")
        self.conditions[attr] = (test, value)

    def require_version(self, version: int | None) -> None:
        """Nothing wrote the item since it was read (a period's move is decided on what was read)."""
        if version is None:
            self.require(VERSION, "absent")
        else:
            self.require(VERSION, "=", version)

    @property
    def empty(self) -> bool:
        return not (self.adds or self.sets or self.removes or self.conditions)

    def applied_to(self, item: dict[str, Any] | None) -> dict[str, Any]:
        """The state item as this change leaves `item`, when nothing else wrote it in between
        (the commit required the version read): what a commit that writes leaves, version one up."""
        after = dict(item or {})
        if not (self.adds or self.sets or self.removes):
            return after
        for attr, delta in {**self.adds, VERSION: 1}.items():
            after[attr] = int(after.get(attr, 0)) + delta
        after.update(self.sets)
        for attr in self.removes:
            after.pop(attr, None)
        return after

    def operation(self, site: str, uuid: str) -> dict[str, Any] | None:
        """The transaction operation, or None when there is nothing to write or check."""
        if self.empty:
            return None
        names: dict[str, str] = {}
        values: dict[str, Any] = {}

        def name(attr: str) -> str:
            placeholder = f"#s{len(names)}"
            names[placeholder] = attr
            return placeholder

        def value(v: Any) -> str:
            placeholder = f":s{len(values)}"
            values[placeholder] = v
            return placeholder

        placeholders: dict[str, str] = {}

        def ref(attr: str) -> str:
            if attr not in placeholders:
                placeholders[attr] = name(attr)
            return placeholders[attr]

        overlap = (set(self.adds) & set(self.sets)) | (set(self.adds) & self.removes) | (set(self.sets) & self.removes)
        if overlap:
            raise ValueError(f"one attribute changed twice in one update: {sorted(overlap)}")
        tests = []
        for attr, (test, expected) in self.conditions.items():
            a = ref(attr)
            if test == "absent":
                tests.append(f"attribute_not_exists({a})")
            elif test in ("=", ">="):
                tests.append(f"{a} {test} {value(expected)}")
            elif test in ("absent or =", "absent or >="):
                tests.append(f"(attribute_not_exists({a}) OR {a} {test.split()[-1]} {value(expected)})")
            else:
                raise ValueError(f"unknown test {test!r}")
        condition = " AND ".join(tests) or None
        writes = bool(self.adds or self.sets or self.removes)
        if not writes:
            assert condition is not None
            return db.tx_check(user_pk(site, uuid), USER_STATE_SK, condition, values=values, names=names)
        adds = {**self.adds, VERSION: 1}
        parts = ["ADD " + ", ".join(f"{ref(a)} {value(d)}" for a, d in adds.items())]
        if self.sets:
            parts.append("SET " + ", ".join(f"{ref(a)} = {value(v)}" for a, v in self.sets.items()))
        if self.removes:
            parts.append("REMOVE " + ", ".join(ref(a) for a in sorted(self.removes)))
        return db.tx_update(user_pk(site, uuid), USER_STATE_SK, " ".join(parts), values=values, names=names,
                            condition=condition)


def set_usage(change: StateChange, behaviour_id: str, total: int, by_period: dict[str, int], *,
              last_awarded_at: str | None = None, read_total: int | None = None) -> None:
    """A behaviour's limit counters; with `read_total`, only while they still hold what was read."""
    change.set(usage_attr(behaviour_id, "total"), total)
    change.set(usage_attr(behaviour_id, "byPeriod"), by_period)
    if last_awarded_at is not None:
        change.set(usage_attr(behaviour_id, "lastAwardedAt"), last_awarded_at)
    if read_total is not None:
        change.require(usage_attr(behaviour_id, "total"), "=", read_total)


def bucket_add(site: str, uuid: str, period_key: str, measures: dict[str, int]) -> dict[str, Any] | None:
    """ADD measures to an ended period's bucket item (created by its first write)."""
    live = {k: v for k, v in measures.items() if v}
    if not live:
        return None
    names = {f"#m{i}": k for i, k in enumerate(live)}
    values = {f":m{i}": v for i, v in enumerate(live.values())}
    return db.tx_update(user_pk(site, uuid), bucket_sk(period_key),
                        "ADD " + ", ".join(f"#m{i} :m{i}" for i in range(len(live))), values=values, names=names)
