"""The demo site that `make run` seeds: six weeks of a programme, so every screen shows a story.

Mechanics go through the same validation as the API. The history is a fixed plan (one seeded
random generator: the same demo every time, dated back from today) of thirty users joining,
logging in, watching, sharing, buying coupons, giving gifts, posting bounties, with an
operator's bonuses and a few rejects; it goes through the real rules in this process: each
activity is accepted as the API accepts it (`activities.accept`) and its work is run by the
activity type's step handler, as the state machine's Task would run it, with the ASL's Catch
(a failure -> MarkFailed) and its Retry for TransientError. The clock is moved to each
activity's moment (`clock.set_offset`), and at each local midnight the scheduled jobs run as
their schedules would (ranks, KPI rollup, expiry): closed KPI periods with their met targets,
final leaderboard ranks (so ranks show numeric changes), expired stars. Going through the
queue and the Express executions instead would take minutes (about a dozen activities a
second locally); run in-process it takes seconds (docs/local-runtime.md).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib import clock
from chalicelib.activities.effects import TransientError
from chalicelib.auth import Principal
from chalicelib.domain import activities, sites, users
from chalicelib.domain import mechanics as mechanic_store
from chalicelib.models.activities import ActivityCreate
from chalicelib.models.mechanics import parse_mechanic
from chalicelib.models.sites import SiteCreate
from chalicelib.models.users import UserCreate
from chalicelib.workflow import steps

OPERATOR = Principal(role="operator", site=None, key_id=None)

SITE_TIMEZONE = "Europe/London"
WEEKS = 6


def _user(uuid: str, first: str, last: str, tags: list[str], display: str = "") -> dict[str, Any]:
    return {"uuid": uuid, "firstName": first, "lastName": last, "displayName": display or f"{first} {last[0]}.",
            "email": f"{uuid}@example.com", "tags": tags}


# alice, bob, carol, dave (blocked in week 4) and erin are the ones the docs and tests name.
DEMO_USERS = [
    _user("alice", "Alice", "Liddell", ["sales", "beta"], "Alice L."),
    _user("bob", "Bob", "Builder", ["sales"], "Bob"),
    _user("carol", "Carol", "Danvers", ["support"], "Captain Carol"),
    _user("dave", "Dave", "Grohl", [], "Dave"),
    _user("erin", "Erin", "Brockovich", ["support"], "Erin B."),
    _user("farah", "Farah", "Haddad", ["sales"]),
    _user("gustavo", "Gustavo", "Lima", ["sales", "beta"]),
    _user("hana", "Hana", "Kobayashi", ["support", "beta"]),
    _user("ivan", "Ivan", "Petrov", ["engineering"]),
    _user("jamal", "Jamal", "Okafor", ["sales"]),
    _user("keira", "Keira", "Walsh", ["marketing"]),
    _user("liam", "Liam", "O'Connor", ["support"]),
    _user("mei", "Mei", "Chen", ["engineering", "beta"]),
    _user("nadia", "Nadia", "Rahman", ["marketing"]),
    _user("oscar", "Oscar", "Lindqvist", ["sales"]),
    _user("priya", "Priya", "Natarajan", ["engineering"]),
    _user("quentin", "Quentin", "Moreau", ["support"]),
    _user("rosa", "Rosa", "Martínez", ["sales", "beta"]),
    _user("sipho", "Sipho", "Dlamini", ["marketing"]),
    _user("tomasz", "Tomasz", "Nowak", ["engineering"]),
    _user("uma", "Uma", "Thurman", ["marketing", "beta"]),
    _user("viktor", "Viktor", "Horvath", ["sales"]),
    _user("wanjiru", "Wanjiru", "Kamau", ["support"]),
    _user("xavier", "Xavier", "Dupont", ["engineering"]),
    _user("yara", "Yara", "Haddad", ["marketing"]),
    _user("zoe", "Zoe", "Papadopoulos", ["sales"]),
    _user("ahmed", "Ahmed", "Saleh", ["support"]),
    _user("bianca", "Bianca", "Rossi", ["sales", "beta"]),
    _user("chidi", "Chidi", "Anagonye", ["engineering"]),
    _user("daniela", "Daniela", "Novak", ["marketing"]),
]

def valid_around_today(years: int = 5) -> dict[str, str]:
    """A KPI target's validity from `years` before today to `years` after, by the system clock
    (moved or not), so the demo's targets are in force whenever it is seeded."""
    today = clock.now().date()
    span = dt.timedelta(days=366 * years)
    return {"validFrom": (today - span).isoformat(), "validTo": (today + span).isoformat()}


