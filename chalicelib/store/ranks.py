"""Leaderboard scores and ranks: the live items activity processing sets, the rank items, counter
items and top lists the rank job keeps.

Live scores: one item per user and board, `S#L#{board}` (`keys.board_live_sk`), holding every
period of the board (`engine.leaderboards.next_entries`: the current and the previous entry of
each period kind). Activity processing sets it right after its commit, from the state item as
stored; GSI2 indexes it under `{site}#LBL#{board}#{shard}` (16 partitions by a hash of the user,
`keys.BOARD_SHARDS`) with the time of the write as sort key, so the rank job reads only what
changed since its last run. A profile change that moves who is ranked (block, member, tags,
opt-in, name) re-stamps the user's live items (`touch_live`).

Rank items: one per user and board period, `S#K#{board}#{periodKey}`, written only by the rank
job, and only when something shown changed: `counted` (the score the counters count the user
at; absent when not ranked), `before` (what they counted before the run that wrote it), `run`,
`score`, `reachedAt`, `displayName`, and GSI3 keys `{site}#LBR#{board}#{periodKey}#{shard}` /
score-then-time order, so standings are the merge of 16 partitions. At a period's end
`finalRank`, and one pointer item per user, board and period kind, `S#KP#{board}#{period}`
`{rank, score, periodKey}`: the user's last final rank with a score above zero, read by the
leaderboards tab in O(1) however old it is.

Counters, in a partition per board period, `LBH#{site}#{board}#{periodKey}`: `H` (users per
band, the run that last moved it, `rankedAt`), `H#{band}` (users per bucket of the band),
`H#{band}#{bucket}` (users per score of the bucket), each item written whole and conditional on
no later run having written it; `TOP`, the first TOP_SIZE entries of the standings.

Before the live items, the rank item of the current period also held the live score and was
indexed by GSI2 (`keys.legacy_board_index_pks`); the rank job adopts such items into the live
ones and takes them out of GSI2 (`adopt_legacy`). The job's progress: `LBJOB#{board}` (lease,
run numbers, watermark) and `LBJOB#{board}#{period}` `{periodKey, rankedAt}` in the site
partition (outside `MECH#`..`SITE`, the mechanics range).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from chalicelib import clock
from chalicelib.engine.leaderboards import Counts, Entry, Slot, competition_ranks
from chalicelib.parallel import in_parallel
from chalicelib.store import db
from chalicelib.store.keys import (
    BOARD_SHARDS,
    PROFILE_SK,
    board_index_pk,
    board_index_pks,
    board_live_sk,
    board_score_sk,
    legacy_board_index_pks,
    shard_of,
    site_pk,
    user_pk,
)
from chalicelib.store.reads import BATCH_GET_MAX, batch_get, user_items

Item = dict[str, Any]
T = TypeVar("T")
R = TypeVar("R")
SCORE_OFFSET = 10**19  # scores are far inside +-10**18
SCORE_DIGITS = 20
HISTOGRAM_TOP_SK = "H"
TOP_SK = "TOP"
# The standings index takes the rank job's writes of changed users, two index writes each (the
# score in the sort key moves): as many partitions as the live scores' index, for the same rate.
STANDINGS_SHARDS = BOARD_SHARDS
TOP_SIZE = 100  # the standings' largest page


def standings_index_pk(site: str, board_id: str, period_key: str, uuid: str) -> str:
    """The GSI3 partition of a user's place on a board period's standings: 16 by user, so the
    rank job's writes of a busy board are not one partition's."""
    return f"{site}#LBR#{board_id}#{period_key}#{shard_of(uuid, STANDINGS_SHARDS):02d}"


def standings_index_pks(site: str, board_id: str, period_key: str) -> list[str]:
    return [f"{site}#LBR#{board_id}#{period_key}#{n:02d}" for n in range(STANDINGS_SHARDS)]


def standings_index_sk(counted: int, reached_at: str, uuid: str) -> str:
    """Standings order in one string: the score descending, then when it was reached, then uuid."""
    return f"{SCORE_OFFSET - counted:0{SCORE_DIGITS}d}#{reached_at}#{uuid}"


def histogram_pk(site: str, board_id: str, period_key: str) -> str:
    return f"LBH#{site}#{board_id}#{period_key}"


def histogram_sks(slot: Slot) -> tuple[str, str, str]:
    """The three counter items a score is counted in: bands, its band's buckets, its bucket's
    values."""
    return HISTOGRAM_TOP_SK, f"H#{slot.band}", f"H#{slot.band}#{slot.bucket}"


def last_final_sk(board_id: str, period: str) -> str:
    return f"S#KP#{board_id}#{period}"


def job_sk(board_id: str, period: str) -> str:
    return f"LBJOB#{board_id}#{period}"


def runs_sk(board_id: str) -> str:
    return f"LBJOB#{board_id}"


def all_sites() -> Iterator[str]:
    from chalicelib.store import sites

    yield from sites.all_site_ids()


# ---------------------------------------------------------------- the job's requests
#
# The rank job's reads and writes of one run are independent of each other (other shards,
# other users, other counter items): RANK_JOB_THREADS of them at a time, so a run's time is its
# requests' latency divided by that, not summed (bench/capacity.py: what one run handles).
RANK_JOB_THREADS = 8
# The counter items of a board period share one partition key (1,000 write units/s): fewer at
# a time, so a run that moves thousands of buckets writes them at about 666 a second.
COUNTER_THREADS = 4


def fan_out(task: Callable[[T], R], parts: Sequence[T], threads: int = RANK_JOB_THREADS) -> list[R]:
    """`task` over `parts`, `threads` at a time, results in order (`parallel.in_parallel`)."""
    return in_parallel(task, parts, threads, "ranks")


def _chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    return [items[start:start + size] for start in range(0, len(items), size)]


# ---------------------------------------------------------------- live scores


def live_index_sk(changed_at: str, uuid: str) -> str:
    """A live item's GSI2 sort key: when it was last written, so the rank job reads only the
    users whose scores (or eligibility) changed since its last run."""
    return f"{changed_at}#{uuid}"


def live_scores(site: str, board_id: str, since: str | None = None) -> list[Item]:
    """The live items of one board written at or after `since` (every one without it): GSI2,
    each of its partitions, paged to the end."""
    condition, values = "GSI2PK = :pk", {}
    if since is not None:
        condition, values = "GSI2PK = :pk AND GSI2SK >= :since", {":since": since}
    def shard(pk: str) -> list[Item]:
        return db.query_all(index="GSI2", key_condition=condition, values={":pk": pk, **values}, consistent=False)
    return [item for items in fan_out(shard, board_index_pks(site, board_id)) for item in items]


def touch_live(site: str, uuid: str) -> int:
    """Mark the user's live items as changed now (a profile change that moves who is ranked or
    how they are shown: blocked, member, tags, opt-in, name), so the next rank run reads them."""
    touched = 0
    changed_at = clock.iso(clock.now())
    for item in db.query_all(key_condition="PK = :pk AND begins_with(SK, :l)",
                             values={":pk": user_pk(site, uuid), ":l": board_live_sk("")}):
        with contextlib.suppress(db.ConditionFailed):
            db.update(user_pk(site, uuid), str(item["SK"]), "SET GSI2SK = :sk",
                      values={":sk": live_index_sk(changed_at, uuid)}, condition="attribute_exists(GSI2PK)",
                      return_new=False)
            touched += 1
    return touched


def restamp_legacy(site: str, items: Sequence[Item]) -> int:
    """Live items written before their GSI2 sort key named the time (it was the uuid alone):
    stamped now, so later runs' "changed since" Queries do not keep finding them (a uuid
    sorts after any date when it starts with a letter). A write in between keeps its own key."""
    def restamp(item: Item) -> int:
        uuid = str(item["uuid"])
        try:
            db.update(user_pk(site, uuid), str(item["SK"]), "SET GSI2SK = :sk",
                      values={":sk": live_index_sk(clock.iso(clock.now()), uuid), ":old": item["GSI2SK"]},
                      condition="GSI2SK = :old", return_new=False)
        except db.ConditionFailed:
            return 0
        return 1
    return sum(fan_out(restamp, [i for i in items if "#" not in str(i.get("GSI2SK", "#"))]))


def live_items(site: str, uuid: str, board_ids: Sequence[str], extra: Sequence[str] = ()) -> dict[str, Item]:
    """The user's live items of `board_ids` and the items `extra` (sort keys), by sort key, in
    one strongly consistent BatchGetItem."""
    sort_keys = [*extra, *(board_live_sk(b) for b in board_ids)]
    return {str(item["SK"]): item for start in range(0, len(sort_keys), BATCH_GET_MAX)
            for item in user_items(site, uuid, sort_keys[start:start + BATCH_GET_MAX])}


def put_live(site: str, uuid: str, board_id: str, entries: dict[str, Entry], *, version: int,
             seen: Item | None) -> bool:
    """Write a live item as decided on `seen` (the item as read, None when there was none).

    Conditional on `seen` being still what is stored: False when another writer came between
    (the caller reads again). `version`, the state item's version the entries were taken from,
    is what a later writer compares against.
    """
    item = {"PK": user_pk(site, uuid), "SK": board_live_sk(board_id), "uuid": uuid, "boardId": board_id,
            "stateVersion": version, "GSI2PK": board_index_pk(site, board_id, uuid),
            "GSI2SK": live_index_sk(clock.iso(clock.now()), uuid), **entries}
    try:
        if seen is None:
            db.put(item, condition="attribute_not_exists(PK)")
        else:
            db.put(item, condition="stateVersion = :seen", values={":seen": seen.get("stateVersion")})
    except db.ConditionFailed:
        return False
    return True


def legacy_scores(site: str, board_id: str, period_key: str) -> list[Item]:
    """Score items of one board period in the layout before the live items, still in GSI2."""
    return [item for pk in legacy_board_index_pks(site, board_id, period_key)
            for item in db.query_all(index="GSI2", key_condition="GSI2PK = :pk", values={":pk": pk})]


def leave_legacy_index(site: str, uuid: str, board_id: str, period_key: str) -> None:
    """A legacy score item adopted into the live item: out of GSI2, kept as the rank item."""
    db.update(user_pk(site, uuid), board_score_sk(board_id, period_key), "REMOVE GSI2PK, GSI2SK",
              return_new=False)


# ---------------------------------------------------------------- ranks


def profiles(site: str, uuids: Sequence[str]) -> dict[str, Item]:
    """Profiles by uuid, 100 per BatchGetItem."""
    keys = [(user_pk(site, u), PROFILE_SK) for u in dict.fromkeys(uuids)]
    return {str(item["uuid"]): item for items in fan_out(lambda chunk: batch_get(chunk, consistent=False),
                                                         _chunks(keys, BATCH_GET_MAX)) for item in items}


def rank_items(site: str, board_id: str, wanted: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Item]:
    """Rank items by (uuid, period key), strongly consistent, 100 per BatchGetItem."""
    keys = [(user_pk(site, uuid), board_score_sk(board_id, key)) for uuid, key in dict.fromkeys(wanted)]
    return {(str(item["uuid"]), str(item["periodKey"])): item
            for items in fan_out(batch_get, _chunks(keys, BATCH_GET_MAX)) for item in items}


def rank_item(site: str, uuid: str, board_id: str, period_key: str, *, held: Item | None, counted: int | None,
              before: int | None, run: int, score: int, reached_at: str, display_name: str) -> Item:
    """A user's rank item of one board period as run `run` counts them: at `counted` on the
    standings (None: off them), `before` what the counters held them at before this run; what
    else the item held (`held`: a final rank) is kept."""
    kept = {k: v for k, v in (held or {}).items()
            if k not in ("rank", "counted", "before", "GSI3PK", "GSI3SK")}  # `rank`: the layout before the counters
    item: Item = {**kept, "PK": user_pk(site, uuid), "SK": board_score_sk(board_id, period_key), "uuid": uuid,
                  "boardId": board_id, "periodKey": period_key, "score": score, "displayName": display_name,
                  "run": run, "reachedAt": reached_at}
    if counted is not None:
        item.update(counted=counted, GSI3PK=standings_index_pk(site, board_id, period_key, uuid),
                    GSI3SK=standings_index_sk(counted, reached_at, uuid))
    if before is not None:
        item["before"] = before
    return item


def put_rank_items(items: Sequence[Item]) -> None:
    """Rank items in BatchWriteItems of 25: only the rank job writes them, one run at a time."""
    fan_out(db.batch_put, _chunks(items, db.BATCH_WRITE_MAX))


def set_final(site: str, uuid: str, board_id: str, period_key: str, rank: int) -> None:
    db.update(user_pk(site, uuid), board_score_sk(board_id, period_key), "SET finalRank = :f",
              values={":f": rank}, return_new=False)


def keep_last_final(site: str, uuid: str, board_id: str, period: str, period_key: str, rank: int,
                    score: int) -> None:
    """The user's last final rank (score > 0) of a period kind; never moves back in time."""
    with contextlib.suppress(db.ConditionFailed):
        db.update(user_pk(site, uuid), last_final_sk(board_id, period),
                  "SET #r = :r, #s = :s, periodKey = :k, boardId = :b, #p = :p",
                  values={":r": rank, ":s": score, ":k": period_key, ":b": board_id, ":p": period},
                  names={"#r": "rank", "#s": "score", "#p": "period"},
                  condition="attribute_not_exists(periodKey) OR periodKey <= :k", return_new=False)


