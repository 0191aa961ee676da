"""Time-ordered identifiers (ULID layout: 48-bit milliseconds, 80 random bits, Crockford base32).

Activity ids sort by acceptance time, which is what per-user ordering and "newest first"
listings use; the random part keeps ids from different API instances apart.
"""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_lock = threading.Lock()
_last = (0, 0)


def _encode(value: int, length: int) -> str:
    out = []
    for _ in range(length):
        out.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(out))


def new_id() -> str:
    """Monotonic within this process: two ids in the same millisecond still sort in order."""
    global _last
    with _lock:
        ms = int(time.time() * 1000)
        last_ms, last_rand = _last
        if ms <= last_ms:
            ms, rand = last_ms, last_rand + 1
        else:
            rand = int.from_bytes(os.urandom(10), "big") >> 1  # headroom for increments
        _last = (ms, rand)
    return _encode(ms, 10) + _encode(rand, 16)
