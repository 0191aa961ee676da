"""Waiting for a user's earlier activity to finish.

`begin` polls the user's pending markers; between polls it waits on a wake-up that the
activity's own finish sets. Within one process (the local runtime, a warm Lambda container
that happens to run both) the successor starts the moment its predecessor ends and only it
re-queries; across processes the timeout makes it an ordinary poll.
"""

from __future__ import annotations

import threading

_lock = threading.Lock()
_finished: dict[str, threading.Event] = {}


def _event(activity_id: str) -> threading.Event:
    with _lock:
        return _finished.setdefault(activity_id, threading.Event())


def wait_for(activity_id: str, timeout: float) -> None:
    """Return when `activity_id` finished in this process, or after `timeout` seconds."""
    _event(activity_id).wait(timeout)


def finished(activity_id: str) -> None:
    with _lock:
        event = _finished.pop(activity_id, None)
    if event is not None:
        event.set()
