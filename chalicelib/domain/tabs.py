"""The user details page: summary, the eight tabs, bounties and standings.

Each function is what one route answers, built from at most two DynamoDB requests (the site
and mechanics come from their in-memory caches): see `docs/read-side.md` for the requests
of each tab and why. The numbers follow `spec/domain.md`, computed by the engine's rules
(`classify_rewards`, `completion_stats`, `kpi_rows`, `rank_change`...), never re-derived here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from chalicelib import clock, errors
from chalicelib.domain.activities import view as activity_view
from chalicelib.domain.users import settings_view, user_view
from chalicelib.engine.kpis import choose_target, has_target_for, kpi_rows
from chalicelib.engine.leaderboards import ranked_measure
from chalicelib.engine.periods import (
    PERIOD_OF,
    WeekStart,
    last_n_periods,
    local_date,
    local_midnight_utc,
    period_bounds_of_date,
    period_key_of_date,
)
from chalicelib.engine.rewards import RECENT, CompletionStat, RewardStatus
from chalicelib.jobs import ranks as rank_rules
from chalicelib.models.mechanics import (
    Kpi,
    SiteMechanics,
    TracksBehaviour,
    TracksPoints,
    TracksReward,
    TracksRewardKind,
)
from chalicelib.store import mechanics as mechanics_store
from chalicelib.store import ranks as rank_store
from chalicelib.store import reads
from chalicelib.store.keys import PROFILE_SK, USER_STATE_SK, board_score_sk, user_coupon_sk, user_pk
from chalicelib.store.userstate import (
    WALLET_FIGURES,
    UserState,
    from_state_item,
    granularity_of,
    measures_of,
    parse_time,
    state_from_items,
)

Json = dict[str, Any]
from chalicelib.domain.tab_options import (  # noqa: E402 - shared with the routes, which import nothing else
    ACTIVITY_SORTS,
    ACTIVITY_STATUSES,
    ACTIVITY_TYPES,
    BOUNTY_STATUSES,
    KPI_PERIODS,
)

OVERVIEW_ITEMS = 5
KPI_KINDS = ("day", "week", "month", "quarter", "year")
_KPI_FIELD = {"day": "daily", "week": "weekly", "month": "monthly", "quarter": "quarterly", "year": "yearly"}


@dataclass(frozen=True)
class SiteView:
    """What every tab needs of the site: its zone, week start and mechanics (all cached)."""

    id: str
    tz: str
    week_start: WeekStart
    mechanics: SiteMechanics

    @classmethod
    def of(cls, site_id: str, site_item: dict[str, Any]) -> SiteView:
        return cls(site_id, str(site_item.get("timezone", "UTC")), site_item.get("weekStart", "monday"),
                   mechanics_store.load(site_id).mechanics)


def _not_found(uuid: str) -> errors.UserNotFound:
    return errors.UserNotFound(f"user '{uuid}' does not exist")


def _state(site: SiteView, uuid: str) -> tuple[UserState, list[Json]]:
    items = reads.user_state(site.id, uuid)
    state = state_from_items(uuid, items)
    if state is None:
        raise _not_found(uuid)
    return state, items


def _progress(state: UserState) -> Any:
    # The engine's snapshot of a user is built where processing builds it, so both agree.
    from chalicelib.activities.rewards import progress_of

    return progress_of(state)


# ---------------------------------------------------------------- summary


def _kpi_measure(kpi: Kpi, mechanics: SiteMechanics) -> str | None:
    """The bucket measure a KPI sums (see activities/effects.py for what processing writes).

    A KPI tracking a flexible behaviour id counts that behaviour's awards, which no bucket
    records yet: it reads as zero (docs/read-side.md, open issues).
    """
    tracks = kpi.tracks
    if isinstance(tracks, TracksPoints):
        return f"pts:{tracks.points}"
    if isinstance(tracks, TracksBehaviour):
        return f"beh:{tracks.behaviour}" if tracks.behaviour in mechanics.simple_by_verb else None
    if isinstance(tracks, TracksRewardKind):
        return f"rk:{tracks.reward_kind}"
    if isinstance(tracks, TracksReward):
        return f"rw:{tracks.reward}"
    return None


def _days(first: dt.date, last: dt.date) -> Iterable[dt.date]:
    for i in range((last - first).days + 1):
        yield first + dt.timedelta(days=i)


def _met_in_window(kpi: Kpi, daily: dict[dt.date, int], uuid: str, tags: list[str], window_start: dt.date,
                   today: dt.date, week_start: WeekStart) -> bool:
    """A target of any period kind reached on a local day inside the window.

    The day a period's target was met is the first day its running total (daily buckets,
    net of rejects) reached the target; periods still running count what they have so far.
    """
    for kind in KPI_KINDS:
        start, end = period_bounds_of_date(kind, window_start, week_start)
        while start <= today:
            target = choose_target(kpi, uuid, tags, start, kind)
            if target is not None:
                running = 0
                for day in _days(start, min(end, today)):
                    running += daily.get(day, 0)
                    if running >= target:
                        if day >= window_start:
                            return True
                        break
            start = end + dt.timedelta(days=1)
            end = period_bounds_of_date(kind, start, week_start)[1]
    return False


def _first_needed_day(mechanics: SiteMechanics, window_start: dt.date, week_start: WeekStart) -> dt.date:
    """How far back daily buckets are needed: a period that overlaps the window counts from
    its own first day, so the earliest start among the period kinds any target uses."""
    first = window_start
    for kpi in mechanics.kpis.values():
        for kind in KPI_KINDS:
            if any(t.values.for_period(_KPI_FIELD[kind]) is not None for t in kpi.targets):
                first = min(first, period_bounds_of_date(kind, window_start, week_start)[0])
    return first


def summary(site_id: str, site_item: dict[str, Any], uuid: str) -> Json:
    """`{user, stats}`: two Queries, the user's state (`S#`) and their daily buckets.

    Recent means "in the last 720 hours". Rewards and coupons carry their own timestamps and
    are exact; activities, gifts and KPIs are read from daily buckets (already net of
    rejects), whose resolution is the site-local day: the window is every local day from the
    one 720 hours ago to today.
    """
    from chalicelib.engine.rewards import completion_stats

    site = SiteView.of(site_id, site_item)
    state, _ = _state(site, uuid)
    now = clock.now()
    today = local_date(now, site.tz)
    window_start = local_date(now - RECENT, site.tz)
    first = _first_needed_day(site.mechanics, window_start, site.week_start)
    buckets = reads.buckets_between(site.id, uuid, period_key_of_date("day", first),
                                    period_key_of_date("day", today))
    # A day's figures: its bucket's plus the state item's, while that holds the day.
    by_key: dict[str, Json | None] = {str(item["SK"]).removeprefix("B#"): item for item in buckets}
    by_key.update({k: by_key.get(k) for k in state.measures if granularity_of(k) == "day"})
    by_day: dict[dt.date, dict[str, int]] = {}
    for key, item in by_key.items():
        day = rank_rules.period_start_of_key(key)
        if day is not None:
            by_day[day] = measures_of(item, state, key)

    def recent_measure(name: str) -> bool:
        return any(int(item.get(name, 0)) > 0 for day, item in by_day.items() if day >= window_start)

    progress = _progress(state)
    rewards = completion_stats(site.mechanics, progress, now)
    gifts_recent = recent_measure("n:gifts")
    if gifts_recent and any(progress.gifts_received.values()):  # a gift badge received lately
        rewards["rewards"] = CompletionStat(rewards["rewards"].count, True)
    tags = state.tags
    with_target = [k for k in site.mechanics.kpis.values() if has_target_for(k, uuid, tags, today)]
    kpis_recent = False
    for kpi in site.mechanics.kpis.values():
        measure = _kpi_measure(kpi, site.mechanics)
        if measure is None:
            continue
        daily = {day: int(item.get(measure, 0)) for day, item in by_day.items()}
        if _met_in_window(kpi, daily, uuid, tags, window_start, today, site.week_start):
            kpis_recent = True
            break
    held = [c for c in state.coupons.values() if c.get("status") != "refunded"]
    coupons_recent = any(now - (parse_time(c.get("acquiredAt")) or dt.datetime.min.replace(tzinfo=dt.UTC))
                         < RECENT for c in held)
    stats = {
        "activities": {"count": int(state.stats.get("activities", 0)), "recent": recent_measure("n:activities")},
        **{key: {"count": stat.count, "recent": stat.recent} for key, stat in rewards.items()},
        "gifts": {"count": int(state.stats.get("giftsReceived", 0)), "recent": gifts_recent},
        "kpis": {"count": len(with_target), "recent": kpis_recent},
        "coupons": {"count": len(held), "recent": coupons_recent},
    }
    return {"user": user_view(state.profile), "stats": stats}


# ---------------------------------------------------------------- shared pieces


def _wallets(site: SiteView, state: UserState) -> list[Json]:
    """One row per point type of the site, zeros where the user never had a wallet."""
    rows = []
    for point_type in site.mechanics.point_types.values():
        wallet = state.wallet(point_type.id)
        rows.append({"pointId": point_type.id, "name": point_type.name,
                     **{f: int(getattr(wallet, f)) for f in WALLET_FIGURES}})
    return rows


def _coupon_view(item: Json, now: dt.datetime) -> Json:
    status = item.get("status", "available")
    expires = parse_time(item.get("expiresAt"))
    # No job expires coupons yet: an available coupon past its expiry reads as expired.
    if status == "available" and expires is not None and expires <= now:
        status = "expired"
    return {"userCouponId": item["userCouponId"], "couponId": item["couponId"], "name": item.get("name", ""),
            "code": item.get("code", ""), "acquiredAt": item["acquiredAt"], "acquiredBy": item["acquiredBy"],
            "pointsSpent": int(item.get("pointsSpent", 0)), "redeemedAt": item.get("redeemedAt"),
            "expiresAt": item.get("expiresAt"), "status": status}


def _coupons(items: Iterable[Json], now: dt.datetime) -> list[Json]:
    return sorted((_coupon_view(i, now) for i in items), key=lambda c: (c["acquiredAt"], c["userCouponId"]),
                  reverse=True)


def _reward_entry(status: RewardStatus) -> Json:
    return {"rewardId": status.reward_id, "kind": status.kind, "name": status.name,
            "criteria": [{"label": c.label, "current": c.current, "required": c.required, "done": c.done}
                         for c in status.criteria],
            "completedAt": clock.iso(status.completed_at) if status.completed_at else None}


def _board_rows(site: SiteView, state: UserState, items_by_sk: dict[str, Json], now: dt.datetime) -> list[Json]:
    """The user's position per board and period. The live score is the period's measure on the
    state item, committed with the activity that moved it (so a tab opened once an activity reads
    SUCCEEDED shows it); the live item, set right after that commit, feeds the rank job, and the
    rank item holds the rank it set."""
    profile = state.profile
    rows = []
    for board in site.mechanics.leaderboards.values():
        for period in board.periods:
            key = rank_rules.current_period_key(period, now, site.tz, site.week_start)
            score_item = {**(items_by_sk.get(board_score_sk(board.id, key)) or {}),
                          "score": state.measures.get(key, {}).get(ranked_measure(board), 0)}
            where = rank_rules.position(board, period, profile, score_item,
                                        items_by_sk.get(rank_store.last_final_sk(board.id, period)),
                                        now, site.tz, site.week_start)
            rows.append({"leaderboardId": board.id, "name": board.name, "period": period, "rank": where.rank,
                         "score": where.score, "previousRank": where.change.previous_rank,
                         "change": where.change.change, "new": where.change.new, "rankedAt": where.ranked_at})
    return rows


# ---------------------------------------------------------------- the tabs


def overview(site_id: str, site_item: dict[str, Any], uuid: str) -> Json:
    """Two Queries: the user's state (`S#`) and the five latest activities."""
    from chalicelib.engine.rewards import classify_rewards

    site = SiteView.of(site_id, site_item)
    state, items = _state(site, uuid)
    latest, _ = reads.activities_page(site.id, uuid, limit=OVERVIEW_ITEMS, cursor=None)
    now = clock.now()
    board = classify_rewards(site.mechanics, _progress(state), now, site.tz, site.week_start)
    held = [c for c in _coupons(state.coupons.values(), now) if c["status"] != "refunded"]
    return {
        "recentActivities": [activity_view(i) for i in latest],
        "balances": _wallets(site, state),
        "coupons": held[:OVERVIEW_ITEMS],
        "rewards": [_reward_entry(s) for s in board.completed[:OVERVIEW_ITEMS]],
        "leaderboards": _board_rows(site, state, {str(i["SK"]): i for i in items}, now),
    }