# ---------------------------------------------------------------- the histogram


def counts_of(item: Item | None) -> Counts:
    return {int(k): int(v) for k, v in ((item or {}).get("counts") or {}).items()}


def histogram_items(keys: Sequence[tuple[str, str]], consistent: bool = True) -> dict[tuple[str, str], Item]:
    """Counter items by (PK, SK), 100 per BatchGetItem."""
    wanted = list(dict.fromkeys(keys))
    return {(str(item["PK"]), str(item["SK"])): item
            for items in fan_out(lambda chunk: batch_get(chunk, consistent=consistent), _chunks(wanted, BATCH_GET_MAX))
            for item in items}


def put_counts(pk: str, sk: str, counts: Counts, run: int, ranked_at: str | None = None) -> bool:
    """Write one counter item as run `run` leaves it; False when that run (or a later one)
    already wrote it (a run finished again after a crash writes each item once)."""
    item: Item = {"PK": pk, "SK": sk, "counts": {str(k): n for k, n in sorted(counts.items())}, "run": run}
    if ranked_at is not None:
        item["rankedAt"] = ranked_at
    try:
        db.put(item, condition="attribute_not_exists(PK) OR #run < :run", names={"#run": "run"},
               values={":run": run})
    except db.ConditionFailed:
        return False
    return True


