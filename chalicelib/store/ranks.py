"""Leaderboard scores and ranks: the live items activity processing sets, the rank items the
rank job writes, and the standings list.

Live scores: one item per user and board, `S#L#{board}` (`keys.board_live_sk`), holding every
period of the board (`engine.leaderboards.next_entries`: the current and the previous entry of
each period kind). Activity processing sets it right after its commit, from the state item as
stored; GSI2 indexes it under `{site}#LBL#{board}#{shard}`, 16 partitions by a hash of the user
(`keys.BOARD_SHARDS`), which the rank job reads. One write per board an activity moves, however
many periods the board has.

Rank items: one per user and board period, `S#K#{board}#{periodKey}`, written only by the rank
job, and only when something shown changed:
- `rank`, `rankedAt`, `score` (as ranked), `displayName`, and GSI3 keys
  `{site}#LBR#{board}#{periodKey}` / zero-padded list position, so standings are one Query of
  GSI3 in rank order;
- at a period's end `finalRank`, and one pointer item per user, board and period kind,
  `S#KP#{board}#{period}` `{rank, score, periodKey}`: the user's last final rank with a score
  above zero, read by the leaderboards tab in O(1) however old it is.
Before the live items, the rank item of the current period also held the live score and was
indexed by GSI2 (`keys.legacy_board_index_pks`); the rank job adopts such items into the live
ones and takes them out of GSI2 (`adopt_legacy`).
The job's own progress lives in the site partition as `LBJOB#{board}#{period}` `{periodKey,
rankedAt}` (outside `MECH#`..`SITE`, the mechanics range).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from chalicelib.engine.leaderboards import Entry
from chalicelib.store import db
from chalicelib.store.keys import (
    PROFILE_SK,
    board_index_pk,
    board_index_pks,
    board_live_sk,
    board_score_sk,
    legacy_board_index_pks,
    site_pk,
    user_pk,
)
from chalicelib.store.reads import BATCH_GET_MAX, batch_get, user_items

Item = dict[str, Any]
POSITION_DIGITS = 10


def standings_index_pk(site: str, board_id: str, period_key: str) -> str:
    return f"{site}#LBR#{board_id}#{period_key}"


def standings_index_sk(position: int) -> str:
    return f"{position:0{POSITION_DIGITS}d}"


def last_final_sk(board_id: str, period: str) -> str:
    return f"S#KP#{board_id}#{period}"


def job_sk(board_id: str, period: str) -> str:
    return f"LBJOB#{board_id}#{period}"


def all_sites() -> Iterator[str]:
    from chalicelib.store import sites

    yield from sites.all_site_ids()


# ---------------------------------------------------------------- live scores


def live_scores(site: str, board_id: str) -> list[Item]:
    """Every user's live item of one board (GSI2: each of its partitions, paged to the end)."""
    return [item for pk in board_index_pks(site, board_id)
            for item in db.query_all(index="GSI2", key_condition="GSI2PK = :pk", values={":pk": pk})]


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
            "stateVersion": version, "GSI2PK": board_index_pk(site, board_id, uuid), "GSI2SK": uuid, **entries}
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
    out: dict[str, Item] = {}
    wanted = list(dict.fromkeys(uuids))
    for start in range(0, len(wanted), BATCH_GET_MAX):
        chunk = wanted[start:start + BATCH_GET_MAX]
        for item in batch_get([(user_pk(site, u), PROFILE_SK) for u in chunk], consistent=False):
            out[str(item["uuid"])] = item
    return out


def ranked_items(site: str, board_id: str, period_key: str) -> list[Item]:
    """The rank items of one board period that are on its standings (GSI3, paged to the end)."""
    return db.query_all(index="GSI3", key_condition="GSI3PK = :pk",
                        values={":pk": standings_index_pk(site, board_id, period_key)}, consistent=False)


def job_state(site: str, board_id: str, period: str) -> Item | None:
    return db.get(site_pk(site), job_sk(board_id, period))


def save_job_state(site: str, board_id: str, period: str, period_key: str, ranked_at: str) -> None:
    """`legacyAdopted`: the period key whose older-layout score items are adopted (no run
    after this one looks for them again)."""
    db.put({"PK": site_pk(site), "SK": job_sk(board_id, period), "boardId": board_id, "period": period,
            "periodKey": period_key, "rankedAt": ranked_at, "legacyAdopted": [period_key]})


def set_rank(site: str, uuid: str, board_id: str, period_key: str, *, rank: int | None, position: int,
             score: int, display_name: str, ranked_at: str | None, final: bool = False) -> None:
    """Write a user's rank item of one board period; `rank=None` takes the user off the
    standings; `ranked_at=None` keeps the time the rank was set (only the score or name moved)."""
    names = {"#u": "uuid", "#s": "score", "#dn": "displayName", "#r": "rank"}
    values: dict[str, Any] = {":uuid": uuid, ":b": board_id, ":k": period_key, ":s": score, ":dn": display_name}
    sets = ["#u = :uuid", "boardId = :b", "periodKey = :k", "#s = :s", "#dn = :dn"]
    removes = []
    if ranked_at is not None:
        names["#at"] = "rankedAt"
        values[":at"] = ranked_at
        sets.append("#at = :at")
    if rank is None:
        removes = ["#r", "GSI3PK", "GSI3SK"]
    else:
        values.update({":r": rank, ":gpk": standings_index_pk(site, board_id, period_key),
                       ":gsk": standings_index_sk(position)})
        sets += ["#r = :r", "GSI3PK = :gpk", "GSI3SK = :gsk"]
    if final:
        names["#f"] = "finalRank"
        values[":f"] = rank
        sets.append("#f = :f")
    expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    db.update(user_pk(site, uuid), board_score_sk(board_id, period_key), expression, values=values, names=names,
              return_new=False)


def keep_last_final(site: str, uuid: str, board_id: str, period: str, period_key: str, rank: int,
                    score: int) -> None:
    """The user's last final rank (score > 0) of a period kind; never moves back in time."""
    with contextlib.suppress(db.ConditionFailed):
        db.update(user_pk(site, uuid), last_final_sk(board_id, period),
                  "SET #r = :r, #s = :s, periodKey = :k, boardId = :b, #p = :p",
                  values={":r": rank, ":s": score, ":k": period_key, ":b": board_id, ":p": period},
                  names={"#r": "rank", "#s": "score", "#p": "period"},
                  condition="attribute_not_exists(periodKey) OR periodKey <= :k", return_new=False)


def standings_page(site: str, board_id: str, period_key: str, *, limit: int,
                   cursor: str | None) -> tuple[list[Item], str | None]:
    """One page of a board in rank order (ties in the order they reached the score)."""
    return db.query_page(index="GSI3", key_condition="GSI3PK = :pk",
                         values={":pk": standings_index_pk(site, board_id, period_key)},
                         limit=limit, cursor=cursor, scope="standings")
