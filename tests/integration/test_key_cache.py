"""A verified API key costs no DynamoDB read on most requests; a revoked one stops at once here."""

from __future__ import annotations

import pytest

from tests.conftest import Api, RequestCounter


def test_a_verified_key_is_remembered_and_forgotten_when_revoked(api: Api, site: str,
                                                               requests_counter: RequestCounter,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib import auth

    created = api.ok("POST", f"/sites/{site}/api-keys", {"name": "crm", "role": "admin"})
    key = created["key"]
    reads: list[str] = []

    def counted(site_id: str, key_id: str) -> object:
        reads.append(key_id)
        return real(site_id, key_id)

    from chalicelib.store import api_keys

    real = api_keys.get_key
    monkeypatch.setattr(api_keys, "get_key", counted)
    for _ in range(5):
        api.ok("GET", f"/sites/{site}", token=key)
    assert reads == [created["id"]], "one read verifies the key; the next requests remember it"
    assert api.get(f"/sites/{site}", token=key[:-2] + "xx")[0] == 401, "a near miss is never remembered as valid"
    monkeypatch.setattr(auth, "VERIFIED_SECONDS", 0.0)
    auth._verified.clear()
    api.ok("GET", f"/sites/{site}", token=key)
    api.ok("GET", f"/sites/{site}", token=key)
    assert len(reads) == 4, "past its lifetime the key is read again"
    monkeypatch.undo()
    api.ok("GET", f"/sites/{site}", token=key)  # remembered again
    api.call("DELETE", f"/sites/{site}/api-keys/{created['id']}")
    status, data, _ = api.get(f"/sites/{site}", token=key)
    assert status == 401, data


def test_a_key_revoked_in_another_container_stops_within_its_lifetime_there(
        api: Api, site: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """On AWS the container that revokes a key forgets it at once; one that verified it just
    before keeps it for at most VERIFIED_SECONDS (30 s), inside the 60 s the contract allows.
    The cache's own lifetime, on a controllable clock."""
    from chalicelib import auth

    assert auth.VERIFIED_SECONDS <= 60
    clock = [5000.0]
    monkeypatch.setattr(auth.time, "monotonic", lambda: clock[0])
    created = api.ok("POST", f"/sites/{site}/api-keys", {"name": "crm", "role": "admin"})
    key = created["key"]
    api.ok("GET", f"/sites/{site}", token=key)  # verified: remembered by this container
    held = dict(auth._verified)
    api.call("DELETE", f"/sites/{site}/api-keys/{created['id']}")
    assert api.get(f"/sites/{site}", token=key)[0] == 401, "the revoking container forgets it at once"
    auth._verified.update(held)  # what another container, which verified it a moment ago, still holds
    clock[0] += auth.VERIFIED_SECONDS - 1
    api.ok("GET", f"/sites/{site}", token=key)  # within its lifetime there
    clock[0] += 1.001
    status, data, _ = api.get(f"/sites/{site}", token=key)
    assert status == 401 and data["error"]["type"] == "Unauthorized", data
