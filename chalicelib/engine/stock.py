"""Coupon stock in shards: which copy a shard hands out next, and whether it has one left.

The copies of a coupon are numbered in list order from 0 (copy n carries code n of a
`multiple` coupon). The copies still to hand out when the shards replaced the single counter
(`base` of them had gone out) are dealt round-robin over the shards: shard s holds copies
base + s, base + s + N, base + s + 2N, ... So two shards never hand out the same copy, each
hands out its own in list order, and together they hand out exactly the coupon's copies: a
limited series or a list of codes stays exact. A shard counts how many it `took`; its next
copy follows from that count alone, so a take is conditional on the count it read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from chalicelib.models.mechanics import Coupon


@dataclass(frozen=True)
class StockShard:
    number: int
    took: int  # copies this shard has handed out
    base: int  # copies handed out by the single counter before the shards
    stored: bool  # False: no buyer has used this shard yet


def copies(coupon: Coupon) -> int | None:
    """How many copies the coupon has in all (None: no limit)."""
    limits = [n for n in (coupon.limited_series,
                          len(coupon.all_codes()) if coupon.code_type == "multiple" else None) if n is not None]
    return min(limits) if limits else None


def next_copy(shard: StockShard, shards: int) -> int:
    return shard.base + shard.number + shard.took * shards


def has_copy(shard: StockShard, shards: int, total: int | None) -> bool:
    return total is None or next_copy(shard, shards) < total


def first_choice(total: int | None, shards: int, below: Callable[[int], int]) -> int:
    """The shard a buyer reads first: any at random (`below(n)`: a number in [0, n)), among the
    first `total` when the coupon has fewer copies than shards (the others hold none)."""
    return below(max(1, min(shards, total if total is not None else shards)))


def pick(read: Sequence[StockShard], shards: int, total: int | None,
         below: Callable[[int], int]) -> StockShard | None:
    """A shard with a copy left, at random among them (None: the coupon is sold out)."""
    left = [shard for shard in read if has_copy(shard, shards, total)]
    return left[below(len(left))] if left else None
