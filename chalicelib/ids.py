"""Time-ordered identifiers (ULID layout: 48-bit milliseconds, 80 random bits, Crockford base32).

Activity ids sort by acceptance time, which is what per-user ordering and "newest first"
listings use; the random part keeps ids from different API instances apart. The time is the
system clock's (`chalicelib.clock`, which tests and the local runtime can move), so an
activity's id and its `createdAt` name the same instant when the caller passes it.
"""

from __future__ import annotations

import datetime as dt
import os
import threading

from chalicelib import clock

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_lock = threading.Lock()
_last = (0, 0)


def _encode(value: int, length: int) -> str:
    out = []
    for _ in range(length):
        out.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(out))


def new_id(at: dt.datetime | None = None) -> str:
    """An id for `at` (default: now). Monotonic within this process: two ids in the same
    millisecond, or a clock that steps back, still sort in order of issue."""
    global _last
    with _lock:
        ms = int((at or clock.now()).timestamp() * 1000)
        last_ms, last_rand = _last
        if ms <= last_ms:
            ms, rand = last_ms, last_rand + 1
        else:
            rand = int.from_bytes(os.urandom(10), "big") >> 1  # headroom for increments
        _last = (ms, rand)
    return _encode(ms, 10) + _encode(rand, 16)


def time_of(identifier: str) -> dt.datetime | None:
    """The instant an id was issued for (its first 10 characters), or None if it is not one."""
    if len(identifier) < 10:
        return None
    ms = 0
    for char in identifier[:10].upper():
        digit = _ALPHABET.find(char)
        if digit < 0:
            return None
        ms = ms * 32 + digit
    try:
        return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None


def restart() -> None:
    """Forget the last id issued (tests that move the clock back between tests)."""
    global _last
    with _lock:
        _last = (0, 0)
