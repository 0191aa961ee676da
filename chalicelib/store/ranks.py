"""Materialized leaderboard ranks: what the rank job reads and writes, and the standings list.

Scores are live on the score items `S#K#{board}#{periodKey}` (activity processing sets them,
indexed by GSI2 under `{site}#LB#{board}#{periodKey}#{shard}`: 16 partitions by a hash of the
user, `keys.BOARD_SHARDS`). The rank job writes beside the score, never over it (UpdateItem SET
of other attributes, so a concurrent score write is never lost):
- `rank`, `rankedAt`, `displayName`, and GSI3 keys `{site}#LBR#{board}#{periodKey}` /
  zero-padded list position, so standings are one Query of GSI3 in rank order;
- at a period's end `finalRank` on that period's items, and one pointer item per user, board
  and period kind, `S#KP#{board}#{period}` `{rank, score, periodKey}`: the user's last final
  rank with a score above zero, read by the leaderboards tab in O(1) however old it is.
Its own progress lives in the site partition as `LBJOB#{board}#{period}` `{periodKey,
rankedAt}` (outside `MECH#`..`SITE`, the mechanics range).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from chalicelib.store import db
from chalicelib.store.keys import (
    PROFILE_SK,
    board_index_pk,
    board_index_pks,
    board_score_sk,
    site_pk,
    user_pk,
)
from chalicelib.store.reads import BATCH_GET_MAX, batch_get

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


def board_scores(site: str, board_id: str, period_key: str) -> list[Item]:
    """Every score item of one board and period (GSI2: each of its partitions, paged to the end)."""
    return [item for pk in board_index_pks(site, board_id, period_key)
            for item in db.query_all(index="GSI2", key_condition="GSI2PK = :pk", values={":pk": pk})]


def profiles(site: str, uuids: Sequence[str]) -> dict[str, Item]:
    """Profiles by uuid, 100 per BatchGetItem."""
    out: dict[str, Item] = {}
    wanted = list(dict.fromkeys(uuids))
    for start in range(0, len(wanted), BATCH_GET_MAX):
        chunk = wanted[start:start + BATCH_GET_MAX]
        for item in batch_get([(user_pk(site, u), PROFILE_SK) for u in chunk], consistent=False):
            out[str(item["uuid"])] = item
    return out


def job_state(site: str, board_id: str, period: str) -> Item | None:
    return db.get(site_pk(site), job_sk(board_id, period))


def save_job_state(site: str, board_id: str, period: str, period_key: str, ranked_at: str) -> None:
    db.put({"PK": site_pk(site), "SK": job_sk(board_id, period), "boardId": board_id, "period": period,
            "periodKey": period_key, "rankedAt": ranked_at})


def set_rank(site: str, uuid: str, board_id: str, period_key: str, *, rank: int | None, position: int,
             display_name: str, ranked_at: str, final: bool = False) -> None:
    """Write a rank beside the live score; `rank=None` takes the user off the standings."""
    names = {"#r": "rank", "#at": "rankedAt", "#dn": "displayName"}
    values: dict[str, Any] = {":at": ranked_at, ":dn": display_name}
    if rank is None:
        expression = "SET #at = :at, #dn = :dn REMOVE #r, GSI3PK, GSI3SK"
        if final:
            expression = "SET #at = :at, #dn = :dn, #f = :none REMOVE #r, GSI3PK, GSI3SK"
            names["#f"] = "finalRank"
            values[":none"] = None
    else:
        values.update({":r": rank, ":gpk": standings_index_pk(site, board_id, period_key),
                       ":gsk": standings_index_sk(position)})
        expression = "SET #r = :r, #at = :at, #dn = :dn, GSI3PK = :gpk, GSI3SK = :gsk"
        if final:
            expression += ", #f = :r"
            names["#f"] = "finalRank"
    with contextlib.suppress(db.ConditionFailed):  # a score item that vanished has nothing to rank
        db.update(user_pk(site, uuid), board_score_sk(board_id, period_key), expression, values=values,
                  names=names, condition="attribute_exists(PK)", return_new=False)


def set_score(site: str, uuid: str, board_id: str, period_key: str, score: int, *, version: int, now: str,
              rose: bool) -> None:
    """A current period's live score, as the user's state item at `version` has it.

    Conditional on the version: a write decided on an older state item never overwrites one
    decided on a newer (a late duplicate, a retry). `reachedAt` moves when the score rose; the
    first write always sets one, so ties keep an order.
    """
    reached = "reachedAt = :now" if rose else "reachedAt = if_not_exists(reachedAt, :now)"
    with contextlib.suppress(db.ConditionFailed):  # a newer figure is there already: nothing to do
        db.update(user_pk(site, uuid), board_score_sk(board_id, period_key),
                  f"SET score = :s, #u = :uuid, boardId = :b, periodKey = :k, GSI2PK = :gpk, GSI2SK = :uuid, "
                  f"stateVersion = :v, {reached}",
                  values={":s": score, ":uuid": uuid, ":b": board_id, ":k": period_key, ":v": version, ":now": now,
                          ":gpk": board_index_pk(site, board_id, period_key, uuid)},
                  names={"#u": "uuid"}, condition="attribute_not_exists(stateVersion) OR stateVersion < :v",
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
