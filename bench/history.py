"""BENCH-ONLY DATA: a user's long past written straight into a table, for the read benches.

10,000 activities through the state machine would take far too long, so the benches run a few
real activities (every kind of item in the shape processing writes it) and add the rest here:
SUCCEEDED behaviour activities with their ledger entries and day buckets, written with the
store's key functions in the same shapes as processing writes them (activities/effects.py,
lifecycle.py). Never use this outside a bench: it bypasses the workflow, the wallets and every
rule of the domain.

What it does not write: wallet balances (the ledger credits are not in the `xp` wallet, so
`make verify` would flag a bench user), week/month/quarter/year/all-time buckets and
leaderboard scores. It does add the activities to the user's stats count and to the day
buckets (ADD, so the real activities' figures in the same buckets are kept).

It writes through `chalicelib.store.db`'s client: whichever DynamoDB the environment points it
at (TABLE_NAME, AWS_ENDPOINT_URL); `use_local_stack(port)` points it at a running local stack's
moto (`.local/stack-{port}.json`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SPACING = dt.timedelta(minutes=53)  # bulk activities spread back over time, one every 53 minutes


def use_local_stack(port: int | str) -> dict[str, Any]:
    """Point the store's DynamoDB client at the moto of the local stack on `port`; its state."""
    from local.stack import state_file

    path = state_file(int(port))
    if not path.exists():
        raise SystemExit(f"{path} not found: is a local stack (`make run`) running on port {port}?")
    state: dict[str, Any] = json.loads(path.read_text())
    os.environ.update({"AWS_ENDPOINT_URL": state["endpoint"], "TABLE_NAME": state["table"],
                       "AWS_DEFAULT_REGION": state.get("region", "us-east-1"),
                       "AWS_REGION": state.get("region", "us-east-1")})
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "testing")
    from chalicelib.config import settings
    from chalicelib.store import db

    settings.cache_clear()
    db.reset_client()
    return state


def bulk_history(site: str, uuid: str, count: int, now: dt.datetime) -> int:
    """BENCH-ONLY: `count` SUCCEEDED behaviour activities (`watch_video`, 10 `xp` each) before
    `now`, their ledger entries, the day buckets and the all-time activities count; returns the items written."""
    from chalicelib.clock import iso
    from chalicelib.ids import _encode
    from chalicelib.store import db
    from chalicelib.store.keys import USER_STATE_SK, activity_sk, bucket_sk, ledger_sk, user_pk
    from chalicelib.store.userstate import measure_attr, period_attr

    if count <= 0:
        return 0
    pk = user_pk(site, uuid)
    rows: list[dict[str, Any]] = []
    per_day: dict[str, int] = {}
    for n in range(count):
        at = now - SPACING * (n + 1)
        ms = int(at.timestamp() * 1000)
        activity_id = _encode(ms, 10) + _encode(n, 16)
        created = iso(at)
        attrs = {"type": "behaviour", "verb": "watch_video", "metadata": {}, "adhocPoints": []}
        result = {"awarded": {"points": [{"pointId": "xp", "points": 10}], "behaviours": ["watch_video"],
                              "rewards": [], "coupons": []}, "exceptions": [], "blocked": False}
        rows.append({"PK": pk, "SK": activity_sk(activity_id), "id": activity_id, "uuid": uuid, "type": "behaviour",
                     "attrs": attrs, "reason": "", "status": "SUCCEEDED", "createdAt": created,
                     "processedAt": created, "by": "operator", "verb": "watch_video", "targetUuid": None,
                     "steps": {"behaviour": created, "rewards": created, "finish": created},
                     "results": {"behaviour": result, "rewards": {"points": [], "rewards": [], "coupons": [],
                                                                  "lost": []}}, "effects": {}})
        rows.append({"PK": pk, "SK": ledger_sk(activity_id), "pointId": "xp", "amount": 10, "kind": "credit",
                     "bookedUnder": "earned", "activityId": activity_id, "at": created, "expiresAt": None,
                     "batchId": f"{activity_id}:xp", "shortfall": 0, "uuid": uuid})
        day = f"day:{at.date().isoformat()}"
        per_day[day] = per_day.get(day, 0) + 1
    client, table = db.client(), db.table()
    for start in range(0, len(rows), 25):
        batch = [{"PutRequest": {"Item": db.serialize(r)}} for r in rows[start:start + 25]]
        pending: dict[str, Any] = {table: batch}
        while pending:
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
    # Counters are ADDed, as processing does: a bucket or the stats item the real activities
    # already wrote keeps their figures.
    for day, n in per_day.items():
        db.update(pk, bucket_sk(day), "ADD #n :n, #b :n, #p :p", values={":n": n, ":p": 10 * n},
                  names={"#n": "n:activities", "#b": "beh:watch_video", "#p": "pts:xp"}, return_new=False)
    # The stats bar's count is the all-time n:activities measure on the state item.
    db.update(pk, USER_STATE_SK, "ADD #a :n SET #p = :all", values={":n": count, ":all": "all"},
              names={"#a": measure_attr("all", "n:activities"), "#p": period_attr("all")}, return_new=False)
    return len(rows) + len(per_day) + 1
