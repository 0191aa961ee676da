"""The stock shards' rules: every copy handed out once, each shard in list order, none past the limit."""

from __future__ import annotations

import random

import pytest

from chalicelib.engine import stock
from chalicelib.engine.stock import StockShard
from chalicelib.models.mechanics import Coupon


def coupon(**fields: object) -> Coupon:
    return Coupon.model_validate({"id": "c", "name": "C", **fields})


def sell_out(shards: int, total: int | None, base: int, buys: int, seed: int) -> dict[int, list[int]]:
    """Buyers who each read one shard at random and, finding it empty, all of them: the copies
    each shard handed out, in the order it did."""
    rng = random.Random(seed)
    state = [StockShard(n, 0, base, False) for n in range(shards)]
    out: dict[int, list[int]] = {n: [] for n in range(shards)}
    for _ in range(buys):
        shard: StockShard | None = state[stock.first_choice(total, shards, rng.randrange)]
        if not stock.has_copy(shard, shards, total):
            shard = stock.pick(state, shards, total, rng.randrange)
        if shard is None:
            continue
        out[shard.number].append(stock.next_copy(shard, shards))
        state[shard.number] = StockShard(shard.number, shard.took + 1, shard.base, True)
    return out


@pytest.mark.parametrize(("shards", "total", "base"), [(64, 300, 0), (64, 2, 0), (4, 19, 3), (64, 300, 299), (8, 5, 7)])
def test_every_copy_once_each_shard_in_list_order(shards: int, total: int, base: int) -> None:
    for seed in range(5):
        handed = sell_out(shards, total, base, buys=total + 50, seed=seed)
        every = sorted(copy for copies in handed.values() for copy in copies)
        assert every == list(range(base, total)), "each copy not yet handed out goes out exactly once"
        for copies in handed.values():
            assert copies == sorted(copies)


def test_a_limit_raised_later_hands_out_the_new_copies_and_no_old_one() -> None:
    state = [StockShard(n, took, 0, True) for n, took in enumerate([2, 1, 1, 1])]  # copies 0..4 gone
    assert stock.pick(state, 4, 5, random.Random(0).randrange) is None
    assert sorted(stock.next_copy(s, 4) for s in state if stock.has_copy(s, 4, 10)) == [5, 6, 7, 8]


def test_copies_is_the_smaller_of_the_series_and_the_codes() -> None:
    assert stock.copies(coupon(codeType="single", code="A")) is None
    assert stock.copies(coupon(codeType="single", code="A", limitedSeries=5)) == 5
    assert stock.copies(coupon(codeType="multiple", codes=["A", "B", "C"])) == 3
    assert stock.copies(coupon(codeType="multiple", codes=["A", "B", "C"], limitedSeries=2)) == 2
    assert stock.copies(coupon(codeType="multiple", codes=["A", "B"], limitedSeries=9)) == 2


def test_the_first_read_stays_among_the_shards_that_hold_copies() -> None:
    assert {stock.first_choice(3, 64, random.Random(seed).randrange) for seed in range(50)} == {0, 1, 2}
    assert {stock.first_choice(None, 4, random.Random(seed).randrange) for seed in range(50)} == {0, 1, 2, 3}
