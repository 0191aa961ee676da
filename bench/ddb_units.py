"""DynamoDB's billing arithmetic, as pure functions (no AWS, no moto): item sizes and the read
and write request units a request consumes on an on-demand table.

Items are in DynamoDB's wire form (`{"name": {"S": "..."}}`), the form botocore sends and moto
stores. The rules, and where they are written down:

- Item size = the sum, over its attributes, of the UTF-8 bytes of the name plus the value's size:
  a string its UTF-8 bytes; a number about 1 byte per two significant digits plus 1 (leading and
  trailing zeroes trimmed); a binary its raw bytes; a null or boolean 1 byte; a list or map 3
  bytes plus its elements, each element 1 byte more (a map element also counts its key's bytes).
  Sets are not described on the page: each counts as the sum of its elements' sizes (the reading
  the item-size calculators take). Source: "DynamoDB item sizes and formats",
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
- Writes: 1 WRU per 1 KB, rounded up per item. PutItem: the larger of the item replaced and the new
  one; UpdateItem: the larger of the item before and after; DeleteItem: the deleted item's size.
  A failed conditional write still costs the existing item's size (1 if it does not exist).
  BatchWriteItem rounds each item on its own. Reads: 1 RRU per 4 KB of strongly consistent read,
  half for an eventually consistent one; GetItem rounds the item up; BatchGetItem rounds each item
  up, then sums; Query sums every item it reads (before a filter, whatever the projection) and
  rounds the sum up; a read of nothing still costs 1 (0.5 eventually consistent). Source:
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html
  (the same text: awsdocs/amazon-dynamodb-developer-guide, doc_source/ProvisionedThroughput.md).
- Transactions: "DynamoDB performs two underlying reads or writes of every item in the
  transaction: one to prepare the transaction and one to commit the transaction" (a ConditionCheck
  is one of those items, billed like a write of the item it checks). Source:
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html
  ("Capacity management for transactions"); https://aws.amazon.com/dynamodb/pricing/on-demand/.
  Index updates are propagated after the transaction commits (same page), as ordinary index
  writes, so they are not doubled here (`TRANSACTION_DOUBLES_INDEX_WRITES`).
- Global secondary indexes: an item that enters an index costs one index write of its projected
  entry, one that leaves it one write (the old entry), one whose index key changes two (delete +
  put), one whose projected attributes change one; "if a write to a table does not require a global
  secondary index update, then no write capacity is consumed from the index". An index entry is the
  table key, the index key and the projected attributes. Source: "Provisioned throughput
  considerations for global secondary indexes",
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

Item = Mapping[str, Any]  # attribute name -> wire-form value ({"S": ...}, {"N": ...}, ...)

WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096
# Index writes of a transaction happen after its commit, as ordinary index writes (see above).
TRANSACTION_DOUBLES_INDEX_WRITES = False


def _utf8(text: str) -> int:
    return len(text.encode("utf-8"))


def number_size(text: str) -> int:
    """Bytes of a number's value: 1 per two significant digits, plus 1."""
    try:
        digits = Decimal(str(text)).normalize().as_tuple().digits
    except InvalidOperation:
        digits = tuple(int(c) for c in str(text) if c.isdigit())
    significant = "".join(str(d) for d in digits).strip("0") or "0"
    return math.ceil(len(significant) / 2) + 1


def _binary_size(value: Any) -> int:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return len(bytes(value))
    try:
        return len(base64.b64decode(value, validate=True))
    except (ValueError, TypeError):
        return _utf8(str(value))


