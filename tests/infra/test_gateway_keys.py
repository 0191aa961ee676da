"""store/gateway_keys.py against API Gateway's answers (botocore's Stubber): off AWS nothing is
called; a throttled control plane is `Busy` (the API's 503 with Retry-After, nothing written);
a retry after a half-done registration keeps what exists."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from chalicelib.store import gateway_keys
from chalicelib.store.db import Busy, StoreError

PLANS = {"USAGE_PLAN_VIEWER": "pv", "USAGE_PLAN_EDITOR": "pe", "USAGE_PLAN_ADMIN": "pa",
         gateway_keys.NAMESPACE_ENV: "gamification-dev"}


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    client = boto3.client("apigateway", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    monkeypatch.setattr(gateway_keys, "_client", lambda: client)
    for name, value in PLANS.items():
        monkeypatch.setenv(name, value)
    with Stubber(client) as stub:
        yield stub
        stub.assert_no_pending_responses()


def test_off_aws_nothing_is_registered_and_nothing_called(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PLANS:
        monkeypatch.delenv(name, raising=False)

    def no_client() -> Any:
        raise AssertionError("no API Gateway call off AWS")

    monkeypatch.setattr(gateway_keys, "_client", no_client)
    assert gateway_keys.register_site("acme") == 0


def test_each_role_gets_its_key_in_its_plan(stubbed: Stubber) -> None:
    for role, plan in (("viewer", "pv"), ("editor", "pe"), ("admin", "pa")):
        value = f"gamification-dev.acme.{role}"
        stubbed.add_response("create_api_key", {"id": f"k-{role}", "value": value},
                             {"name": value, "value": value, "enabled": True,
                              "description": "usage plan key of a site and role"})
        stubbed.add_response("create_usage_plan_key", {"id": f"k-{role}"},
                             {"usagePlanId": plan, "keyId": f"k-{role}", "keyType": "API_KEY"})
    assert gateway_keys.register_site("acme") == 3


def test_a_retry_keeps_the_key_and_the_attachment_that_exist(stubbed: Stubber) -> None:
    for role, plan in (("viewer", "pv"), ("editor", "pe"), ("admin", "pa")):
        value = f"gamification-dev.acme.{role}"
        stubbed.add_client_error("create_api_key", "ConflictException", "API Key already exists", 409)
        stubbed.add_response("get_api_keys", {"items": [{"id": f"other-{role}", "name": value + "x"},
                                                        {"id": f"k-{role}", "name": value}]},
                             {"nameQuery": value, "includeValues": False})
        stubbed.add_client_error("create_usage_plan_key", "ConflictException", "already in the plan", 409,
                                 expected_params={"usagePlanId": plan, "keyId": f"k-{role}", "keyType": "API_KEY"})
    assert gateway_keys.register_site("acme") == 3


def test_a_throttled_control_plane_is_busy_and_anything_else_a_store_error(stubbed: Stubber) -> None:
    stubbed.add_client_error("create_api_key", "TooManyRequestsException", "Too Many Requests", 429)
    with pytest.raises(Busy):
        gateway_keys.register_site("acme")
    stubbed.add_client_error("create_api_key", "BadRequestException", "no", 400)
    with pytest.raises(StoreError) as refused:
        gateway_keys.register_site("acme")
    assert not isinstance(refused.value, Busy)
