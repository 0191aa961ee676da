"""Rank materialization: every minute, each board's users whose scores changed move in its
counters; a user's rank is counted from them, not listed.

Scores are live (activity processing sets each user's live item of a board, every period of
it in one item, indexed in GSI2 by the time it was written: `store.ranks`). One run over a
board, under the board's lease (`LBJOB#{board}`: one run at a time, a run number each):
1. finishes any run before it that died (its rank items are written, its counters perhaps
   not all): the moves of that run's rank items go into the counters, each counter item once;
2. reads the live items written since a margin before the last run (the first run of the
   layout: all of them), their rank items and profiles, and for each period key being ranked
   (the current one, and at a period change the ended ones) writes the rank items whose
   counted score (None: not ranked — blocked, opted out, non-member, outside the board's
   tags, no score above zero), score, name or reached-at time changed, each with the score
   the counters held it at before (`before`) and the run's number;
3. moves the counters by those changes (`apply_moves`: the three levels of counter items of
   `engine.leaderboards`, deltas aggregated over the run) and the top list (`keep_top`);
4. closes an ended period (`close_period`: final ranks from its standings, the `S#KP#`
   pointers previousRank reads) and records the run's end (the watermark of the next).

A user's rank is 1 + the users counted above their counted score: the top counter item, the
band and the bucket of that score (`counter_ranks`), standard competition ranking. A rank
item a later run wrote while its counters are on their way is read at its `before` score, so
a rank read is the counters' rank as of their last run. What a run costs is proportional to
the users whose scores (or eligibility) changed, not to the board's size (bench/leaderboards.py).

Period close: a period is finalized by the first run after it ended; when the job did not run
across several period changes, every period from the last one it had seen up to the current
one is finalized, in order (`ended_period_keys`), so the `S#KP#` pointers move forward through
each of them (at most `MAX_CLOSE` periods per pass). A live item keeps two entries per period
kind, so a user who acted in two periods after the one being closed keeps their rank item of
it as the last run counted it: the job runs every minute, and only a pause that long (a whole
day for a daily board) could leave such a user's last changes out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from chalicelib import clock
from chalicelib.engine.leaderboards import (
    Counts,
    Entry,
    FinalRank,
    RankChange,
    adopted_entries,
    competition_rank,
    counted_score,
    deltas_by_level,
    entry_of,
    is_ranked,
    moved,
    rank_change,
    score_moves,
    slot_of,
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
CHANGE_MARGIN = dt.timedelta(seconds=60)
LEASE = dt.timedelta(seconds=45)  # past the job's 30 s Lambda timeout: a dead run frees it
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


def histogram_value(item: Item | None, applied: int) -> int | None:
    """The score the histogram counts a rank item's user at, once run `applied` is in: a rank
    item a later run wrote (its counters still on their way) is counted where it was before."""
    if item is None:
        return None
    value = item.get("before") if int(item.get("run", 0)) > applied else item.get("counted")
    return None if value is None else int(value)


def apply_moves(site: str, board_id: str, key: str, deltas: Counts, run: int, ranked_at: str) -> int:
    """Move the board period's counters by `deltas` (score -> users arriving or leaving) as run
    `run`: each counter item read, moved and written once, conditional on no run from `run` on
    having written it (so a run finished again after a crash moves nothing twice). The top item
    last: its `run` is what readers take as the counters' run. Returns the items written."""
    if not deltas:
        return 0
    pk = store.histogram_pk(site, board_id, key)
    bands, buckets, values = deltas_by_level(deltas)
    top_sk = store.HISTOGRAM_TOP_SK
    wanted = ([(pk, store.histogram_sks(slot)[2]) for slot in values]
              + [(pk, f"H#{band}") for band in buckets] + [(pk, top_sk)])
    found = store.histogram_items(wanted)
    lower = [(store.histogram_sks(slot)[2], moves) for slot, moves in values.items()]
    lower += [(f"H#{band}", moves) for band, moves in buckets.items()]
    written = sum(store.fan_out(lambda part: _move_item(pk, part[0], found, part[1], run), lower,
                                store.COUNTER_THREADS))
    return written + _move_item(pk, top_sk, found, bands, run, ranked_at)


def _move_item(pk: str, sk: str, found: dict[tuple[str, str], Item], moves: Counts, run: int,
               ranked_at: str | None = None) -> int:
    item = found.get((pk, sk))
    if item is not None and int(item.get("run", 0)) >= run:
        return 0  # this run (finished before a crash) or a later one moved it already
    return int(store.put_counts(pk, sk, moved(store.counts_of(item), moves), run, ranked_at))