@dataclass
class ActivityQuery:
    """The activity tab's query string, raw (each filter may repeat)."""

    types: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    verbs: list[str] = field(default_factory=list)
    since: list[str] = field(default_factory=list)
    until: list[str] = field(default_factory=list)
    sort: str | None = None
    order: str | None = None
    limit: int = 25
    cursor: str | None = None


def _moment(name: str, raw: str, tz: str, end_of_day: bool) -> dt.datetime:
    """An ISO date-time (with `Z` or an offset), or a bare site-local date (whole day)."""
    try:
        if len(raw) == 10:
            day = dt.date.fromisoformat(raw)
            if end_of_day:
                return local_midnight_utc(day + dt.timedelta(days=1), tz) - dt.timedelta(milliseconds=1)
            return local_midnight_utc(day, tz)
        moment = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise errors.field_error(name, "must be an ISO-8601 date-time with Z or an offset, or a date") from None
    if moment.tzinfo is None:
        raise errors.field_error(name, "must carry a time zone (Z or an offset)")
    return moment.astimezone(dt.UTC)


def _check(name: str, values: list[str], allowed: tuple[str, ...]) -> list[str]:
    for value in values:
        if value not in allowed:
            raise errors.field_error(name, f"'{value[:64]}' is not one of {', '.join(allowed)}")
    return values


