"""Bearer tokens: the operator token and per-site API keys.

A site key looks like `gk.{site}.{keyId}.{secret}`: the site and key id say which item to
read (one strongly consistent GetItem), and only the SHA-256 of the whole token is stored.
Keys are 256-bit random secrets, so a fast hash is enough; a slow password hash would only add
latency to every request.

A verified key is remembered by the process for `VERIFIED_SECONDS`: at 10,000 requests/s on one
site, a read per request would put 10,000 strongly consistent reads a second on the site's one
partition (its limit is 3,000 read units); remembered, each API container reads a key at most
twice a minute. The price: a revoked key keeps working for at most that long in containers that
verified it just before (at once in the process that revoked it). docs/architecture.md, "Auth".
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from chalicelib.config import settings
from chalicelib.errors import Forbidden, Unauthorized

ROLE_RANK = {"viewer": 1, "editor": 2, "admin": 3, "operator": 4}


@dataclass(frozen=True)
class Principal:
    role: str
    site: str | None  # None: the operator, admin on every site
    key_id: str | None

    @property
    def by(self) -> str:
        """Who did it, as recorded on activities, blocks, rejects and key changes."""
        return self.key_id or "operator"

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"

    def require(self, site: str | None, role: str) -> None:
        """403 unless this principal may act with `role` on `site` (None: any site)."""
        if self.is_operator:
            return
        if site is None and role == "operator":
            raise Forbidden("only the operator may do this")
        if site is not None and site != self.site:
            # Same answer whether the site exists or not: a key learns nothing about others.
            raise Forbidden("this token does not grant access to this site")
        if ROLE_RANK[self.role] < ROLE_RANK[role]:
            raise Forbidden(f"this needs the {role} role; the token has {self.role}")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_key(site: str) -> tuple[str, str, str]:
    """A fresh key: (key id, full secret token, its hash)."""
    key_id = secrets.token_hex(6)
    token = f"gk.{site}.{key_id}.{secrets.token_urlsafe(32)}"
    return key_id, token, token_hash(token)


def parse_bearer(header: str | None) -> str:
    if not header:
        raise Unauthorized("missing Authorization: Bearer <token>")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 512:
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    return token


VERIFIED_SECONDS = 30.0
_VERIFIED_KEPT = 10_000
_verified: dict[str, tuple[Principal, float]] = {}  # token digest -> (principal, monotonic expiry)
_verified_lock = threading.Lock()


def forget(site: str, key_id: str) -> None:
    """A key revoked here stops working here at once."""
    with _verified_lock:
        for digest in [d for d, (p, _) in _verified.items() if p.site == site and p.key_id == key_id]:
            del _verified[digest]


def _remembered(digest: str) -> Principal | None:
    found = _verified.get(digest)
    if found is None or found[1] < time.monotonic():
        return None
    return found[0]


def authenticate(header: str | None) -> Principal:
    token = parse_bearer(header)
    expected = settings().operator_token_sha256
    digest = token_hash(token)
    if expected and hmac.compare_digest(digest, expected):
        return Principal(role="operator", site=None, key_id=None)
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != "gk":
        raise Unauthorized("invalid token")
    _, site, key_id, _secret = parts
    known = _remembered(digest)
    if known is not None and known.site == site and known.key_id == key_id:
        return known
    from chalicelib.store import api_keys

    item = api_keys.get_key(site, key_id)
    if item is None or item.get("revokedAt") or not hmac.compare_digest(item["hash"], digest):
        raise Unauthorized("invalid or revoked token")
    principal = Principal(role=item["role"], site=site, key_id=key_id)
    with _verified_lock:
        if len(_verified) >= _VERIFIED_KEPT:
            _verified.clear()
        _verified[digest] = (principal, time.monotonic() + VERIFIED_SECONDS)
    return principal
