"""Base classes for wire models: camelCase JSON, strict types, unknown fields refused."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class RequestModel(BaseModel):
    """A request body: strict (no "5" -> 5 coercion) and closed (unknown fields are a 400)."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", strict=True, frozen=False
    )


class ResponseModel(BaseModel):
    """A response body: documents the shape in OpenAPI; responses may grow fields."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

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


Uuid = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_printable), AfterValidator(_no_slash)]
Name = Annotated[str, Field(max_length=200), AfterValidator(_printable)]
Tag = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_printable)]
Email = Annotated[str, Field(max_length=320, pattern=r"^$|^[^@\s]+@[^@\s]+$")]
Url = Annotated[str, Field(max_length=2048, pattern=r"^$|^https?://\S+$")]


class ErrorDetail(ResponseModel):
    field: str
    message: str


class ErrorInfo(ResponseModel):
    type: str
    message: str
    details: list[ErrorDetail] = []


class ErrorBody(ResponseModel):
    error: ErrorInfo


def validate_uuid(value: str) -> str:
    """The path form of a user uuid, checked with the same rules as a body field."""
    return _no_slash(_printable(value))