def mechanics() -> list[tuple[Any, dict[str, Any]]]:
    """The demo's mechanics, the KPI targets dated around today."""
    return [(kind, {**body, "targets": [{**valid_around_today(), **t} for t in body["targets"]]})
            if kind == "kpis" else (kind, body) for kind, body in MECHANICS]


# KPI targets here carry no dates: `mechanics()` adds them.
MECHANICS: list[tuple[Any, dict[str, Any]]] = [
    ("point-types", {"id": "coins", "name": "Coins", "redeemable": True, "giftable": True, "bountiable": True}),
    ("point-types", {"id": "xp", "name": "Experience"}),
    ("point-types", {"id": "stars", "name": "Stars", "expirable": True, "expiresAfterDays": 30,
                     "redeemable": True}),
    ("behaviours", {"id": "watch_video", "kind": "simple", "verb": "watch_video", "name": "Watch a video",
                    "prizes": {"points": [{"pointId": "xp", "points": 10}]}, "hint": "Any video counts"}),
    ("behaviours", {"id": "watch_tv", "kind": "flexible", "verb": "watch_video", "name": "Watch a TV show",
                    "conditions": {"and": [{"key": "category", "op": "in", "value": ["tv"]}]},
                    "prizes": {"points": [{"pointId": "xp", "points": 5}, {"pointId": "stars", "points": 1}]}}),
    ("behaviours", {"id": "login", "kind": "simple", "verb": "login", "name": "Daily login",
                    "prizes": {"points": [{"pointId": "coins", "points": 5}]},
                    "limits": {"periodic": {"period": "day", "max": 1}}}),
    ("behaviours", {"id": "share", "kind": "simple", "verb": "share", "name": "Share with a friend",
                    "prizes": {"points": [{"pointId": "coins", "points": 10}, {"pointId": "xp", "points": 5}]},
                    "limits": {"coolOffSeconds": 60}}),
    ("rewards", {"id": "binge", "kind": "achievement", "name": "Binge watcher",
                 "criteria": [{"verb": "watch_video", "times": 3}],
                 "prizes": {"points": [{"pointId": "coins", "points": 50}]}}),
    ("rewards", {"id": "social", "kind": "achievement", "name": "Social butterfly",
                 "criteria": [{"verb": "share", "times": 5}]}),
    ("rewards", {"id": "bronze", "kind": "level", "ladder": "status", "name": "Bronze",
                 "criteria": [{"pointId": "xp", "points": 20}]}),
    ("rewards", {"id": "silver", "kind": "level", "ladder": "status", "name": "Silver",
                 "criteria": [{"pointId": "xp", "points": 50}]}),
    ("rewards", {"id": "gold", "kind": "level", "ladder": "status", "name": "Gold",
                 "criteria": [{"pointId": "xp", "points": 200}]}),
    ("rewards", {"id": "starter", "kind": "mission", "name": "Starter pack",
                 "criteria": [{"rewardId": "binge"}, {"rewardId": "bronze"}]}),
    ("rewards", {"id": "thanks", "kind": "gift", "name": "Thank you"}),
    ("kpis", {"id": "xp_goal", "name": "XP earned", "tracks": {"points": "xp"},
              "targets": [{"assignTo": {"everyone": True},
                           "values": {"daily": 10, "weekly": 50, "monthly": 200, "quarterly": 600,
                                      "yearly": 2400}}]}),
    ("kpis", {"id": "videos", "name": "Videos watched", "tracks": {"behaviour": "watch_video"},
              "targets": [{"assignTo": {"tags": ["sales"]},
                           "values": {"daily": 2, "weekly": 5, "monthly": 20, "quarterly": 60, "yearly": 240}}]}),
    ("coupons", {"id": "tshirt", "name": "T-shirt", "description": "A project T-shirt", "codeType": "single",
                 "code": "TSHIRT", "price": {"pointId": "coins", "points": 30}, "redemption": "twoStep",
                 "expiresAfterDays": 30, "active": True}),
    ("coupons", {"id": "coffee", "name": "Coffee voucher", "codeType": "multiple",
                 "codes": ["COFFEE-1", "COFFEE-2", "COFFEE-3", "COFFEE-4", "COFFEE-5"],
                 "price": {"pointId": "coins", "points": 10}, "redemption": "oneStep", "active": True,
                 "perUserLimit": 2}),
    ("leaderboards", {"id": "xp_board", "name": "XP leaders", "ranksBy": {"points": "xp"},
                      "periods": ["weekly", "monthly", "allTime"]}),
    ("leaderboards", {"id": "video_board", "name": "Most videos", "ranksBy": {"behaviour": "watch_video"},
                      "periods": ["daily", "weekly"]}),
]




