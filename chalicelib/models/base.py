"""Base classes for wire models: camelCase JSON, strict types, unknown fields refused."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class RequestModel(BaseModel):
    """A request body: strict (no "5" -> 5 coercion) and closed (unknown fields are a 400)."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", strict=True, frozen=False,
        # Where a request model is also a response (a user's settings, nested amounts), the
        # response's schema requires every field (all are sent); openapi._apart names it apart.
        json_schema_serialization_defaults_required=True,
    )


class ResponseModel(BaseModel):
    """A response body: documents the shape in OpenAPI; responses may grow fields.

    Every field is sent, defaults included, so the document marks them all required
    (generated clients then type them as present, not optional)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow",
                              json_schema_serialization_defaults_required=True)

    def wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, mode="json")


def _printable(value: str) -> str:
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in value):
        raise ValueError("must not contain control characters")
    return value


def _no_slash(value: str) -> str:
    if "/" in value:
        raise ValueError("must not contain '/'")
    return value


def _path_segment(value: str) -> str:
    """A uuid travels as one URL path segment: `.` and `..` never arrive as one (every URL
    parser, WHATWG's and httpx's included, resolves them), so no client could address the user."""
    if value in (".", ".."):
        raise ValueError("must not be '.' or '..' (no URL path can carry them)")
    return value


# The same rule as a JSON Schema pattern, for OpenAPI (no '/', and not '.' or '..'). Only in the
# schema: validation stays with the checks above, whose messages say which rule was broken.
UUID_PATTERN = r"^([^/.][^/]*|\.[^/.][^/]*|\.\.[^/]+)$"
Uuid = Annotated[str, Field(min_length=1, max_length=128, json_schema_extra={"pattern": UUID_PATTERN}),
                 AfterValidator(_printable), AfterValidator(_no_slash), AfterValidator(_path_segment)]
Name = Annotated[str, Field(max_length=200), AfterValidator(_printable)]
Tag = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_printable)]
Email = Annotated[str, Field(max_length=320, pattern=r"^$|^[^@\s]+@[^@\s]+$")]
Url = Annotated[str, Field(max_length=2048, pattern=r"^$|^https?://\S+$")]
# A moment, ISO-8601 UTC with `Z` (api.md), as the server writes it: `format: date-time` in the document.
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
# A calendar day in the site's zone, `YYYY-MM-DD`: `format: date`.
CalendarDay = Annotated[str, Field(json_schema_extra={"format": "date"})]


class ErrorDetail(ResponseModel):
    field: str
    message: str


# Every error `type` the API answers (api.md's table, plus 405, 415 and 500): an enum in the
# document, so clients can switch on it. tests/integration/test_foundation.py checks it against
# the ApiError classes.
ApiErrorType = Literal[
    "ValidationError", "Unauthorized", "Forbidden", "SiteNotFound", "UserNotFound", "ActivityNotFound", "NotFound",
    "MethodNotAllowed", "AlreadyExists", "ReferencedBy", "TargetsOverlap", "NotRejectable", "AlreadyRejected",
    "IdempotencyKeyMismatch", "PayloadTooLarge", "UnsupportedMediaType", "RateLimited", "InternalError",
    "ServiceUnavailable"]


class ErrorInfo(ResponseModel):
    type: ApiErrorType
    message: str
    details: list[ErrorDetail] = []


class ErrorBody(ResponseModel):
    error: ErrorInfo


def validate_uuid(value: str) -> str:
    """The path form of a user uuid, checked with the same rules as a body field."""
    return _no_slash(_printable(value))


