"""`make verify`: check the money invariants of a table (chalicelib/audit/verify.py).

It reads DynamoDB directly (never the API). Which table (tools/local_aws.py decides, for every
tool that reads AWS directly):
- a running local stack: `.local/stack-{PORT}.json` (written by the stack when it starts,
  removed when it stops) gives its moto endpoint, table and region (PORT defaults to 8000);
  the shell's own AWS settings are not used for it, none are needed;
- otherwise `--endpoint`/`--table`, or the usual AWS environment (AWS_DEFAULT_REGION or a profile,
  credentials, TABLE_NAME) for a deployed stage.

    python tools/verify.py [--site acme ...]        # all sites unless told

Prints what it checked and every violation; exits 1 on any violation, 2 when there is no table
to read (no local stack on PORT and no AWS region, or the table cannot be read).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--site", action="append", help="a site to check (repeatable; default: all sites)")
    parser.add_argument("--endpoint", help="DynamoDB endpoint URL (default: the local stack's, else AWS)")
    parser.add_argument("--table", help="table name (default: the local stack's, else TABLE_NAME)")
    parser.add_argument("--no-local", action="store_true", help="ignore a running local stack's state file")
    args = parser.parse_args(argv)
    port = None if args.no_local else os.environ.get("PORT") or "8000"
    from tools.local_aws import NoTarget, point_at

    try:
        where = point_at(args.endpoint, args.table, port).describe()
    except NoTarget as err:
        print(f"verify: {err}", file=sys.stderr)
        return 2
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