@dataclass(order=True)
class Step:
    """One thing that happens in the demo's history, at its local moment."""

    at: dt.datetime
    seq: int
    do: str = field(compare=False)  # join | activity | block | reject
    uuid: str = field(compare=False)
    attrs: dict[str, Any] = field(compare=False, default_factory=dict)
    reason: str = field(compare=False, default="")
    label: str = field(compare=False, default="")  # names an activity a later step refers to
    refers: str = field(compare=False, default="")  # the label of the activity a reject or award is about


@dataclass
class Persona:
    """How a user takes part: how often (`keen`, 0..1), and whether that rises or fades."""

    keen: float
    trend: float  # change of `keen` over the six weeks (-0.5 .. +0.5)
    joins: int  # the day (0 = the first day of the history) the user joins

    def active(self, day: int, days: int) -> float:
        return max(0.05, min(0.95, self.keen + self.trend * (day / max(1, days - 1) - 0.5)))


class Plan:
    """The history, built in order by a seeded generator: the same demo on every seed."""

    def __init__(self, first_day: dt.date, last_moment: dt.datetime, rng: random.Random) -> None:
        self.first_day = first_day
        self.last_moment = last_moment
        self.rng = rng
        self.steps: list[Step] = []
        self._labels = 0

    def moment(self, day: int, hours: float) -> dt.datetime:
        local = dt.datetime.combine(self.first_day + dt.timedelta(days=day), dt.time(0),
                                    tzinfo=ZoneInfo(SITE_TIMEZONE))
        return local + dt.timedelta(hours=hours)

    def add(self, at: dt.datetime, do: str, uuid: str, attrs: dict[str, Any] | None = None, reason: str = "",
            refers: str = "", labelled: bool = False) -> str:
        if at >= self.last_moment:
            return ""
        label = ""
        if labelled:
            self._labels += 1
            label = f"a{self._labels}"
        self.steps.append(Step(at, len(self.steps), do, uuid, attrs or {}, reason, label, refers))
        return label


VIDEO = {"type": "behaviour", "verb": "watch_video"}
CATEGORIES = [["tv"], ["news"], ["sport"], ["tv", "drama"], ["music"]]