def activity_tab(site_id: str, site_item: dict[str, Any], uuid: str, query: ActivityQuery) -> Json:
    """A page of the activity list (own activities and received gifts/bounty awards).

    One Query: the user exists (checked by the route) and the page is a key range of
    `A#{ulid}`. Pages are always cut in createdAt order so a cursor walks the history the
    same way whatever the sort; `sort=type|status` orders the rows *within* the page
    (by that key in `order`, default asc; newest first among equals). See docs/read-side.md.
    """
    import re

    site = SiteView.of(site_id, site_item)
    _check("type", query.types, ACTIVITY_TYPES)
    _check("status", query.statuses, ACTIVITY_STATUSES)
    for verb in query.verbs:
        if not re.fullmatch(r"[a-z0-9_]{1,64}", verb):
            raise errors.field_error("verb", "must match ^[a-z0-9_]{1,64}$")
    sort = query.sort or "createdAt"
    _check("sort", [sort], ACTIVITY_SORTS)
    order = query.order or ("desc" if sort == "createdAt" else "asc")
    _check("order", [order], ("asc", "desc"))
    # OR within a filter: several `from` values mean "after any of them", i.e. the earliest.
    since = min((_moment("from", v, site.tz, False) for v in query.since), default=None)
    until = max((_moment("to", v, site.tz, True) for v in query.until), default=None)
    if since and until and since > until:
        raise errors.field_error("from", "must not be after 'to'")
    newest_first = order == "desc" if sort == "createdAt" else True
    items, cursor = reads.activities_page(site.id, uuid, limit=query.limit, cursor=query.cursor,
                                          newest_first=newest_first, since=since, until=until,
                                          types=query.types, statuses=query.statuses, verbs=query.verbs,
                                          scope=f"activity-tab:{sort}:{order}")
    rows = [activity_view(i) for i in items]
    if sort != "createdAt":
        # A stable sort (reverse=True too) keeps newest first among equal keys.
        rows.sort(key=lambda r: r[sort], reverse=order == "desc")
    return {"items": rows, "nextCursor": cursor}


