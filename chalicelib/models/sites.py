"""Sites, API keys and the caller's identity."""

from __future__ import annotations

from typing import Annotated, Literal
from zoneinfo import ZoneInfo, available_timezones

from pydantic import AfterValidator, Field

from chalicelib.models.base import Name, RequestModel, ResponseModel, Timestamp

SiteId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")]
WeekStart = Literal["monday", "sunday"]
Role = Literal["viewer", "editor", "admin"]

_ZONES: set[str] | None = None


def _timezone(value: str) -> str:
    global _ZONES
    if _ZONES is None:
        _ZONES = available_timezones()
    if value not in _ZONES:
        raise ValueError("is not an IANA time zone name (e.g. Europe/London)")
    ZoneInfo(value)
    return value


TimeZone = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_timezone)]


class SiteCreate(RequestModel):
    id: SiteId
    name: Annotated[Name, Field(min_length=1)]
    timezone: TimeZone = "UTC"
    week_start: WeekStart = "monday"


class SitePatch(RequestModel):
    name: Annotated[Name, Field(min_length=1)] | None = None
    timezone: TimeZone | None = None
    week_start: WeekStart | None = None


class Site(ResponseModel):
    id: str
    name: str
    timezone: str
    week_start: WeekStart
    created_at: Timestamp


class SiteList(ResponseModel):
    items: list[Site]
    next_cursor: str | None


class ApiKeyCreate(RequestModel):
    name: Annotated[Name, Field(min_length=1, max_length=100)]
    role: Role


class ApiKey(ResponseModel):
    id: str
    name: str
    role: Role
    created_at: Timestamp
    created_by: str
    revoked_at: Timestamp | None = None


class ApiKeyCreated(ApiKey):
    key: str


class ApiKeyList(ResponseModel):
    items: list[ApiKey]
    next_cursor: str | None


class WhoAmI(ResponseModel):
    role: Role | Literal["operator"]
    site: str | None
    key_id: str | None
