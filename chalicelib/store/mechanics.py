"""Mechanics: one item each under the site's partition, read all at once and cached briefly.

The Query `SK BETWEEN "MECH#" AND "SITE"` returns every mechanic plus the site item itself
(`SITE` sorts after `MECH#`), whose `mechanicsVersion` every mechanic write is conditional
on: validation always sees the configuration it is about to change.

Each warm container keeps what it read for `CACHE_SECONDS`; after that it first reads only the
site item's `mechanicsVersion` (an eventually consistent GetItem of a few bytes: 0.5 read units)
and reloads everything only when the version moved. At 800 warm containers and 300 mechanics,
reloading every 10 s put about 3,600 strongly consistent read units a second on the site's
partition (its limit is 3,000); the check puts 40. A change reaches every container within
`CACHE_SECONDS` plus the replica lag of an eventually consistent read (normally well under a
second; a check that still saw the old version defers it by one more period); the container
that made the change, and every job (`fresh=True`), sees it at once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from chalicelib.models.mechanics import MechanicKind, SiteMechanics
from chalicelib.store import db
from chalicelib.store.keys import SITE_SK, mechanic_sk, site_pk

KINDS: tuple[MechanicKind, ...] = ("point-types", "behaviours", "rewards", "kpis", "coupons", "leaderboards")
CACHE_SECONDS = 10.0


@dataclass(frozen=True)
class Snapshot:
    mechanics: SiteMechanics
    bodies: dict[MechanicKind, dict[str, dict[str, Any]]]
    version: int


_cache: dict[str, tuple[float, Snapshot]] = {}


class StaleConfiguration(Exception):
    """Another write changed the site's mechanics since they were read."""


def load(site: str, fresh: bool = False) -> Snapshot:
    hit = _cache.get(site)
    now = time.monotonic()
    if hit and not fresh:
        if now - hit[0] < CACHE_SECONDS:
            return hit[1]
        if stored_version(site) == hit[1].version:  # nothing changed: keep it another period
            _cache[site] = (now, hit[1])
            return hit[1]
    items = db.query_all(
        key_condition="PK = :pk AND SK BETWEEN :lo AND :hi",
        values={":pk": site_pk(site), ":lo": "MECH#", ":hi": SITE_SK},
    )
    bodies: dict[MechanicKind, dict[str, dict[str, Any]]] = {k: {} for k in KINDS}
    version = 0
    for item in items:
        if item["SK"] == SITE_SK:
            version = int(item.get("mechanicsVersion", 0))
            continue
        bodies[item["kind"]][item["id"]] = item["body"]
    snapshot = Snapshot(SiteMechanics.from_wire({k: v.values() for k, v in bodies.items()}), bodies, version)
    _cache[site] = (now, snapshot)
    return snapshot


def stored_version(site: str) -> int | None:
    """The site's `mechanicsVersion` as a replica has it (None when the site is gone)."""
    item = db.get(site_pk(site), SITE_SK, consistent=False, attributes=("mechanicsVersion",))
    return None if item is None else int(item.get("mechanicsVersion", 0))


def forget(site: str) -> None:
    _cache.pop(site, None)


def save(site: str, kind: MechanicKind, mechanic_id: str, body: dict[str, Any] | None, read_version: int,
         now: str, by: str) -> None:
    """Put (or delete, when `body` is None) one mechanic, if nothing changed since `read_version`."""
    ops: list[dict[str, Any]] = []
    if body is None:
        ops.append(db.tx_delete(site_pk(site), mechanic_sk(kind, mechanic_id)))
    else:
        ops.append(db.tx_put({"PK": site_pk(site), "SK": mechanic_sk(kind, mechanic_id), "kind": kind,
                              "id": mechanic_id, "body": body, "updatedAt": now, "updatedBy": by}))
    ops.append(db.tx_update(
        site_pk(site), SITE_SK, "SET mechanicsVersion = :next",
        values={":next": read_version + 1, ":read": read_version},
        condition="mechanicsVersion = :read",
    ))
    try:
        db.transact(ops)
    except db.TransactionCancelled as err:  # the version moved (or an item changed) since our read
        raise StaleConfiguration() from err
    finally:
        forget(site)