def points_tab(site_id: str, site_item: dict[str, Any], uuid: str, limit: int, cursor: str | None) -> Json:
    """Two requests: profile + wallets (one BatchGetItem) and a page of the ledger."""
    site = SiteView.of(site_id, site_item)
    profile, state_item = reads.profile_and_state(site.id, uuid)
    if profile is None:
        raise _not_found(uuid)
    state = from_state_item(uuid, profile, state_item)
    entries, next_cursor = reads.ledger_page(site.id, uuid, limit=limit, cursor=cursor)
    ledger = [{"id": str(e["SK"]).removeprefix("L#"), "pointId": e["pointId"], "amount": int(e["amount"]),
               "kind": e["kind"], "bookedUnder": e["bookedUnder"], "activityId": e.get("activityId", ""),
               "at": e["at"], "expiresAt": e.get("expiresAt"), "shortfall": int(e.get("shortfall") or 0)}
              for e in entries]
    return {"items": _wallets(site, state), "ledger": {"items": ledger, "nextCursor": next_cursor}}


def rewards_tab(site_id: str, site_item: dict[str, Any], uuid: str) -> Json:
    """One Query (`S#`): completed, in progress and available, with per-criterion progress."""
    from chalicelib.engine.rewards import classify_rewards

    site = SiteView.of(site_id, site_item)
    state, _ = _state(site, uuid)
    board = classify_rewards(site.mechanics, _progress(state), clock.now(), site.tz, site.week_start)
    return {"completed": [_reward_entry(s) for s in board.completed],
            "inProgress": [_reward_entry(s) for s in board.in_progress],
            "available": [_reward_entry(s) for s in board.available]}