def value_size(value: Mapping[str, Any]) -> int:
    """Bytes of one attribute value in wire form (without its name)."""
    (kind, raw), = value.items()
    if kind == "S":
        return _utf8(raw)
    if kind == "N":
        return number_size(raw)
    if kind == "B":
        return _binary_size(raw)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(_utf8(s) for s in raw)
    if kind == "NS":
        return sum(number_size(n) for n in raw)
    if kind == "BS":
        return sum(_binary_size(b) for b in raw)
    if kind == "L":
        return 3 + sum(value_size(v) + 1 for v in raw)
    if kind == "M":
        return 3 + sum(_utf8(k) + value_size(v) + 1 for k, v in raw.items())
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def item_size(item: Item | None) -> int:
    """Bytes of an item: every attribute's name plus its value."""
    if not item:
        return 0
    return sum(_utf8(name) + value_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    """WRU of writing one item of `size` bytes (at least 1)."""
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


def item_write_units(before: Item | None, after: Item | None) -> int:
    """A Put, Update or Delete of one item: the larger of the item before and after, rounded up."""
    return write_units(max(item_size(before), item_size(after)))


def read_units(total_bytes: int, *, consistent: bool, transactional: bool = False) -> float:
    """RRU of one read of `total_bytes` (a Query's items summed first; at least one 4 KB unit)."""
    units = max(1, math.ceil(total_bytes / READ_UNIT_BYTES))
    if transactional:
        return float(units * 2)
    return float(units) if consistent else units / 2


def batch_read_units(sizes: Iterable[int], *, consistent: bool) -> float:
    """BatchGetItem: each item rounded up to 4 KB on its own, then summed."""
    return sum(read_units(s, consistent=consistent) for s in sizes)


@dataclass(frozen=True)
class IndexSpec:
    """A global secondary index: its key attributes and what it projects."""

    name: str
    hash_key: str
    range_key: str | None
    projection: str = "ALL"  # ALL, KEYS_ONLY or INCLUDE
    non_key_attributes: tuple[str, ...] = ()

    @property
    def key_attributes(self) -> tuple[str, ...]:
        return (self.hash_key,) + ((self.range_key,) if self.range_key else ())


@dataclass(frozen=True)
class TableSpec:
    hash_key: str
    range_key: str | None
    indexes: tuple[IndexSpec, ...] = ()

    @property
    def key_attributes(self) -> tuple[str, ...]:
        return (self.hash_key,) + ((self.range_key,) if self.range_key else ())


def in_index(index: IndexSpec, item: Item | None) -> bool:
    return bool(item) and all(a in item for a in index.key_attributes)  # type: ignore[operator]


def index_entry(table: TableSpec, index: IndexSpec, item: Item) -> dict[str, Any]:
    """The item as the index stores it: table key + index key + projected attributes."""
    if index.projection == "ALL":
        return dict(item)
    keep = set(table.key_attributes) | set(index.key_attributes)
    if index.projection == "INCLUDE":
        keep |= set(index.non_key_attributes)
    return {k: v for k, v in item.items() if k in keep}


def index_write_parts(table: TableSpec, index: IndexSpec, before: Item | None,
                      after: Item | None) -> list[tuple[Any, int]]:
    """The index writes of one table write, as (index partition key value, WRU) pairs."""
    was, now = in_index(index, before), in_index(index, after)
    old = index_entry(table, index, before) if was and before else None
    new = index_entry(table, index, after) if now and after else None
    if old is None and new is None:
        return []
    if old is None:
        assert new is not None
        return [(new[index.hash_key], write_units(item_size(new)))]  # the item enters the index
    if new is None:
        return [(old[index.hash_key], write_units(item_size(old)))]  # it leaves: the old entry goes
    if any(old.get(a) != new.get(a) for a in index.key_attributes):  # moved: a delete and a put
        return [(old[index.hash_key], write_units(item_size(old))),
                (new[index.hash_key], write_units(item_size(new)))]
    if old == new:
        return []  # nothing the index holds changed: no index write
    return [(new[index.hash_key], write_units(max(item_size(old), item_size(new))))]


def index_write_units(table: TableSpec, index: IndexSpec, before: Item | None, after: Item | None) -> int:
    """WRU one table write costs in one index, by the GSI rules (module docstring)."""
    return sum(units for _, units in index_write_parts(table, index, before, after))


@dataclass(frozen=True)
class WriteCost:
    table: int  # WRU of the table itself (doubled inside a transaction)
    indexes: dict[str, int]  # index name -> WRU

    @property
    def total(self) -> int:
        return self.table + sum(self.indexes.values())


def write_cost(table: TableSpec, before: Item | None, after: Item | None, *, transactional: bool = False,
               condition_check: bool = False, failed: bool = False) -> WriteCost:
    """Everything one item's write costs: the table (x2 in a transaction) and every index.

    `condition_check`: a ConditionCheck of a transaction (the item is not changed, billed as a
    write of its size). `failed`: the write's condition failed (nothing changed; the table is
    billed the existing item's size, 1 if none; no index write).
    """
    factor = 2 if transactional else 1
    if failed:  # a cancelled transaction only got as far as its prepare phase: counted once
        return WriteCost(write_units(item_size(before)), {})
    if condition_check:
        return WriteCost(write_units(item_size(before)) * factor, {})
    units = item_write_units(before, after) * factor
    index_factor = factor if TRANSACTION_DOUBLES_INDEX_WRITES else 1
    indexes = {ix.name: index_write_units(table, ix, before, after) * index_factor for ix in table.indexes}
    return WriteCost(units, {k: v for k, v in indexes.items() if v})
