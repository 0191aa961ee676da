"""`make verify`: check the money invariants of a table (chalicelib/audit/verify.py).

It reads DynamoDB directly (never the API). Which table:
- a running local stack: `.local/stack-{PORT}.json` (written by the stack when it starts,
  removed when it stops) gives its moto endpoint and table (PORT defaults to 8000);
- otherwise `--endpoint`/`--table`, or the usual AWS environment (AWS_ENDPOINT_URL,
  TABLE_NAME, credentials) for a deployed stage.

    python tools/verify.py [--site acme ...]        # all sites unless told

Prints what it checked and every violation; exits 1 on any violation, 2 when no table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def configure(endpoint: str | None, table: str | None, port: str | None) -> str:
    """Point the app's DynamoDB client at the table to check; returns a description of it."""
    from local.stack import state_file

    state_path = state_file(int(port)) if port else None
    state = json.loads(state_path.read_text()) if state_path is not None and state_path.exists() else None
    if state is not None and not _alive(int(state.get("pid", 0))):
        state = None  # left behind by a stack that was killed
    if endpoint is None and state is not None:
        endpoint, table = state["endpoint"], table or state["table"]
        os.environ.setdefault("AWS_DEFAULT_REGION", state.get("region", "us-east-1"))
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            os.environ.setdefault(name, "testing")
    if endpoint:
        os.environ["AWS_ENDPOINT_URL"] = endpoint
    if table:
        os.environ["TABLE_NAME"] = table
    from chalicelib.config import settings
    from chalicelib.store import db

    settings.cache_clear()
    db.reset_client()
    return f"table {settings().table_name} at {os.environ.get('AWS_ENDPOINT_URL', 'AWS')}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return pid > 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--site", action="append", help="a site to check (repeatable; default: all sites)")
    parser.add_argument("--endpoint", help="DynamoDB endpoint URL (default: the local stack's, else AWS)")
    parser.add_argument("--table", help="table name (default: the local stack's, else TABLE_NAME)")
    parser.add_argument("--no-local", action="store_true", help="ignore a running local stack's state file")
    args = parser.parse_args(argv)
    port = None if args.no_local else os.environ.get("PORT") or "8000"
    where = configure(args.endpoint, args.table, port)
    from botocore.exceptions import BotoCoreError, ClientError

    from chalicelib.audit.verify import verify

    print(f"verify: {where}; sites: {', '.join(args.site) if args.site else 'all'}", flush=True)
    try:
        report = verify(args.site)
    except (BotoCoreError, ClientError) as err:
        print(f"verify: cannot read the table: {err}", file=sys.stderr)
        return 2
    print(report.summary())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
