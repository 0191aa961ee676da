"""Users: profile, block, settings."""

from __future__ import annotations

from typing import Any

from chalicelib import errors
from chalicelib.clock import now_iso
from chalicelib.models.users import UserCreate, UserPatch, UserSettings
from chalicelib.store import ranks, users

_PATCH_ATTEMPTS = 3
# Profile fields the leaderboards read: a change marks the user's live items for the rank job.
RANKED_FIELDS = frozenset({"member", "tags", "displayName"})


def user_view(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "uuid": item["uuid"],
        "displayName": item.get("displayName", ""),
        "firstName": item.get("firstName", ""),
        "lastName": item.get("lastName", ""),
        "email": item.get("email", ""),
        "pictureUrl": item.get("pictureUrl", ""),
        "tags": list(item.get("tags") or []),
        "member": bool(item.get("member", True)),
        "blocked": bool(item.get("blocked", False)),
        "createdAt": item["createdAt"],
    }


def create_user(site: str, body: UserCreate, by: str) -> dict[str, Any]:
    item = body.model_dump(by_alias=True)
    item.update(blocked=False, createdAt=now_iso(), createdBy=by,
                settings=UserSettings().wire())
    item["tags"] = _dedupe(item["tags"])
    if not users.create_user(site, item):
        raise errors.AlreadyExists(f"user '{body.uuid}' already exists",
                                   [{"field": "uuid", "message": "is taken"}])
    return user_view(item)


def _dedupe(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(tags))


def patch_user(site: str, current: dict[str, Any], body: UserPatch) -> dict[str, Any]:
    changes = body.model_dump(by_alias=True, exclude_unset=True)
    if any(v is None for v in changes.values()):
        nulls = [k for k, v in changes.items() if v is None]
        raise errors.ValidationError("fields cannot be null", [{"field": k, "message": "must not be null"} for k in nulls])
    if "tags" in changes:
        changes["tags"] = _dedupe(changes["tags"])
    if not changes:
        return user_view(current)
    for _ in range(_PATCH_ATTEMPTS):
        try:
            updated = users.update_user(site, current, changes)
            if RANKED_FIELDS & changes.keys():
                ranks.touch_live(site, current["uuid"])
            return user_view(updated)
        except users.ConcurrentUpdate:
            fresh = users.get_user(site, current["uuid"])
            if fresh is None:
                raise errors.UserNotFound(f"user '{current['uuid']}' does not exist") from None
            current = fresh
    raise errors.ApiError("the user is being changed by someone else; try again")


def set_blocked(site: str, uuid: str, blocked: bool, by: str) -> dict[str, Any]:
    item = users.set_blocked(site, uuid, blocked, now_iso(), by)
    if item is None:
        raise errors.UserNotFound(f"user '{uuid}' does not exist")
    ranks.touch_live(site, uuid)
    return user_view(item)


def settings_view(item: dict[str, Any]) -> dict[str, Any]:
    """Stored settings, with `optIns.member` always the user's own `member` flag."""
    stored = UserSettings.model_validate(item.get("settings") or {}, strict=False)
    stored.opt_ins.member = bool(item.get("member", True))
    return stored.wire()


def put_settings(site: str, uuid: str, body: UserSettings) -> dict[str, Any]:
    wire = body.wire()
    item = users.put_settings(site, uuid, wire, member=body.opt_ins.member)
    if item is None:
        raise errors.UserNotFound(f"user '{uuid}' does not exist")
    ranks.touch_live(site, uuid)
    return settings_view(item)


def list_users(site: str, *, sort: str, order: str, q: str | None, blocked: str | None, tag: str | None,
               limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    blocked_flag: bool | None = None
    if blocked is not None and blocked != "":
        if blocked not in ("true", "false"):
            raise errors.field_error("blocked", "must be true or false")
        blocked_flag = blocked == "true"
    if q is not None and len(q) > 200:
        raise errors.field_error("q", "must be at most 200 characters")
    if tag is not None and len(tag) > 64:
        raise errors.field_error("tag", "must be at most 64 characters")
    items, next_cursor = users.list_users(
        site, sort=sort, descending=order == "desc", q=(q or "").strip() or None, blocked=blocked_flag,
        tag=tag or None, limit=limit, cursor=cursor,
    )
    return [user_view(i) for i in items], next_cursor
