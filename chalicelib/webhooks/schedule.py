"""When a delivery is tried again: the contract's backoff, about a day in all, then `failed`."""

from __future__ import annotations

import datetime as dt

BACKOFF = (dt.timedelta(seconds=5), dt.timedelta(minutes=5), dt.timedelta(minutes=30), dt.timedelta(hours=2),
           dt.timedelta(hours=5), dt.timedelta(hours=10), dt.timedelta(hours=10))
ATTEMPTS = 1 + len(BACKOFF)
REDELIVERABLE_FOR = dt.timedelta(days=7)


def next_attempt(attempts: int, last_attempt_at: dt.datetime) -> dt.datetime | None:
    """After `attempts` failed attempts, when to try again (None: the delivery has failed)."""
    if attempts < 1:
        raise ValueError("the first attempt is made at once")
    if attempts > len(BACKOFF):
        return None
    return last_attempt_at + BACKOFF[attempts - 1]