def personas(rng: random.Random) -> dict[str, Persona]:
    """Most users join in the first two weeks, a few later; some keen, some lapsing, some rising."""
    found: dict[str, Persona] = {}
    for n, raw in enumerate(DEMO_USERS):
        joins = 0 if n < 5 else rng.choice([0, 0, 1, 2, 3, 5, 7, 9, 12, 16, 22, 29])
        found[raw["uuid"]] = Persona(keen=rng.choice([0.05, 0.08, 0.12, 0.16, 0.25, 0.4]),
                                     trend=rng.choice([-0.5, -0.2, 0.0, 0.0, 0.2, 0.5]), joins=joins)
    found["alice"] = Persona(keen=0.6, trend=0.1, joins=0)  # the one the docs show: busy, some badges
    found["dave"] = Persona(keen=0.5, trend=0.0, joins=0)
    return found


def plan(today: dt.date, now: dt.datetime, seed: int = 20261201) -> Plan:
    """Six weeks up to `now`: who joins when, and what each user and the operator do each day."""
    rng = random.Random(seed)
    days = WEEKS * 7
    history = Plan(today - dt.timedelta(days=days - 1), now, rng)
    people = personas(rng)
    tags = {raw["uuid"]: set(raw["tags"]) for raw in DEMO_USERS}
    for uuid, persona in people.items():
        at = history.moment(persona.joins, rng.uniform(8, 10))
        history.add(at, "join", uuid)
        history.add(at + dt.timedelta(minutes=2), "activity", uuid, {
            "type": "point", "action": "increment", "points": [{"pointId": "coins", "points": 50}]},
            "welcome bonus")
    history.add(history.moment(22, 9.5), "block", "dave", reason="abusive sharing")
    for day in range(days):
        for uuid, persona in people.items():
            # alice, whom the docs show, always has something today
            if day >= persona.joins and (rng.random() < persona.active(day, days)
                                         or (uuid == "alice" and day == days - 1)):
                _a_day(history, day, uuid, [u for u in people if u != uuid and tags[u] & tags[uuid]])
        _operator(history, day, people)
    # Nobody acts, or is given anything, before joining.
    joined = {s.uuid: s.at for s in history.steps if s.do == "join"}
    history.steps = sorted(s for s in history.steps if s.do == "join" or (
        joined[s.uuid] < s.at and joined.get(s.attrs.get("targetUuid") or s.uuid, s.at) < s.at))
    return history


def _a_day(history: Plan, day: int, uuid: str, colleagues: list[str]) -> None:
    rng = history.rng
    hours = rng.uniform(7.5, 11)
    history.add(history.moment(day, hours), "activity", uuid, {"type": "behaviour", "verb": "login"})
    if rng.random() < 0.06:  # a second login the same day: the daily limit says no (an exception)
        history.add(history.moment(day, hours + rng.uniform(2, 8)), "activity", uuid,
                    {"type": "behaviour", "verb": "login"})
    for _ in range(rng.choice([0, 0, 1, 1, 1, 2, 3])):
        hours += rng.uniform(0.2, 2.5)
        history.add(history.moment(day, hours), "activity", uuid,
                    {**VIDEO, "metadata": {"category": rng.choice(CATEGORIES)}})
    if rng.random() < 0.22:
        hours += rng.uniform(0.1, 1)
        history.add(history.moment(day, hours), "activity", uuid, {"type": "behaviour", "verb": "share"})
        if rng.random() < 0.2:  # shared again within the minute: the cool-off says no
            history.add(history.moment(day, hours + 0.006), "activity", uuid, {"type": "behaviour", "verb": "share"})
    if rng.random() < 0.05:
        history.add(history.moment(day, hours + 0.5), "activity", uuid,
                    {"type": "coupon", "action": "redeem", "couponId": "coffee"})
    if rng.random() < 0.025:
        history.add(history.moment(day, hours + 0.6), "activity", uuid,
                    {"type": "coupon", "action": "buy", "couponId": "tshirt"})
        history.add(history.moment(day + rng.randint(1, 4), 12), "activity", uuid,
                    {"type": "coupon", "action": "redeem", "couponId": "tshirt"}, "picked up at the front desk")
    if colleagues and rng.random() < 0.04:
        history.add(history.moment(day, hours + 0.7), "activity", uuid, {
            "type": "gift", "targetUuid": rng.choice(colleagues), "rewardId": "thanks",
            "points": [{"pointId": "coins", "points": rng.choice([5, 10, 15, 20])}]},
            rng.choice(["Thanks for the help!", "Great demo today", "You saved my afternoon"]))


