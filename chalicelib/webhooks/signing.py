"""Standard Webhooks signatures (standardwebhooks.com): what receivers verify with its libraries.

A secret is `whsec_` + base64 of 32 random bytes; a delivery is signed with the secret's decoded
bytes, HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.{body}`, sent as `v1,` + base64. After a
rotation the old secret signs too for a while: the header then holds both signatures, separated
by a space, and a receiver holding either secret verifies the delivery.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The bytes a secret stands for (its base64 after the prefix)."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("a webhook secret starts with whsec_")
    return base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,` signature of a delivery."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(secret_key(secret), signed, hashlib.sha256).digest()).decode()


def headers(message_id: str, timestamp: int, body: bytes, signing_secrets: Sequence[str]) -> dict[str, str]:
    """The three Standard Webhooks headers of one attempt (signed at the attempt's own time:
    verifiers refuse timestamps older than a few minutes), with the JSON content type."""
    if not signing_secrets:
        raise ValueError("a delivery needs at least one secret to sign with")
    return {"content-type": "application/json", "webhook-id": message_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": " ".join(signature(s, message_id, timestamp, body) for s in signing_secrets)}
