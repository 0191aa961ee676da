"""Leaderboard upkeep at 10,000 and 100,000 users on one board: what a score change, a rank
read, a standings page and a run of the rank job cost, and how that grows with the board.

For each size the bench builds a board (all-time, xp) whose users' live items are
bulk-written, lets the rank job's first run count them all (the one run that reads the whole
board: the layout's first, or a migration), then measures the steady state: two minutes in a
row, CHANGED users' scores move (the same number at both sizes) and the job runs once a
minute. It prints, metered on moto in this process with DynamoDB's billing rules
(bench/ddb_units.py): requests, read units and write units per score change (the live item's
put the activity makes), per run of the job (and per score change it handled), per rank read
(the leaderboards tab's reads) and per standings page (the first, from the top list, and a
later one, from the shards), and the ratio of the larger board to the smaller (the target:
under 1.5; a cost that grew with the board would show about 10).

BENCH-ONLY DATA: profiles and live items are bulk-written with the store's key functions
(100,000 users' activities through the state machine would take far too long). Never use this
outside the bench.

    .venv/bin/python bench/leaderboards.py [--sizes 10000,100000] [--changed 1000] [--json out.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from chalicelib import clock  # noqa: E402
from local.stack import in_process_environment, in_process_table  # noqa: E402

TOKEN = "bench-operator-token"
os.environ.update(in_process_environment(TOKEN, "gamification-bench", "ERROR"))
os.environ.pop("AWS_ENDPOINT_URL", None)

BOARD = "xp_board"
MECHANICS: dict[str, list[dict[str, Any]]] = {
    "point-types": [{"id": "xp", "name": "XP"}],
    "leaderboards": [{"id": BOARD, "name": "XP", "ranksBy": {"points": "xp"}, "periods": ["allTime"]}],
}
MAX_SCORE = 20_000  # scores 1 .. 20,000: many ties at 100,000 users


def seed(site: str, users: int, rng: random.Random, at: dt.datetime) -> dict[str, int]:
    """BENCH-ONLY: the site and board (through the API) and `users` users with a live score."""
    from chalice.test import Client

    import app as app_module
    from chalicelib.store import db
    from chalicelib.store.keys import PROFILE_SK, board_index_pk, board_live_sk, user_pk
    from chalicelib.store.ranks import live_index_sk
    from chalicelib.store.users import index_attributes

    with Client(app_module.app, stage_name="local") as client:
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        for path, body in [("/sites", {"id": site, "name": site, "timezone": "UTC", "weekStart": "monday"}),
                           *((f"/sites/{site}/{kind}", b) for kind, bodies in MECHANICS.items() for b in bodies)]:
            res = client.http.post(path, headers=headers, body=json.dumps(body))
            assert res.status_code == 201, (path, res.body)
    scores: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    written = clock.iso(at)
    for n in range(users):
        uuid = f"u{n:07d}"
        scores[uuid] = rng.randint(1, MAX_SCORE)
        profile = {"uuid": uuid, "displayName": f"User {n}", "firstName": "", "lastName": "", "email": "",
                   "pictureUrl": "", "tags": [], "member": True, "blocked": False,
                   "createdAt": clock.iso(at - dt.timedelta(days=30))}
        rows.append({**profile, "PK": user_pk(site, uuid), "SK": PROFILE_SK, "version": 1,
                     **index_attributes(site, profile)})
        rows.append({"PK": user_pk(site, uuid), "SK": board_live_sk(BOARD), "uuid": uuid, "boardId": BOARD,
                     "stateVersion": 1, "GSI2PK": board_index_pk(site, BOARD, uuid),
                     "GSI2SK": live_index_sk(written, uuid), "c|allTime": {"k": "all", "s": scores[uuid], "r": written}})
    for start in range(0, len(rows), 25):
        db.client().batch_write_item(RequestItems={db.table(): [
            {"PutRequest": {"Item": db.serialize(r)}} for r in rows[start:start + 25]]})
    return scores


def figures(calls: list[Any]) -> dict[str, Any]:
    dynamo = [c for c in calls if c.service == "dynamodb"]
    return {"requests": len(dynamo), "rru": sum(c.rru for c in dynamo), "wru": sum(c.wru for c in dynamo),
            "ops": dict(Counter(c.op for c in dynamo))}


def measure(site: str, users: int, changed: int, meter: Any) -> dict[str, Any]:
    from chalicelib.domain import tabs
    from chalicelib.jobs import ranks
    from chalicelib.store import ranks as rank_store
    from chalicelib.store import sites as sites_store

    rng = random.Random(users)
    start = clock.now()
    with meter.unmetered():
        scores = seed(site, users, rng, start)
    meter.take()
    began = time.perf_counter()
    clock.set_offset(clock.offset() + 1)
    ranks.run(clock.now(), [site])
    first_seconds = time.perf_counter() - began
    first = figures(meter.take()[0])
    site_item = sites_store.get_site(site)
    assert site_item is not None
    uuids = sorted(scores)
    steady: dict[str, Any] = {}
    change: dict[str, Any] = {}
    for _minute in (1, 2):
        clock.set_offset(clock.offset() + 60)
        movers = rng.sample(uuids, changed)
        for uuid in movers:
            scores[uuid] += rng.randint(1, 500)
            # The activity reads the live item with the user's state (its one Query of `S#`):
            # what a score change adds is the live item's put.
            with meter.unmetered():
                seen = rank_store.live_items(site, uuid, [BOARD]).get(f"S#L#{BOARD}")
            entries = {"c|allTime": {"k": "all", "s": scores[uuid], "r": clock.iso(clock.now())}}
            version = int((seen or {}).get("stateVersion", 1)) + 1
            assert rank_store.put_live(site, uuid, BOARD, entries, version=version, seen=seen)
        change = figures(meter.take()[0])
        clock.set_offset(clock.offset() + 1)
        began = time.perf_counter()
        ranks.run(clock.now(), [site])
        steady = {**figures(meter.take()[0]), "seconds": time.perf_counter() - began}
    readers = rng.sample(uuids, 50)
    meter.take()
    rows = {uuid: tabs.leaderboards_tab(site, site_item, uuid)["items"][0] for uuid in readers}
    read = figures(meter.take()[0])
    expected = _brute_force(scores)
    wrong = [uuid for uuid, row in rows.items() if row["rank"] != expected[uuid]]
    page = tabs.standings(site, BOARD, None, 25, None, site_item)
    first_page = figures(meter.take()[0])
    cursor = page["nextCursor"]
    for _ in range(4):
        page = tabs.standings(site, BOARD, None, 25, cursor, site_item)
        cursor = page["nextCursor"]
    later_page = figures(meter.take()[0])
    return {"users": users, "changed": changed, "first_run": {**first, "seconds": first_seconds},
            "score_change": {k: v / changed if isinstance(v, (int, float)) else v for k, v in change.items()},
            "run": steady, "rank_read": {k: v / len(readers) if isinstance(v, (int, float)) else v
                                         for k, v in read.items()},
            "first_page": first_page, "later_page": {k: v / 4 if isinstance(v, (int, float)) else v
                                                     for k, v in later_page.items()},
            "wrong_ranks": len(wrong)}


def _brute_force(scores: dict[str, int]) -> dict[str, int]:
    """Competition ranks of every score ("1224"), the plain way."""
    ordered = sorted(scores.values(), reverse=True)
    first_at: dict[int, int] = {}
    for position, score in enumerate(ordered, start=1):
        first_at.setdefault(score, position)
    return {uuid: first_at[score] for uuid, score in scores.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--changed", type=int, default=1000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    from meter import Meter

    with in_process_table():
        meter = Meter()
        meter.install_botocore()
        try:
            results = [measure(f"bench-{n}", n, args.changed, meter) for n in sizes]
        finally:
            meter.uninstall()

    print(f"Leaderboard upkeep, one all-time board, {args.changed} score changes a minute (moto, billed as DynamoDB)")
    header = f"{'users':>8} {'what':<28} {'requests':>9} {'RRU':>9} {'WRU':>9}"
    print(header)
    for r in results:
        run_per_change = {k: r["run"][k] / r["changed"] for k in ("requests", "rru", "wru")}
        for label, f in (("score change (live item)", r["score_change"]), ("run of the job", r["run"]),
                         ("  per score change handled", run_per_change), ("rank read (tab)", r["rank_read"]),
                         ("standings, first page", r["first_page"]), ("standings, a later page", r["later_page"]),
                         ("first run (counts all)", r["first_run"])):
            print(f"{r['users']:>8} {label:<28} {f['requests']:>9.2f} {f['rru']:>9.2f} {f['wru']:>9.2f}")
        print(f"{r['users']:>8} run {r['run']['seconds']:.2f} s, first run {r['first_run']['seconds']:.1f} s; "
              f"ranks read against a brute-force ranking: {r['wrong_ranks']} wrong of 50")
    if len(results) >= 2:
        a, b = results[0], results[-1]
        print(f"ratio {b['users']:,} / {a['users']:,} users (target under 1.5):")
        for label, key in (("score change", "score_change"), ("run", "run"), ("rank read", "rank_read"),
                           ("standings first page", "first_page"), ("standings later page", "later_page")):
            parts = [f"{name} x{b[key][field] / a[key][field]:.2f}" if a[key][field] else f"{name} -"
                     for name, field in (("requests", "requests"), ("RRU", "rru"), ("WRU", "wru"))]
            print(f"  {label:<22} " + ", ".join(parts))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
