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