def mark_ranked(site: str, board_id: str, period_key: str, ranked_at: str) -> None:
    """The time of the last run over a board period, on its top counter item (what a rank read
    shows as `rankedAt`: the rank is as of then, whether or not anything moved)."""
    with contextlib.suppress(db.ConditionFailed):
        db.update(histogram_pk(site, board_id, period_key), HISTOGRAM_TOP_SK, "SET rankedAt = :at",
                  values={":at": ranked_at}, condition="attribute_exists(PK)", return_new=False)


# ---------------------------------------------------------------- the job's own items


def job_state(site: str, board_id: str, period: str) -> Item | None:
    return db.get(site_pk(site), job_sk(board_id, period))


def save_job_state(site: str, board_id: str, period: str, period_key: str, ranked_at: str) -> None:
    """`legacyAdopted`: the period key whose older-layout score items are adopted (no run
    after this one looks for them again)."""
    db.put({"PK": site_pk(site), "SK": job_sk(board_id, period), "boardId": board_id, "period": period,
            "periodKey": period_key, "rankedAt": ranked_at, "legacyAdopted": [period_key]})


def begin_run(site: str, board_id: str, now: str, lease_until: str) -> Item | None:
    """Take the board's lease and the next run number (`started`); None while another run
    holds an unexpired lease. Returns the board's run record as it is now."""
    try:
        return db.update(site_pk(site), runs_sk(board_id),
                         "SET started = if_not_exists(started, :zero) + :one, leaseUntil = :until, boardId = :b",
                         values={":zero": 0, ":one": 1, ":until": lease_until, ":now": now, ":b": board_id},
                         condition="attribute_not_exists(leaseUntil) OR leaseUntil < :now")
    except db.ConditionFailed:
        return None


