"""Runtime settings, parsed once from the environment at cold start."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Settings:
    table_name: str
    state_machine_arn: str
    # The FIFO queue accepted work is handed to (one message group per user).
    activity_queue_url: str
    # sha256 hex of the operator token; empty means no operator can sign in.
    operator_token_sha256: str
    # chalice's local gateway hands path parameters over still percent-encoded, API Gateway
    # decodes them; this says which of the two we run behind.
    decode_path_params: bool
    console_origin: str
    stage: str
    # The key list cursors are sealed with (HMAC-SHA256; docs/deploy.md): `CURSOR_KEY`, 64 hex
    # characters, the same in every process of a deployment (infra/deploy.py generates it and
    # keeps it in SSM; the local runtime and the tests set it). Unset: a random key per process,
    # so cursors stay unforgeable but only page within the process that issued them.
    cursor_key: bytes


@lru_cache(maxsize=1)
def settings() -> Settings:
    env = os.environ
    return Settings(
        table_name=env.get("TABLE_NAME", "gamification"),
        state_machine_arn=env.get("STATE_MACHINE_ARN", ""),
        activity_queue_url=env.get("ACTIVITY_QUEUE_URL", ""),
        operator_token_sha256=env.get("OPERATOR_TOKEN_SHA256", ""),
        decode_path_params=env.get("DECODE_PATH_PARAMS", "true") == "true",
        console_origin=env.get("CONSOLE_ORIGIN", ""),
        stage=env.get("STAGE", "local"),
        cursor_key=_cursor_key(env.get("CURSOR_KEY", "")),
    )


def _cursor_key(raw: str) -> bytes:
    if not raw:
        import secrets

        return secrets.token_bytes(32)
    try:
        key = bytes.fromhex(raw)
    except ValueError:
        raise RuntimeError("CURSOR_KEY must be hex (64 characters: 32 random bytes)") from None
    if len(key) < 16:
        raise RuntimeError("CURSOR_KEY must hold at least 16 bytes (32 hex characters)")
    return key
