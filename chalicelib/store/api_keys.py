"""API keys: stored under their site, hashed."""

from __future__ import annotations

from typing import Any

from chalicelib.store import db
from chalicelib.store.keys import api_key_sk, site_pk


def get_key(site: str, key_id: str) -> dict[str, Any] | None:
    if not site or not key_id:
        return None
    return db.get(site_pk(site), api_key_sk(key_id))


def create_key(site: str, key_id: str, name: str, role: str, hashed: str, now: str, by: str) -> dict[str, Any]:
    item = {
        "PK": site_pk(site), "SK": api_key_sk(key_id), "id": key_id, "name": name, "role": role,
        "hash": hashed, "createdAt": now, "createdBy": by, "revokedAt": None,
    }
    db.put(item, condition="attribute_not_exists(PK)")
    return item


def list_keys(site: str, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    return db.query_page(
        key_condition="PK = :pk AND begins_with(SK, :p)",
        values={":pk": site_pk(site), ":p": "KEY#"},
        limit=limit, cursor=cursor, scope="api-keys",
    )


def revoke_key(site: str, key_id: str, now: str, by: str) -> bool:
    """Revoked keys stay listed (with revokedAt) so that `by` fields keep resolving."""
    try:
        db.update(
            site_pk(site), api_key_sk(key_id),
            "SET revokedAt = :now, revokedBy = :by",
            values={":now": now, ":by": by},
            condition="attribute_exists(PK)",
            return_new=False,
        )
    except db.ConditionFailed:
        return False
    return True
