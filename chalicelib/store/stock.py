"""Coupon stock shards in DynamoDB: their keys, their reads and the transactional take.

Reads are eventually consistent: a shard's count only grows, so a stale read can only make a
take's condition fail (the step reads again), never hand out a copy twice or call a coupon
with copies left sold out for good. A shard item is made by its first take; until then its
copies start after the single counter it replaces (`SITE#{site}` / `STOCK#{coupon}`, no
longer written), read once when a buyer finds the shard missing.
"""

from __future__ import annotations

from typing import Any

from chalicelib.engine.stock import StockShard
from chalicelib.store import db
from chalicelib.store.keys import STOCK_SHARD_SK, STOCK_SHARDS, coupon_stock_pk, coupon_stock_sk, site_pk
from chalicelib.store.reads import batch_get

Item = dict[str, Any]

# Coupons this environment found sold out, by site, coupon and copies in all. Copies never come
# back (a refund does not restock, sites are never deleted), so a coupon sold out at a total
# stays sold out at it: the rest of a flash sale's buyers are told so without reading the 64
# shards each (32 read units a buyer); a new total (a larger series, more codes) reads again.
_sold_out: set[tuple[str, str, int]] = set()


def known_sold_out(site: str, coupon_id: str, total: int) -> bool:
    return (site, coupon_id, total) in _sold_out


def remember_sold_out(site: str, coupon_id: str, total: int) -> None:
    _sold_out.add((site, coupon_id, total))


def _legacy_taken(item: Item | None) -> int:
    return int((item or {}).get("issued", 0))


def _shard(number: int, item: Item | None, base: int) -> StockShard:
    if item is None:
        return StockShard(number, 0, base, False)
    return StockShard(number, int(item.get("took", 0)), int(item.get("earlier", 0)), True)


def read(site: str, coupon_id: str, number: int) -> StockShard:
    """One shard (one GetItem; a second, of the old counter, if no take made it yet)."""
    item = db.get(coupon_stock_pk(site, coupon_id, number), STOCK_SHARD_SK, consistent=False)
    base = 0 if item is not None else _legacy_taken(db.get(site_pk(site), coupon_stock_sk(coupon_id),
                                                             consistent=False))
    return _shard(number, item, base)


def _read_all(site: str, coupon_id: str) -> tuple[list[StockShard], int]:
    legacy = (site_pk(site), coupon_stock_sk(coupon_id))
    keys = [(coupon_stock_pk(site, coupon_id, n), STOCK_SHARD_SK) for n in range(STOCK_SHARDS)]
    found = {(str(i["PK"]), str(i["SK"])): i for i in batch_get([*keys, legacy], consistent=False)}
    base = _legacy_taken(found.get(legacy))
    return [_shard(n, found.get(key), base) for n, key in enumerate(keys)], base


def read_all(site: str, coupon_id: str) -> list[StockShard]:
    """Every shard and the old counter, in one BatchGetItem."""
    return _read_all(site, coupon_id)[0]


def handed_out(site: str, coupon_id: str) -> int:
    """Copies handed out in all: the old counter's and every shard's (the invariant checker)."""
    shards, legacy = _read_all(site, coupon_id)
    return legacy + sum(shard.took for shard in shards)


def tx_take(site: str, coupon_id: str, shard: StockShard) -> dict[str, Any]:
    """Take the shard's next copy, conditional on the count read (another buyer's take in
    between fails the transaction and the step reads again)."""
    pk = coupon_stock_pk(site, coupon_id, shard.number)
    if not shard.stored:
        return db.tx_update(pk, STOCK_SHARD_SK, "SET took = :one, earlier = :base",
                            values={":one": 1, ":base": shard.base}, condition="attribute_not_exists(PK)")
    return db.tx_update(pk, STOCK_SHARD_SK, "SET took = :next", values={":next": shard.took + 1, ":read": shard.took},
                        condition="took = :read")


def tx_count(site: str, coupon_id: str, number: int) -> dict[str, Any]:
    """Count one more copy of a coupon whose copies are all alike and unlimited: no condition,
    so its buyers never conflict. (A series set on it later counts from the shards' positions,
    not from these counts: copies handed out before the limit existed may take it over.)"""
    return db.tx_update(coupon_stock_pk(site, coupon_id, number), STOCK_SHARD_SK, "ADD took :one",
                        values={":one": 1})