BOUNTIES = [(4, "bob", "Write up the onboarding FAQ", "carol"), (13, "farah", "Record a product tour", "mei"),
            (24, "keira", "Find three beta testers", "jamal"), (33, "alice", "Fix the demo", "")]
BONUS_REJECTED = {9: "gustavo", 20: "nadia", 31: "alice"}


def _operator(history: Plan, day: int, people: dict[str, Persona]) -> None:
    """What the programme's operator does: bounties, weekly bonuses, a mistake or two, rejects."""
    rng = history.rng
    for posted, owner, reason, winner in BOUNTIES:
        if day == posted:
            label = history.add(history.moment(day, 10), "activity", owner, {
                "type": "bounty", "action": "start", "points": [{"pointId": "coins", "points": 20 + 5 * (day % 4)}]},
                reason, labelled=True)
            if winner:
                history.add(history.moment(day + rng.randint(2, 5), 15), "activity", owner,
                            {"type": "bounty", "action": "award", "targetUuid": winner}, refers=label)
    if day in BONUS_REJECTED:
        uuid = BONUS_REJECTED[day]
        label = history.add(history.moment(day, 16), "activity", uuid, {
            "type": "point", "action": "increment", "points": [{"pointId": "xp", "points": 25}]},
            "manual bonus", labelled=True)
        history.add(history.moment(day + 1, 9), "reject", uuid, reason="entered by mistake", refers=label)
    if history.moment(day, 0).weekday() == 4:  # Fridays: the week's helper gets a bonus
        helper = rng.choice([u for u, p in people.items() if p.joins <= day and u != "dave"])
        history.add(history.moment(day, 17), "activity", helper, {
            "type": "point", "action": "increment", "points": [{"pointId": "xp", "points": 30}]},
            "helper of the week")
    if day == 11:  # more than carol has: FAILED, InsufficientPoints
        history.add(history.moment(day, 14), "activity", "carol",
                    {"type": "point", "action": "redeem", "points": [{"pointId": "coins", "points": 500}]})


# --- running the plan -----------------------------------------------------------------------

_TYPE_STEPS: dict[str, Callable[[dict[str, Any], Any], dict[str, Any]]] = {
    "behaviour": steps.behaviour_step, "point": steps.point_step, "coupon": steps.coupon_step,
    "gift": steps.gift_step, "bounty": steps.bounty_step}
_TRANSIENT_ATTEMPTS = 4  # the ASL's Retry: the first try and three more


def run_work(work: dict[str, Any]) -> None:
    """One piece of work as the state machine runs it, in this process: the type's Task (or
    Reject's), retried on TransientError, earlier unfinished work run first (the consumer's
    hand-back), anything else caught into MarkFailed with the error as Step Functions shapes it."""
    step = steps.reject_step if work["job"] == "reject" else _TYPE_STEPS[work["type"]]
    error: dict[str, str] = {}
    for _ in range(_TRANSIENT_ATTEMPTS):
        try:
            step(work, None)
            return
        except steps.EarlierUnfinished as earlier:
            run_work(earlier.work)
            continue
        except Exception as err:  # the ASL's Catch of States.ALL
            error = {"Error": type(err).__name__,
                     "Cause": json.dumps({"errorMessage": str(err), "errorType": type(err).__name__})}
            if not isinstance(err, TransientError):
                break
    steps.mark_failed({**work, "error": error}, None)


@dataclass
class Seeded:
    """What seeding did, for the log line and the tests."""

    users: int = 0
    activities: int = 0
    rejects: int = 0
    job_runs: int = 0
    seconds: float = 0.0
    job_seconds: float = 0.0