def counter_ranks(site: str, tops: dict[tuple[str, str], Item | None],
                  asked: dict[tuple[str, str, str], Item | None]) -> dict[tuple[str, str, str], tuple[int, str | None]]:
    """(board, period key, uuid) -> the competition rank and when it was set, for the rank
    items `asked`, from the board periods' top counter items `tops` (read with them) and one
    BatchGetItem of each user's band and bucket items. A user the counters do not count has none."""
    values: dict[tuple[str, str, str], int] = {}
    for (board_id, key, uuid), item in asked.items():
        top = tops.get((board_id, key))
        if top is not None and (value := histogram_value(item, int(top.get("run", 0)))) is not None:
            values[(board_id, key, uuid)] = value
    needed = [(store.histogram_pk(site, board_id, key), sk) for (board_id, key, _), value in values.items()
              for sk in store.histogram_sks(slot_of(value))[1:]]
    found = store.histogram_items(needed, consistent=False)
    out = {}
    for (board_id, key, uuid), value in values.items():
        pk = store.histogram_pk(site, board_id, key)
        top = tops[(board_id, key)] or {}
        _, band_sk, bucket_sk = store.histogram_sks(slot_of(value))
        rank = competition_rank(value, store.counts_of(top), store.counts_of(found.get((pk, band_sk))),
                                store.counts_of(found.get((pk, bucket_sk))))
        out[(board_id, key, uuid)] = (rank, top.get("rankedAt"))
    return out


@dataclass
class Changes:
    """What one run found: per period key the (counted before, counted now) moves of the rank
    items it wrote, and the standings entry of every user it read (None: off the standings)."""

    moves: dict[str, list[tuple[int | None, int | None]]] = field(default_factory=dict)
    shown: dict[str, dict[str, Item | None]] = field(default_factory=dict)
    items: list[Item] = field(default_factory=list)  # the rank items written


def count_changes(site: str, board: Leaderboard, keys: dict[str, list[str]], live: dict[str, Item],
                  rank_items: dict[tuple[str, str], Item], profiles: dict[str, Item], run: int) -> Changes:
    """Write the rank items of the users whose live items changed (`live`), for each period
    key they hold an entry of (`keys`: period kind -> keys being ranked), where what the
    standings show moved. A user whose live item no longer holds a key keeps their rank item
    of it as it is."""
    changes = Changes()
    for uuid, live_item in sorted(live.items()):
        profile = profiles.get(uuid)
        allowed = eligible(board, profile)
        display_name = str((profile or {}).get("displayName") or "")
        for period, period_keys in keys.items():
            for key in period_keys:
                entry = entry_of(live_item, period, key)
                if entry is None:
                    continue
                score = int(entry["s"])
                reached_at = str(entry.get("r") or "")
                counted = counted_score(board, score, allowed)
                changes.shown.setdefault(key, {})[uuid] = (
                    None if counted is None else store.top_entry(uuid, counted, reached_at, display_name))
                item = rank_items.get((uuid, key))
                before = None if item is None or item.get("counted") is None else int(item["counted"])
                if item is not None and (before, int(item.get("score", 0)), item.get("displayName"),
                                         item.get("reachedAt"), "rank" in item) == (
                        counted, score, display_name, reached_at, False):
                    continue  # nothing the standings show moved
                changes.items.append(store.rank_item(site, uuid, board.id, key, held=item, counted=counted,
                                                     before=before, run=run, score=score, reached_at=reached_at,
                                                     display_name=display_name))
                changes.moves.setdefault(key, []).append((before, counted))
    store.put_rank_items(changes.items)
    return changes


def keep_top(site: str, board_id: str, key: str, shown: dict[str, Item | None]) -> int:
    """Bring the board period's top list up to date with the users of this run (`shown`: uuid
    -> their standings entry, None when off the standings): their old entries out, new ones in
    order. A list that is not the whole board knows nothing past its last entry, so it keeps
    nothing beyond that; fewer than TOP_SIZE left, it is read again from the shards."""
    top = store.top_list(site, board_id, key)
    if top is None:
        return _refill_top(site, board_id, key)
    entries = [e for e in top.get("entries") or [] if e["u"] not in shown]
    entries += [e for e in shown.values() if e is not None]
    entries.sort(key=store.top_entry_sk)
    complete = bool(top.get("complete"))
    if not complete and top.get("entries"):
        boundary = store.top_entry_sk(top["entries"][-1])
        entries = [e for e in entries if store.top_entry_sk(e) <= boundary]
    if complete and len(entries) > store.TOP_SIZE:
        complete = False
    entries = entries[:store.TOP_SIZE]
    if not complete and len(entries) < store.TOP_SIZE:
        return _refill_top(site, board_id, key)
    if entries == top.get("entries") and complete == bool(top.get("complete")):
        return 0
    store.put_top_list(site, board_id, key, entries, complete)
    return 1


def _refill_top(site: str, board_id: str, key: str) -> int:
    items, resume, _ = store.standings_after(site, board_id, key, limit=store.TOP_SIZE)
    entries = [store.top_entry(str(i["uuid"]), int(i["counted"]), str(i["reachedAt"]), str(i.get("displayName") or ""))
               for i in items]
    store.put_top_list(site, board_id, key, entries, complete=resume is None)
    return 1


