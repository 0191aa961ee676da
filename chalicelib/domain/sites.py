"""Sites and their API keys."""

from __future__ import annotations

from typing import Any

from chalicelib import errors
from chalicelib.auth import Principal, forget, new_key
from chalicelib.clock import now_iso
from chalicelib.models.sites import ApiKeyCreate, SiteCreate, SitePatch
from chalicelib.store import api_keys, gateway_keys, sites


def site_view(item: dict[str, Any]) -> dict[str, Any]:
    return {k: item.get(k) for k in ("id", "name", "timezone", "weekStart", "createdAt")}


def create_site(body: SiteCreate, principal: Principal) -> dict[str, Any]:
    # The site's API Gateway keys first (AWS only; idempotent): a site is never usable without
    # them, since API Gateway refuses a usage key no plan holds. A failure here writes nothing.
    gateway_keys.register_site(body.id)
    item = {"id": body.id, "name": body.name, "timezone": body.timezone, "weekStart": body.week_start,
            "createdAt": now_iso(), "createdBy": principal.by, "mechanicsVersion": 0}
    if not sites.create_site(item):
        raise errors.AlreadyExists(f"site '{body.id}' already exists",
                                   [{"field": "id", "message": "is taken"}])
    return site_view(item)


def patch_site(site: str, body: SitePatch) -> dict[str, Any]:
    changes = body.model_dump(by_alias=True, exclude_unset=True, exclude_none=True)
    if not changes:
        item = sites.get_site(site)
        assert item is not None
        return site_view(item)
    return site_view(sites.update_site(site, changes))


def list_sites(principal: Principal, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """The operator sees every site; a site key sees its own."""
    if principal.site is not None:
        if cursor is not None:  # this listing is one page: it never issued a cursor
            raise errors.field_error("cursor", "is not a cursor this API issued for this listing")
        own = sites.get_site(principal.site)
        return ([site_view(own)] if own else []), None
    items, next_cursor = sites.list_sites(limit, cursor)
    return [site_view(i) for i in items], next_cursor


def key_view(item: dict[str, Any]) -> dict[str, Any]:
    return {k: item.get(k) for k in ("id", "name", "role", "createdAt", "createdBy", "revokedAt")}


def create_key(site: str, body: ApiKeyCreate, principal: Principal) -> dict[str, Any]:
    key_id, token, hashed = new_key(site)
    item = api_keys.create_key(site, key_id, body.name, body.role, hashed, now_iso(), principal.by)
    return {**key_view(item), "key": token}


def revoke_key(site: str, key_id: str, principal: Principal) -> None:
    if not api_keys.revoke_key(site, key_id, now_iso(), principal.by):
        raise errors.NotFound(f"API key '{key_id}' does not exist")
    forget(site, key_id)  # here at once; other API containers within auth.VERIFIED_SECONDS


def require_key(site: str, key_id: str) -> None:
    """NotFound unless the site has an API key with this id (revoked ones included)."""
    if api_keys.get_key(site, key_id) is None:
        raise errors.NotFound(f"API key '{key_id}' does not exist")
