"""Users: list, create, read, change, block, settings."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.routing import Call, choice_arg, page_args, paging_query, route

M = "chalicelib.models.users"
User, UserCreate, UserList, UserPatch, UserSettings = (f"{M}:{n}" for n in (
    "User", "UserCreate", "UserList", "UserPatch", "UserSettings"))

bp = Blueprint(__name__)

USER = "/sites/{site}/users/{uuid}"


@route(bp, "/sites/{site}/users", "GET", role="viewer", summary="List and search users", tag="users",
       response=UserList, query={
           **paging_query(),
           "q": {"type": "string", "maxLength": 200},
           "sort": {"type": "string", "enum": ["uuid", "displayName", "email", "createdAt"]},
           "order": {"type": "string", "enum": ["asc", "desc"]},
           "blocked": {"type": "boolean", "description": "true: only blocked users; false: only the others"},
           "tag": {"type": "string", "maxLength": 64},
       })
def list_users(call: Call) -> Any:
    """The site's users, paged; `q` matches the uuid, names and email, `tag` and `blocked` filter."""
    from chalicelib.domain import users

    limit, cursor = page_args(call)
    items, next_cursor = users.list_users(
        call.params["site"],
        sort=choice_arg(call, "sort", ("uuid", "displayName", "email", "createdAt"), "uuid"),
        order=choice_arg(call, "order", ("asc", "desc"), "asc"),
        q=call.arg("q"), blocked=call.arg("blocked"), tag=call.arg("tag"), limit=limit, cursor=cursor,
    )
    return {"items": items, "nextCursor": next_cursor}


@route(bp, "/sites/{site}/users", "POST", role="editor", summary="Create a user", tag="users",
       body=UserCreate, response=User, status=201, conflicts=("AlreadyExists",))
def create_user(call: Call) -> Any:
    from chalicelib.domain import users

    return users.create_user(call.params["site"], call.body, call.by)


@route(bp, USER, "GET", role="viewer", summary="Get a user", tag="users", response=User)
def get_user(call: Call) -> Any:
    from chalicelib.domain import users

    assert call.user is not None
    return users.user_view(call.user)


@route(bp, USER, "PATCH", role="editor", summary="Change a user's profile", tag="users",
       body=UserPatch, response=User)
def patch_user(call: Call) -> Any:
    from chalicelib.domain import users

    assert call.user is not None
    return users.patch_user(call.params["site"], call.user, call.body)


@route(bp, USER + "/block", "POST", role="admin", summary="Block a user (data kept, nothing earned)",
       tag="users", response=User, load_user=False)
def block_user(call: Call) -> Any:
    """The user's activities are still recorded, but earn nothing and they leave the leaderboards."""
    from chalicelib.domain import users

    return users.set_blocked(call.params["site"], call.params["uuid"], True, call.by)


@route(bp, USER + "/unblock", "POST", role="admin", summary="Unblock a user", tag="users",
       response=User, load_user=False)
def unblock_user(call: Call) -> Any:
    from chalicelib.domain import users

    return users.set_blocked(call.params["site"], call.params["uuid"], False, call.by)


@route(bp, USER + "/settings", "GET", role="viewer", summary="A user's settings", tag="users",
       response=UserSettings)
def get_user_settings(call: Call) -> Any:
    from chalicelib.domain import users

    assert call.user is not None
    return users.settings_view(call.user)


@route(bp, USER + "/settings", "PUT", role="editor", summary="Replace a user's settings", tag="users",
       body=UserSettings, response=UserSettings)
def replace_user_settings(call: Call) -> Any:
    from chalicelib.domain import users

    return users.put_settings(call.params["site"], call.params["uuid"], call.body)