def _clock_at(moment: dt.datetime) -> None:
    """Move the one clock so that it reads `moment` now."""
    clock.set_offset(clock.offset() + (moment - clock.now()).total_seconds())


def _week_starts(first: dt.date, last: dt.date) -> Iterator[dt.datetime]:
    """Just after each Monday's midnight from `first` to `last`: when the jobs run.

    The schedules run the jobs every minute or hour; the demo runs them once a week, as if they
    had been down in between, and their catch-up closes every day since (each board period's
    scores are its own items, so a late final rank is the rank the period ended with)."""
    day = first + dt.timedelta(days=(7 - first.weekday()) % 7)
    while day <= last:
        yield dt.datetime.combine(day, dt.time(0, 1), tzinfo=ZoneInfo(SITE_TIMEZONE))
        day += dt.timedelta(days=7)


def _run_jobs(site: str, moment: dt.datetime, done: Seeded) -> None:
    """The schedules' jobs at `moment`: ended leaderboard periods ranked final, ended KPI
    periods closed, due stars expired."""
    from chalicelib.jobs import expiry, ranks, rollup

    began = time.monotonic()
    _clock_at(moment)
    ranks.run(moment, sites=[site])
    rollup.run(moment, sites=[site])
    expiry.run(moment, sites=[site])
    done.job_runs += 1
    done.job_seconds += time.monotonic() - began


def seed_demo(site: str = "demo") -> Seeded:
    began, moved = time.monotonic(), clock.offset()
    now = clock.now().astimezone(ZoneInfo(SITE_TIMEZONE))
    history = plan(now.date(), now - dt.timedelta(minutes=1))
    done = Seeded()
    try:
        _clock_at(history.moment(0, 7))
        sites.create_site(SiteCreate(id=site, name="Demo", timezone=SITE_TIMEZONE, week_start="monday"), OPERATOR)
        for kind, body in mechanics():
            mechanic_store.save_mechanic(site, kind, parse_mechanic(kind, body), "operator", creating=True)
        _run_jobs(site, clock.now(), done)  # the jobs' first run: what they see from here on they close
        ids: dict[str, str] = {}
        runs = _week_starts(history.first_day + dt.timedelta(days=1), now.date())
        run = next(runs, None)
        for step in history.steps:
            while run is not None and run <= step.at:
                _run_jobs(site, run, done)
                run = next(runs, None)
            _clock_at(step.at)
            _happen(site, step, ids, done)
        clock.set_offset(moved)
        _run_jobs(site, clock.now(), done)  # every day closed, today ranked, before the demo is called ready
    finally:
        clock.set_offset(moved)
    done.seconds = time.monotonic() - began
    return done


USERS_BY_UUID = {raw["uuid"]: raw for raw in DEMO_USERS}


def _happen(site: str, step: Step, ids: dict[str, str], done: Seeded) -> None:
    from chalicelib import errors

    if step.do == "join":
        users.create_user(site, UserCreate.model_validate(USERS_BY_UUID[step.uuid], strict=False), "operator")
        done.users += 1
    elif step.do == "block":
        users.set_blocked(site, step.uuid, True, "operator")
    elif step.do == "reject":
        if step.refers in ids:
            try:
                activities.request_reject(site, ids[step.refers], step.reason, "operator", hand_off=run_work)
                done.rejects += 1
            except errors.ApiError:
                pass  # not rejectable (any more): an operator would see the same refusal
    else:
        attrs = dict(step.attrs)
        if attrs.get("action") == "award" and attrs.get("type") == "bounty":
            if step.refers not in ids:
                return
            attrs["bountyId"] = ids[step.refers]
        body = ActivityCreate.model_validate({"uuid": step.uuid, "reason": step.reason, "attrs": attrs})
        activity_id = activities.accept(site, body, None, "operator", hand_off=run_work)["id"]
        if step.label:
            ids[step.label] = activity_id
        done.activities += 1
