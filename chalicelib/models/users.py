"""Users, their settings and the list query."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from chalicelib.models.base import Email, Name, RequestModel, ResponseModel, Tag, Timestamp, Url, Uuid

Tags = Annotated[list[Tag], Field(max_length=50)]


class UserCreate(RequestModel):
    uuid: Uuid
    first_name: Name = ""
    last_name: Name = ""
    display_name: Name = ""
    email: Email = ""
    picture_url: Url = ""
    tags: Tags = []
    member: bool = True


class UserPatch(RequestModel):
    first_name: Name | None = None
    last_name: Name | None = None
    display_name: Name | None = None
    email: Email | None = None
    picture_url: Url | None = None
    tags: Tags | None = None
    member: bool | None = None


class User(ResponseModel):
    uuid: str
    display_name: str
    first_name: str
    last_name: str
    email: str
    picture_url: str
    tags: list[str]
    member: bool
    blocked: bool
    created_at: Timestamp


class UserList(ResponseModel):
    items: list[User]
    next_cursor: str | None


class Notifications(RequestModel):
    rewards: bool = True
    points: bool = True
    gifts: bool = True
    coupons: bool = True
    bounties: bool = True
    kpis: bool = True
    leaderboards: bool = True


class OptIns(RequestModel):
    member: bool = True
    show_on_leaderboards: bool = True
    marketing: bool = False


class UserSettings(RequestModel):
    """Both the GET body and the PUT body: PUT takes exactly what GET returns."""

    notifications: Notifications = Notifications()
    opt_ins: OptIns = OptIns()

    def wire(self) -> dict[str, object]:
        return self.model_dump(by_alias=True, mode="json")


UserSort = Literal["uuid", "displayName", "email", "createdAt"]
SortOrder = Literal["asc", "desc"]
