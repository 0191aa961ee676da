"""API Gateway API keys: one per site and role, the usage identifier of API Gateway's usage plans.

An account holds at most 10,000 API Gateway API keys, so the product's keys (any number per
site) cannot each be one. Every key of a site and role shares one: `{namespace}.{site}.{role}`
(the operator: `{namespace}.operator`), the namespace being the stack's name so that two
stages in one account never collide (a key's value is unique per account and region).

The value is derived, not looked up: the authorizer (chalicelib/api/authorizer.py) computes
it from the verified principal with no request, and site creation registers it. It is no
secret: the REST API reads keys from the authorizer only (`apiKeySource: AUTHORIZER`), so a
client's `x-api-key` header is ignored and nobody can pick another caller's plan. It meters;
the bearer token authenticates.

Registration happens on AWS only, when the deployment names the usage plans
(`USAGE_PLAN_VIEWER`, `USAGE_PLAN_EDITOR`, `USAGE_PLAN_ADMIN`: infra/package.py). Locally there
is no API Gateway: nothing is registered and nothing is called.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from chalicelib.store.db import Busy, StoreError

SITE_ROLES = ("viewer", "editor", "admin")
NAMESPACE_ENV = "GATEWAY_KEY_NAMESPACE"


def namespace() -> str:
    return os.environ.get(NAMESPACE_ENV, "")


def key_value(space: str, site: str | None, role: str) -> str:
    """The API Gateway key of a site and role (site None: the operator's).

    Site ids hold no dot (models/sites.py), so the two shapes never meet. At least 20
    characters, as API Gateway requires: the namespace is the stack's name (`gamification-dev`).
    """
    return f"{space}.operator" if site is None else f"{space}.{site}.{role}"


def plans() -> dict[str, str]:
    """Role -> usage plan id, as the deployment set them; empty when not on AWS."""
    found = {role: os.environ.get(f"USAGE_PLAN_{role.upper()}", "") for role in SITE_ROLES}
    return found if all(found.values()) and namespace() else {}


@lru_cache(maxsize=1)
def _client() -> Any:
    import boto3

    return boto3.client("apigateway")


def register_site(site: str) -> int:
    """Create the site's key of each role and attach it to its role's plan; returns how many
    keys are registered (0 off AWS). Idempotent: a key or attachment that exists is kept, so
    a retried site creation completes what a failed one began."""
    targets = plans()
    for role, plan in targets.items():
        _register(key_value(namespace(), site, role), plan)
    return len(targets)


def _register(value: str, plan: str) -> None:
    from botocore.exceptions import ClientError

    client = _client()
    try:
        try:
            key_id = client.create_api_key(name=value, value=value, enabled=True,
                                           description="usage plan key of a site and role")["id"]
        except ClientError as err:
            if _code(err) != "ConflictException":
                raise
            key_id = _existing(value)  # only on a retry: the key was made by an earlier attempt
        try:
            client.create_usage_plan_key(usagePlanId=plan, keyId=key_id, keyType="API_KEY")
        except ClientError as err:
            if _code(err) != "ConflictException":
                raise
    except ClientError as err:
        code = _code(err)
        # API Gateway's control plane allows a few calls per second per account: a burst of
        # site creations is told to come back (503 with Retry-After), nothing half-written.
        if code in ("TooManyRequestsException", "LimitExceededException", "ServiceUnavailableException"):
            raise Busy(code, str(err)) from None
        raise StoreError(code, str(err)) from None


def _existing(value: str) -> str:
    pages = _client().get_paginator("get_api_keys").paginate(nameQuery=value, includeValues=False)
    for page in pages:
        for item in page.get("items", []):
            if item.get("name") == value:
                return str(item["id"])
    raise StoreError("NotFound", f"API Gateway refused the key {value} as existing but lists none by that name")


def _code(err: Any) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))