def kpis_tab(site_id: str, site_item: dict[str, Any], user: Json, period: str) -> Json:
    """One BatchGetItem (the state item and the buckets of `period`, current and the four
    before) after the profile read.

    Each bucket is one period's aggregate; handing `kpi_rows` one value per period start
    makes its sum over the period's days exactly that aggregate.
    """
    if period not in KPI_PERIODS:
        raise errors.field_error("period", f"must be one of {', '.join(KPI_PERIODS)}")
    site = SiteView.of(site_id, site_item)
    uuid = str(user["uuid"])
    kind = PERIOD_OF[period]
    now = clock.now()
    bounds = last_n_periods(kind, now, site.tz, site.week_start)
    keys = [period_key_of_date(kind, start, site.week_start) for start, _ in bounds]
    state_item, buckets = reads.state_and_buckets(site.id, uuid, keys)
    state = from_state_item(uuid, user, state_item)
    items = {str(i["SK"]).removeprefix("B#"): i for i in buckets}
    tags = list(user.get("tags") or [])
    rows = []
    for kpi in site.mechanics.kpis.values():
        measure = _kpi_measure(kpi, site.mechanics)
        values = {start: measures_of(items.get(key), state, key).get(measure, 0) if measure else 0
                  for (start, _), key in zip(bounds, keys, strict=True)}
        periods = kpi_rows(kpi, period, now, site.tz, values, uuid, tags, site.week_start)
        shown = []
        for index, (p, key) in enumerate(zip(periods, keys, strict=True)):
            row = {"start": p.start.isoformat(), "end": p.end.isoformat(), "value": p.value, "target": p.target,
                   "percent": p.percent, "met": p.met}
            # A finished period the rollup closed (jobs/rollup.py) shows its closed figures.
            closed = (items.get(key, {}).get("closed") or {}).get(kpi.id) if index else None
            if closed is not None:
                row.update({f: closed.get(f) for f in ("value", "target", "percent", "met")})
            shown.append(row)
        rows.append({"kpiId": kpi.id, "name": kpi.name, "periods": shown})
    return {"items": rows}


def coupons_tab(site_id: str, uuid: str) -> Json:
    """One Query: the profile and the user coupons sort next to each other."""
    items = reads.profile_and_coupons(site_id, uuid)
    if not items or items[0]["SK"] != PROFILE_SK:
        raise _not_found(uuid)
    prefix = user_coupon_sk("")
    return {"items": _coupons((i for i in items if str(i["SK"]).startswith(prefix)), clock.now())}