def end_run(site: str, board_id: str, run: int, watermark: str) -> bool:
    """Record run `run` as applied and changes before `watermark` as in, and free the lease;
    False when the lease was lost to a later run meanwhile."""
    try:
        db.update(site_pk(site), runs_sk(board_id), "SET applied = :run, watermark = :w REMOVE leaseUntil",
                  values={":run": run, ":w": watermark}, condition="started = :run", return_new=False)
    except db.ConditionFailed:
        return False
    return True


def _listed(entry: Item) -> Item:
    """A top-list entry as a rank item's fields."""
    return {"uuid": entry["u"], "counted": int(entry["c"]), "score": int(entry["c"]), "reachedAt": entry["r"],
            "displayName": entry.get("n", "")}


def top_entry(uuid: str, counted: int, reached_at: str, display_name: str) -> Item:
    return {"u": uuid, "c": counted, "r": reached_at, "n": display_name}


def top_entry_sk(entry: Item) -> str:
    return standings_index_sk(int(entry["c"]), str(entry["r"]), str(entry["u"]))


def top_list(site: str, board_id: str, period_key: str, consistent: bool = True) -> Item | None:
    """The board period's top list: its first TOP_SIZE standings entries (all of them when
    `complete`), kept by the rank job so the first page is one GetItem."""
    return db.get(histogram_pk(site, board_id, period_key), TOP_SK, consistent=consistent)


