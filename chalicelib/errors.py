"""Errors that cross the HTTP boundary.

Every failure a client can see is an `ApiError`: one registry maps each to its status and
`type`, so handlers raise domain words and never build responses for failures themselves.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any


class ApiError(Exception):
    status: int = 400
    type: str = "ValidationError"

    def __init__(self, message: str, details: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []

    def body(self) -> dict[str, Any]:
        return {"error": {"type": self.type, "message": self.message, "details": self.details}}


class ValidationError(ApiError):
    status, type = 400, "ValidationError"


class Unauthorized(ApiError):
    status, type = 401, "Unauthorized"


class Forbidden(ApiError):
    status, type = 403, "Forbidden"


class SiteNotFound(ApiError):
    status, type = 404, "SiteNotFound"


class UserNotFound(ApiError):
    status, type = 404, "UserNotFound"


class ActivityNotFound(ApiError):
    status, type = 404, "ActivityNotFound"


class NotFound(ApiError):
    status, type = 404, "NotFound"


class MethodNotAllowed(ApiError):
    status, type = 405, "MethodNotAllowed"


class AlreadyExists(ApiError):
    status, type = 409, "AlreadyExists"


class ReferencedBy(ApiError):
    status, type = 409, "ReferencedBy"


class TargetsOverlap(ApiError):
    status, type = 409, "TargetsOverlap"


class NotRejectable(ApiError):
    status, type = 409, "NotRejectable"


class AlreadyRejected(ApiError):
    status, type = 409, "AlreadyRejected"


class IdempotencyKeyMismatch(ApiError):
    status, type = 409, "IdempotencyKeyMismatch"


class PayloadTooLarge(ApiError):
    status, type = 413, "PayloadTooLarge"


class UnsupportedMediaType(ApiError):
    status, type = 415, "UnsupportedMediaType"


class RateLimited(ApiError):
    status, type = 429, "RateLimited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServiceUnavailable(ApiError):
    """Storage throttled or contended before anything was written: the same request may be
    sent again after `Retry-After` seconds."""

    status, type = 503, "ServiceUnavailable"

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def field_error(field: str, message: str) -> ValidationError:
    """A 400 about one field, the most common refusal."""
    return ValidationError(f"{field}: {message}", [{"field": field, "message": message}])


CURSOR_REFUSED = "is not a cursor this API issued for this listing (route, site and filters)"

# Typed errors raised below the HTTP boundary (the store speaks the domain's words, never
# HTTP), mapped here, the one place. Looked up by module and class name only when something
# was raised, so importing this module (every cold start) imports none of those modules.
_FROM_BELOW: dict[tuple[str, str], Callable[[Exception], ApiError]] = {
    ("chalicelib.store.db", "InvalidCursor"): lambda exc: field_error("cursor", str(exc) or CURSOR_REFUSED),
    ("chalicelib.store.db", "Busy"): lambda exc: ServiceUnavailable("storage is busy (throttled or contended); "
                                                                    "send the request again"),
}


def from_below(exc: Exception) -> ApiError | None:
    """The ApiError a typed store/domain error stands for, or None (an unexpected failure)."""
    for (module_name, class_name), make in _FROM_BELOW.items():
        module = sys.modules.get(module_name)
        kind = getattr(module, class_name, None) if module is not None else None
        if isinstance(kind, type) and isinstance(exc, kind):
            return make(exc)
    return None
