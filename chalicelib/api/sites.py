"""Sites and API keys (operator and admin)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.routing import Call, Reply, page_args, paging_query, resource, route

M = "chalicelib.models.sites"
ApiKeyCreate, ApiKeyCreated, ApiKeyList, Site, SiteCreate, SiteList, SitePatch, WhoAmI = (
    f"{M}:{n}" for n in ("ApiKeyCreate", "ApiKeyCreated", "ApiKeyList", "Site", "SiteCreate", "SiteList",
                         "SitePatch", "WhoAmI"))

bp = Blueprint(__name__)


def _key_exists(call: Call, key_id: str) -> None:
    from chalicelib.domain import sites

    sites.require_key(call.params["site"], key_id)


resource("api-keys", _key_exists)


@route(bp, "/sites", "POST", role="operator", summary="Create a site", tag="sites",
       body=SiteCreate, response=Site, status=201, conflicts=("AlreadyExists",))
def create_site(call: Call) -> Any:
    from chalicelib.domain import sites

    assert call.principal is not None
    return sites.create_site(call.body, call.principal)


@route(bp, "/sites", "GET", role="viewer", summary="List sites (a site key sees its own)", tag="sites",
       response=SiteList, query=paging_query())
def list_sites(call: Call) -> Any:
    from chalicelib.domain import sites

    assert call.principal is not None
    limit, cursor = page_args(call)
    items, next_cursor = sites.list_sites(call.principal, limit, cursor)
    return {"items": items, "nextCursor": next_cursor}


@route(bp, "/sites/{site}", "GET", role="viewer", summary="Get a site", tag="sites", response=Site)
def get_site(call: Call) -> Any:
    from chalicelib.domain import sites

    assert call.site is not None
    return sites.site_view(call.site)


@route(bp, "/sites/{site}", "PATCH", role="admin", summary="Change a site", tag="sites",
       body=SitePatch, response=Site)
def patch_site(call: Call) -> Any:
    from chalicelib.domain import sites

    return sites.patch_site(call.params["site"], call.body)


@route(bp, "/sites/{site}/api-keys", "POST", role="admin", summary="Create an API key (the secret is shown once)",
       tag="api-keys", body=ApiKeyCreate, response=ApiKeyCreated, status=201)
def create_api_key(call: Call) -> Any:
    """A key for this site with a role (viewer, editor, admin). Its secret (`key`) is in this
    answer only: store it now; the list shows keys without secrets."""
    from chalicelib.domain import sites

    assert call.principal is not None
    return sites.create_key(call.params["site"], call.body, call.principal)


@route(bp, "/sites/{site}/api-keys", "GET", role="admin", summary="List API keys (no secrets)", tag="api-keys",
       response=ApiKeyList, query=paging_query())
def list_api_keys(call: Call) -> Any:
    from chalicelib.domain import sites
    from chalicelib.store import api_keys

    limit, cursor = page_args(call)
    items, next_cursor = api_keys.list_keys(call.params["site"], limit, cursor)
    return {"items": [sites.key_view(i) for i in items], "nextCursor": next_cursor}


@route(bp, "/sites/{site}/api-keys/{keyId}", "DELETE", role="admin", summary="Revoke an API key", tag="api-keys")
def revoke_api_key(call: Call) -> Any:
    """The key stops working (within 60 seconds on AWS, where verified keys are cached)."""
    from chalicelib.domain import sites

    assert call.principal is not None
    sites.revoke_key(call.params["site"], call.params["keyId"], call.principal)
    return Reply(None, status=204)


@route(bp, "/whoami", "GET", role="viewer", summary="The caller's role and site", tag="sites", response=WhoAmI)
def who_am_i(call: Call) -> Any:

    assert call.principal is not None
    p = call.principal
    return {"role": p.role, "site": p.site, "keyId": p.key_id}