def put_top_list(site: str, board_id: str, period_key: str, entries: list[Item], complete: bool) -> None:
    db.put({"PK": histogram_pk(site, board_id, period_key), "SK": TOP_SK, "entries": entries, "complete": complete})


def standings_after(site: str, board_id: str, period_key: str, *, limit: int, after: str | None = None,
                    done: frozenset[int] = frozenset()) -> tuple[list[Item], str | None, frozenset[int]]:
    """Standings entries after the sort key `after`, merged from the shards (`db.merged_page`)."""
    return db.merged_page(partitions=standings_index_pks(site, board_id, period_key), index="GSI3", values={},
                          limit=limit, after=after, done=done)


def standings_page(site: str, board_id: str, period_key: str, *, limit: int,
                   cursor: str | None) -> tuple[list[Item], str | None]:
    """One page of a board period in standings order (score, then when it was reached), each
    entry with its competition rank. The first page comes from the top list (one GetItem);
    later ones from the shards (one Query per shard not read to its end). The cursor carries
    the position, the last entry's rank and score (ranks run on across pages) and where the
    shards resume."""
    scope = {"standings": standings_index_pk(site, board_id, period_key, "")}
    listed: Any = 0
    last_rank: Any = 0
    last_score: Any = None
    after: Any = None
    done: Any = []
    items: list[Item] | None = None
    resume: str | None = None
    if cursor is None:
        top = top_list(site, board_id, period_key, consistent=False)
        entries = list((top or {}).get("entries") or [])
        if top is not None and (top.get("complete") or len(entries) >= limit):
            items = [_listed(e) for e in entries[:limit]]
            more = len(entries) > limit or not top.get("complete")
            resume = top_entry_sk(entries[limit - 1]) if more else None
            done = []
    else:
        carried = db.decode_cursor(cursor, scope)
        listed, last_rank, last_score = carried.get("n"), carried.get("r"), carried.get("s")
        after, done = carried.get("a"), carried.get("d")
        if not (isinstance(listed, int) and isinstance(last_rank, int) and isinstance(last_score, int)
                and isinstance(after, str) and isinstance(done, list)
                and all(isinstance(n, int) and 0 <= n < STANDINGS_SHARDS for n in done)):
            raise db.InvalidCursor("is not a cursor this API issued")
    if items is None:
        items, resume, ended = standings_after(site, board_id, period_key, limit=limit, after=after,
                                               done=frozenset(done))
        done = sorted(ended)
    ranks = competition_ranks([int(i["counted"]) for i in items], listed, last_rank, last_score)
    ranked = [{**item, "rank": rank} for item, rank in zip(items, ranks, strict=True)]
    if resume is None or not ranked:
        return ranked, None
    return ranked, db.encode_cursor({"n": listed + len(ranked), "r": ranks[-1], "s": int(ranked[-1]["counted"]),
                                     "a": resume, "d": done}, scope)


def standings_all(site: str, board_id: str, period_key: str) -> Iterator[Item]:
    """Every item of a board period's standings, in order, with its rank (a period's close)."""
    cursor: str | None = None
    while True:
        items, cursor = standings_page(site, board_id, period_key, limit=500, cursor=cursor)
        yield from items
        if cursor is None:
            return
