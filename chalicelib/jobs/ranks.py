"""Rank materialization: every minute, rank every board's current periods and write the ranks.

Scores are live (activity processing sets each user's live item of a board, every period of
it in one item: `store.ranks`); ranks are a snapshot the job refreshes, in rank items of their
own. For each site and board the job reads the live items once, and for each period kind:
1. notices a period change (the key it ranked last time is no longer current) and ranks the
   ended period one last time as *final* (from the entries the live items keep of it, current
   or previous): `finalRank` on its rank items and the user's
   `S#KP#` pointer (last final rank with a score above zero, what `previousRank` reads);
2. ranks the current period with `engine.leaderboards.rank_scores` (ties by reachedAt),
   leaving out blocked users, non-members, opted-out users and users outside the board's
   tags, and writes the rank items whose rank, list position, score or name changed
   (`rankedAt` is when the rank was set: a moved score alone keeps it).

Period close: a period is finalized by the first run after it ended, from the scores at that
time; when the job did not run across several period changes, every period from the last one
it had seen up to the current one is finalized, in order (`ended_period_keys`), so the
`S#KP#` pointers move forward through each of them (at most `MAX_CLOSE` periods per pass).
A live item keeps two entries per period kind, so a user who acted in two periods after the
one being closed is no longer in that period's final ranking: the job runs every minute, and
a pause that long (a whole day for a daily board) would lose only those users' finals.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from chalicelib import clock
from chalicelib.engine.leaderboards import (
    Entry,
    FinalRank,
    RankChange,
    Score,
    adopted_entries,
    entry_of,
    is_ranked,
    rank_change,
    rank_scores,
)
from chalicelib.engine.periods import (
    PERIOD_OF,
    WeekStart,
    period_bounds,
    period_bounds_of_date,
    period_key,
    period_key_of_date,
)
from chalicelib.models.mechanics import Leaderboard
from chalicelib.store import ranks as store
from chalicelib.store.keys import board_live_sk
from chalicelib.store.userstate import parse_time

ALL_TIME = "allTime"
ALL_TIME_KEY = "all"
_NEVER = dt.datetime.max.replace(tzinfo=dt.UTC)
MAX_CLOSE = 400
ADOPT_TRIES = 5
Item = dict[str, Any]


def current_period_key(period: str, now: dt.datetime, tz: str, week_start: WeekStart) -> str:
    """The current key of `period` (daily/weekly/monthly/allTime): what live entries carry now."""
    if period == ALL_TIME:
        return ALL_TIME_KEY
    return period_key(PERIOD_OF[period], now, tz, week_start)


def period_start_of_key(key: str) -> dt.date | None:
    """The first local date of a stored period key (`week:2026-11-23`, `month:2026-11`...)."""
    kind, _, rest = key.partition(":")
    try:
        if kind in ("day", "week"):
            return dt.date.fromisoformat(rest)
        if kind == "month":
            return dt.date.fromisoformat(rest + "-01")
        if kind == "quarter":
            year, quarter = rest.split("-Q")
            return dt.date(int(year), 3 * (int(quarter) - 1) + 1, 1)
        if kind == "year":
            return dt.date(int(rest), 1, 1)
    except ValueError:
        return None
    return None


def ended_period_keys(period: str, last_key: str, current_key: str, week_start: WeekStart) -> list[str]:
    """The period the job saw last, and every one after it that ended before `current_key`."""
    keys = [last_key]
    start = period_start_of_key(last_key)
    if start is None:
        return keys
    kind = PERIOD_OF[period]
    day = period_bounds_of_date(kind, start, week_start)[1] + dt.timedelta(days=1)
    while len(keys) < MAX_CLOSE:
        key = period_key_of_date(kind, day, week_start)
        if key >= current_key:
            break
        keys.append(key)
        day = period_bounds_of_date(kind, day, week_start)[1] + dt.timedelta(days=1)
    return keys


def eligible(board: Leaderboard, profile: dict[str, Any] | None) -> bool:
    """Whether a user may appear on `board` now (engine rule over the stored profile)."""
    if profile is None:
        return False
    opt_ins = (profile.get("settings") or {}).get("optIns") or {}
    return is_ranked(board, tags=profile.get("tags") or [], blocked=bool(profile.get("blocked")),
                     member=bool(profile.get("member", True)),
                     show_on_leaderboards=bool(opt_ins.get("showOnLeaderboards", True)))


@dataclass(frozen=True)
class Position:
    """One row of the leaderboards tab (board x period) for one user."""

    rank: int | None
    score: int
    change: RankChange
    ranked_at: str | None


def position(board: Leaderboard, period: str, profile: dict[str, Any], score_item: dict[str, Any] | None,
             last_final: dict[str, Any] | None, now: dt.datetime, tz: str, week_start: WeekStart) -> Position:
    """What the tab shows, from the user's own items: live score, materialized rank, change.

    The rank is shown only while the user is eligible now (a user blocked or opted out since
    the last run drops off at once, not a minute later).
    """
    score = int((score_item or {}).get("score", 0))
    stored_rank = (score_item or {}).get("rank")
    rank = int(stored_rank) if stored_rank is not None and eligible(board, profile) else None
    history: list[FinalRank] = []
    if last_final and last_final.get("rank") is not None:
        start = period_start_of_key(str(last_final.get("periodKey", "")))
        if start is not None:
            history.append(FinalRank(start, int(last_final["rank"]), int(last_final.get("score", 0))))
    current_start = None if period == ALL_TIME else period_bounds(PERIOD_OF[period], now, tz, week_start)[0]
    change = rank_change(period, rank, history, current_start)
    return Position(rank, score, change, (score_item or {}).get("rankedAt") if rank is not None else None)


def entries_of(live: dict[str, Item], period: str, key: str) -> dict[str, Entry]:
    """uuid -> the live entry of one board period, for the users who have one."""
    return {uuid: entry for uuid, item in live.items() if (entry := entry_of(item, period, key)) is not None}


def rank_period(site: str, board: Leaderboard, period: str, key: str, entries: dict[str, Entry],
                profiles: dict[str, Item], ranked_at: str, *, final: bool = False) -> int:
    """Rank one board period from its live entries and write the rank items whose rank, list
    position, score or name changed; returns the number of items written."""
    scores = [Score(uuid, int(e["s"]), parse_time(e.get("r")) or _NEVER)
              for uuid, e in entries.items() if eligible(board, profiles.get(uuid))]
    ranked = {r.uuid: (r.rank, n) for n, r in enumerate(rank_scores(scores, board.include_inactive), start=1)}
    on_standings = {str(i["uuid"]): i for i in store.ranked_items(site, board.id, key)}
    written = 0
    for uuid in sorted(set(entries) | set(on_standings)):
        rank, place = ranked.get(uuid, (None, 0))
        item = on_standings.get(uuid)
        if item is None and rank is None:
            continue  # neither ranked now nor shown before: nothing to write
        score = int(entries[uuid]["s"]) if uuid in entries else 0
        display_name = str((profiles.get(uuid) or {}).get("displayName") or "")
        same_rank = item is not None and item.get("rank") == rank and item.get("GSI3SK") == (
            store.standings_index_sk(place) if rank is not None else None)
        same = same_rank and item is not None and int(item.get("score", 0)) == score and (
            item.get("displayName") == display_name)
        if final:
            same = same and item is not None and "finalRank" in item and item.get("finalRank") == rank
        if not same:
            # An unchanged rank keeps its rankedAt (when it was set) while its score or name moves.
            store.set_rank(site, uuid, board.id, key, rank=rank, position=place, score=score,
                           display_name=display_name, ranked_at=None if same_rank else ranked_at, final=final)
            written += 1
        if final and rank is not None and score > 0:
            store.keep_last_final(site, uuid, board.id, period, key, rank, score)
    return written


def adopt_legacy(site: str, board: Leaderboard, period: str, key: str, live: dict[str, Item]) -> int:
    """Take one board period's score items of the layout before the live items into the live
    items (`live`, updated in place), and out of GSI2; returns how many were adopted.

    Idempotent: an adopted item has left the index, and a live entry newer than it is kept.
    """
    adopted = 0
    for legacy in store.legacy_scores(site, board.id, key):
        uuid = str(legacy["uuid"])
        entry: Entry = {"k": key, "s": int(legacy.get("score", 0)), "r": legacy.get("reachedAt")}
        for _ in range(ADOPT_TRIES):
            seen = live.get(uuid)
            entries = adopted_entries(seen or {}, period, entry)
            version = int((seen or legacy).get("stateVersion", 0))
            if store.put_live(site, uuid, board.id, entries, version=version, seen=seen):
                live[uuid] = {**(seen or {}), "uuid": uuid, "stateVersion": version, **entries}
                break
            live.pop(uuid, None)  # a writer came between: read the live item again
            if (fresh := store.live_items(site, uuid, [board.id]).get(board_live_sk(board.id))) is not None:
                live[uuid] = fresh
        store.leave_legacy_index(site, uuid, board.id, key)
        adopted += 1
    return adopted


def refresh_board(site: str, site_item: dict[str, Any], board: Leaderboard, now: dt.datetime) -> int:
    """Rank every period of one board from one read of its live items."""
    tz = str(site_item.get("timezone", "UTC"))
    week_start: WeekStart = site_item.get("weekStart", "monday")
    ranked_at = clock.iso(now)
    live = {str(i["uuid"]): i for i in store.live_scores(site, board.id)}
    plans = []
    for period in board.periods:
        key = current_period_key(period, now, tz, week_start)
        state = store.job_state(site, board.id, period) or {}
        ended = (ended_period_keys(period, str(state["periodKey"]), key, week_start)
                 if state.get("periodKey") not in (None, key) and period != ALL_TIME else [])
        adopted = set(state.get("legacyAdopted") or [])
        for wanted in {*ended[:1], key} - adopted:
            adopt_legacy(site, board, period, wanted, live)
        plans.append((period, key, ended))
    profiles = store.profiles(site, sorted(live))
    written = 0
    for period, key, ended in plans:
        for ended_key in ended:
            written += rank_period(site, board, period, ended_key, entries_of(live, period, ended_key), profiles,
                                   ranked_at, final=True)
        written += rank_period(site, board, period, key, entries_of(live, period, key), profiles, ranked_at)
        store.save_job_state(site, board.id, period, key, ranked_at)
    return written


def run(now: dt.datetime | None = None, sites: list[str] | None = None) -> dict[str, int]:
    """One pass over every site (or the given ones); returns what it did, for the logs."""
    from chalicelib.store import mechanics as mechanics_store
    from chalicelib.store import sites as sites_store

    moment = now or clock.now()
    done = {"sites": 0, "boards": 0, "written": 0}
    for site in sites if sites is not None else list(store.all_sites()):
        site_item = sites_store.get_site(site)
        if site_item is None:
            continue
        done["sites"] += 1
        # Fresh mechanics: a board created a second ago should be ranked in this pass.
        for board in mechanics_store.load(site, fresh=True).mechanics.leaderboards.values():
            done["boards"] += len(board.periods)
            done["written"] += refresh_board(site, site_item, board, moment)
    return done

