"""The one clock of the system; tests and the local runtime can move it."""

from __future__ import annotations

from datetime import UTC, datetime

_offset_seconds = 0.0


def now() -> datetime:
    now_ = datetime.now(UTC)
    if _offset_seconds:
        from datetime import timedelta

        now_ = now_ + timedelta(seconds=_offset_seconds)
    return now_


def iso(moment: datetime) -> str:
    """ISO-8601 UTC with `Z` and milliseconds, which also sorts lexically."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def now_iso() -> str:
    return iso(now())


def offset() -> float:
    """Seconds the clock is moved by (0 in production); handed to every process a test runs."""
    return _offset_seconds


def set_offset(seconds: float) -> None:
    global _offset_seconds
    _offset_seconds = seconds