def leaderboards_tab(site_id: str, site_item: dict[str, Any], uuid: str) -> Json:
    """Two BatchGetItems: the profile, the state item (live scores), per board and period the
    user's rank item, their last final rank (for previousRank/change) and the period's top
    counter item; then the user's band and bucket counter items, which give the rank."""
    site = SiteView.of(site_id, site_item)
    now = clock.now()
    user = user_pk(site.id, uuid)
    periods = [(board.id, rank_rules.current_period_key(period, now, site.tz, site.week_start), period)
               for board in site.mechanics.leaderboards.values() for period in board.periods]
    keys = [(user, PROFILE_SK), (user, USER_STATE_SK)]
    for board_id, key, period in periods:
        keys += [(user, board_score_sk(board_id, key)), (user, rank_store.last_final_sk(board_id, period)),
                 (rank_store.histogram_pk(site.id, board_id, key), rank_store.HISTOGRAM_TOP_SK)]
    found: dict[tuple[str, str], Json] = {}
    for start in range(0, len(keys), reads.BATCH_GET_MAX):
        found.update({(str(i["PK"]), str(i["SK"])): i for i in reads.batch_get(keys[start:start + reads.BATCH_GET_MAX])})
    profile = found.get((user, PROFILE_SK))
    if profile is None:
        raise _not_found(uuid)
    tops = {(board_id, key): found.get((rank_store.histogram_pk(site.id, board_id, key), rank_store.HISTOGRAM_TOP_SK))
            for board_id, key, _ in periods}
    ranks = rank_rules.counter_ranks(site.id, tops, {(board_id, key, uuid): found.get((user, board_score_sk(board_id, key)))
                                                     for board_id, key, _ in periods})
    items_by_sk = {sk: item for (pk, sk), item in found.items() if pk == user}
    for board_id, key, _ in periods:
        rank, ranked_at = ranks.get((board_id, key, uuid), (None, None))
        items_by_sk[board_score_sk(board_id, key)] = {**items_by_sk.get(board_score_sk(board_id, key), {}),
                                                      "rank": rank, "rankedAt": ranked_at}
    state = from_state_item(uuid, profile, items_by_sk.get(USER_STATE_SK))
    return {"items": _board_rows(site, state, items_by_sk, now)}


def settings_tab(user: Json) -> Json:
    return settings_view(user)


# ---------------------------------------------------------------- bounties and standings


def bounties(site_id: str, uuid: str, status: str | None, limit: int, cursor: str | None) -> Json:
    if status is not None and status not in BOUNTY_STATUSES:
        raise errors.field_error("status", f"must be one of {', '.join(BOUNTY_STATUSES)}")
    items, next_cursor = reads.bounties_page(site_id, uuid, status=status, limit=limit, cursor=cursor)
    return {"items": [{"bountyId": i["bountyId"],
                       "points": [{"pointId": k, "points": int(v)} for k, v in (i.get("points") or {}).items()],
                       "reason": i.get("reason", ""), "status": i["status"], "createdAt": i["createdAt"],
                       "awardedTo": i.get("awardedTo")} for i in items],
            "nextCursor": next_cursor}


def standings(site_id: str, board_id: str, period: str | None, limit: int, cursor: str | None,
              site_item: dict[str, Any]) -> Json:
    """One Query per standings shard (GSI3): the board's current period in rank order."""
    site = SiteView.of(site_id, site_item)
    board = site.mechanics.leaderboards.get(board_id)
    if board is None:
        raise errors.NotFound(f"leaderboard '{board_id}' does not exist")
    chosen = period or board.periods[0]
    if chosen not in board.periods:
        raise errors.field_error("period", f"this board has the periods {', '.join(board.periods)}")
    key = rank_rules.current_period_key(chosen, clock.now(), site.tz, site.week_start)
    items, next_cursor = rank_store.standings_page(site.id, board.id, key, limit=limit, cursor=cursor)
    return {"items": [{"rank": int(i["rank"]), "uuid": i["uuid"], "displayName": i.get("displayName", ""),
                       "score": int(i["counted"])} for i in items],
            "nextCursor": next_cursor}

