"""Independent requests a few at a time: a job's or a fan-out's time is then its requests'
latency divided by the threads, not summed (boto3 clients are safe to share across threads)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def in_parallel(task: Callable[[T], R], parts: Sequence[T], threads: int, name: str) -> list[R]:
    """`task` over `parts`, `threads` at a time, results in order; the first failure is raised
    once the others have ended (nothing is left running behind a failure)."""
    if len(parts) <= 1:
        return [task(part) for part in parts]
    with ThreadPoolExecutor(max_workers=min(threads, len(parts)), thread_name_prefix=name) as pool:
        return list(pool.map(task, parts))
