"""Configuring mechanics: validate against the whole site, then save atomically."""

from __future__ import annotations

from typing import Any

from chalicelib import errors
from chalicelib.clock import now_iso
from chalicelib.engine.validation import Problem, validate_delete, validate_mechanic
from chalicelib.models.mechanics import Mechanic, MechanicKind
from chalicelib.store import mechanics as store

_ATTEMPTS = 3
_BY_TYPE: dict[str, type[errors.ApiError]] = {
    "ValidationError": errors.ValidationError,
    "TargetsOverlap": errors.TargetsOverlap,
    "AlreadyExists": errors.AlreadyExists,
    "ReferencedBy": errors.ReferencedBy,
}


def _refuse(problems: list[Problem]) -> errors.ApiError:
    first = problems[0]
    same = [p for p in problems if p.type == first.type]
    details = [{"field": p.field, "message": p.message} for p in same]
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:3])
    return _BY_TYPE[first.type](summary, details)


def list_mechanics(site: str, kind: MechanicKind) -> list[dict[str, Any]]:
    snapshot = store.load(site)
    return [snapshot.bodies[kind][k] for k in sorted(snapshot.bodies[kind])]


def list_page(site: str, kind: MechanicKind, limit: int, cursor: str | None) -> dict[str, Any]:
    """One page of a kind, by id: `{items, nextCursor}` like every list of the API.

    The site's mechanics are read whole (one Query, cached) anyway; paging keeps one response
    bounded however many of a kind a site configures.
    """
    from chalicelib.store.db import InvalidCursor, decode_cursor, encode_cursor

    scope = {"listing": "mechanics", "site": site, "kind": kind}
    after = decode_cursor(cursor, scope).get("after") if cursor is not None else None
    if cursor is not None and not isinstance(after, str):
        raise InvalidCursor("is not a cursor this API issued")
    items = [i for i in list_mechanics(site, kind) if after is None or str(i["id"]) > after]
    page = items[:limit]
    more = len(items) > limit
    return {"items": page, "nextCursor": encode_cursor({"after": str(page[-1]["id"])}, scope) if more else None}


def get_mechanic(site: str, kind: MechanicKind, mechanic_id: str) -> dict[str, Any]:
    body = store.load(site).bodies[kind].get(mechanic_id)
    if body is None:
        raise errors.NotFound(f"{kind}/{mechanic_id} does not exist")
    return body


def save_mechanic(site: str, kind: MechanicKind, mechanic: Mechanic, by: str, *, creating: bool,
                  path_id: str | None = None) -> dict[str, Any]:
    if path_id is not None and mechanic.id != path_id:
        raise errors.field_error("id", f"must equal the id in the path ('{path_id}')")
    for _ in range(_ATTEMPTS):
        snapshot = store.load(site, fresh=True)
        if not creating and mechanic.id not in snapshot.bodies[kind]:
            raise errors.NotFound(f"{kind}/{mechanic.id} does not exist")
        problems = validate_mechanic(kind, mechanic, snapshot.mechanics, creating=creating)
        if problems:
            raise _refuse(problems)
        body = mechanic.wire()
        try:
            store.save(site, kind, mechanic.id, body, snapshot.version, now_iso(), by)
        except store.StaleConfiguration:
            continue
        return dict(body)
    raise errors.ApiError("the site's configuration is being changed concurrently; try again")


def delete_mechanic(site: str, kind: MechanicKind, mechanic_id: str, by: str) -> None:
    for _ in range(_ATTEMPTS):
        snapshot = store.load(site, fresh=True)
        if mechanic_id not in snapshot.bodies[kind]:
            raise errors.NotFound(f"{kind}/{mechanic_id} does not exist")
        problems = validate_delete(kind, mechanic_id, snapshot.mechanics)
        if problems:
            raise _refuse(problems)
        try:
            store.save(site, kind, mechanic_id, None, snapshot.version, now_iso(), by)
        except store.StaleConfiguration:
            continue
        return
    raise errors.ApiError("the site's configuration is being changed concurrently; try again")