def close_period(site: str, board: Leaderboard, period: str, key: str) -> int:
    """Keep an ended period's final ranks: `finalRank` on each rank item on its standings and,
    for a score above zero, the user's last-final pointer (what previousRank reads). One pass
    over the period's standings: its cost is the users who scored in it, not the board."""
    written = 0
    for item in store.standings_all(site, board.id, key):
        rank, uuid = int(item["rank"]), str(item["uuid"])
        if item.get("finalRank") != rank:
            store.set_final(site, uuid, board.id, key, rank)
            written += 1
        if int(item.get("score", 0)) > 0:
            store.keep_last_final(site, uuid, board.id, period, key, rank, int(item["score"]))
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


def refresh_board(site: str, site_item: dict[str, Any], board: Leaderboard, now: dt.datetime) -> int | None:
    """One run over one board: the users whose live items changed since the last run move in
    each period's counters and standings; an ended period is closed. Returns the rank and
    counter items written, None when another run holds the board (this pass leaves it: two
    runs at once could move the same counters twice)."""
    tz = str(site_item.get("timezone", "UTC"))
    week_start: WeekStart = site_item.get("weekStart", "monday")
    ranked_at = clock.iso(now)
    moment = max(now, clock.now())
    runs = store.begin_run(site, board.id, clock.iso(moment), clock.iso(moment + LEASE))
    if runs is None:
        return None
    run, applied = int(runs["started"]), int(runs.get("applied", 0))
    keys: dict[str, list[str]] = {}
    ended_of: dict[str, list[str]] = {}
    for period in board.periods:
        key = current_period_key(period, now, tz, week_start)
        state = store.job_state(site, board.id, period) or {}
        ended = (ended_period_keys(period, str(state["periodKey"]), key, week_start)
                 if state.get("periodKey") not in (None, key) and period != ALL_TIME else [])
        adopted = set(state.get("legacyAdopted") or [])
        for wanted in {*ended[:1], key} - adopted:
            adopt_legacy(site, board, period, wanted, {})
        keys[period], ended_of[period] = [*ended, key], ended
    # The first run of the histogram's layout reads every live item; later ones those written
    # since a margin before the last run's start (GSI2 is eventually consistent, clocks differ).
    since = None
    if "watermark" in runs:
        watermark = min(parse_time(str(runs["watermark"])) or now, now)
        since = clock.iso(watermark - CHANGE_MARGIN)
    live = {str(i["uuid"]): i for i in store.live_scores(site, board.id, since)}
    if since is None:
        store.restamp_legacy(site, list(live.values()))
    rank_items = store.rank_items(site, board.id, [(uuid, key) for uuid in live for period_keys in keys.values()
                                                   for key in period_keys])
    written = 0
    for unfinished in range(applied + 1, run):
        # A run that died before its end: its rank items are written (or not at all), its
        # counters perhaps partly. Moving them from its rank items finishes it.
        for key, deltas in _moves_of_run(rank_items, unfinished).items():
            written += apply_moves(site, board.id, key, deltas, unfinished, ranked_at)
    changes = count_changes(site, board, keys, live, rank_items, store.profiles(site, sorted(live)), run)
    written += len(changes.items)
    for key, key_moves in sorted(changes.moves.items()):
        written += apply_moves(site, board.id, key, score_moves(key_moves), run, ranked_at)
    for key, shown in sorted(changes.shown.items()):
        written += keep_top(site, board.id, key, shown)
    for kind, ended in ended_of.items():
        for ended_key in ended:
            written += close_period(site, board, kind, ended_key)
    for kind, period_keys in keys.items():
        store.mark_ranked(site, board.id, period_keys[-1], ranked_at)
        store.save_job_state(site, board.id, kind, period_keys[-1], ranked_at)
    store.end_run(site, board.id, run, ranked_at)
    return written


def _moves_of_run(rank_items: dict[tuple[str, str], Item], run: int) -> dict[str, Counts]:
    """Per period key, the counter moves of the rank items run `run` wrote."""
    moves: dict[str, list[tuple[int | None, int | None]]] = {}
    for (_, key), item in rank_items.items():
        if int(item.get("run", 0)) == run:
            before, counted = item.get("before"), item.get("counted")
            moves.setdefault(key, []).append((None if before is None else int(before),
                                              None if counted is None else int(counted)))
    return {key: score_moves(m) for key, m in moves.items()}


def run(now: dt.datetime | None = None, sites: list[str] | None = None) -> dict[str, int]:
    """One pass over every site (or the given ones); returns what it did, for the logs."""
    from chalicelib.store import mechanics as mechanics_store
    from chalicelib.store import sites as sites_store

    moment = now or clock.now()
    done = {"sites": 0, "boards": 0, "written": 0, "busy": 0}
    for site in sites if sites is not None else list(store.all_sites()):
        site_item = sites_store.get_site(site)
        if site_item is None:
            continue
        done["sites"] += 1
        # Fresh mechanics: a board created a second ago should be ranked in this pass.
        for board in mechanics_store.load(site, fresh=True).mechanics.leaderboards.values():
            written = refresh_board(site, site_item, board, moment)
            if written is None:
                done["busy"] += 1
                continue
            done["boards"] += len(board.periods)
            done["written"] += written
    return done

