"""Run the scheduled jobs once against the running local stack (`make rollup`).

Reads PORT (default 8000) and LOCAL_TOKEN (the stack's dev operator token, printed by `make
run`) like every other target that talks to the stack, and POSTs `/jobs/{job}/run` for each job
in turn: the leaderboard ranks and period close, the KPI rollup and period close, then point
expiry, on every site unless `--site` names one. `--now` runs them as of another instant
(ISO-8601 with Z); `--job` picks one.

    PORT=8000 LOCAL_TOKEN=... .venv/bin/python tools/rollup.py [--site acme] [--now 2026-12-01T06:00:00Z]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any

JOBS = ("ranks", "rollup", "expiry")


def run_job(port: str, token: str, job: str, body: dict[str, Any]) -> tuple[int, Any]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/jobs/{job}/run", method="POST",
                                     data=json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=3600) as response:
            return response.status, _body(response.read())
    except urllib.error.HTTPError as err:
        return err.code, _body(err.read())


def _body(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except ValueError:  # not the API's JSON: another server on the port
        return raw.decode(errors="replace")[:200]


def main() -> int:
    parser = argparse.ArgumentParser(description="Run the scheduled jobs once against the local stack.")
    parser.add_argument("--job", choices=JOBS, action="append", help="a job to run (repeatable; default all)")
    parser.add_argument("--site", help="only this site (default: every site)")
    parser.add_argument("--now", help="as of this instant, ISO-8601 with Z (default: the stack's clock)")
    parser.add_argument("--segments", type=int, default=1)
    args = parser.parse_args()
    port = os.environ.get("PORT") or "8000"
    token = os.environ.get("LOCAL_TOKEN") or ""
    if not token:
        print("LOCAL_TOKEN is not set: use the dev token `make run` printed (or start it with LOCAL_TOKEN=...)",
              file=sys.stderr)
        return 2
    body: dict[str, Any] = {}
    if args.site:
        body["site"] = args.site
    if args.now:
        body["now"] = args.now
    failed = False
    for job in args.job or JOBS:
        job_body = dict(body)
        if job != "ranks" and args.segments != 1:
            job_body["segments"] = args.segments
        try:
            status, data = run_job(port, token, job, job_body)
        except urllib.error.URLError as err:
            print(f"no local stack on port {port}: {err.reason} (start it with `make run`)", file=sys.stderr)
            return 1
        if status == 401:  # the same for every job: say it once
            print(f"{job}: HTTP 401: LOCAL_TOKEN is not the token of the stack on port {port}", file=sys.stderr)
            return 2
        if status != 200:
            failed = True
            print(f"{job}: HTTP {status} {json.dumps(data)}", file=sys.stderr)
            continue
        details = {k: v for k, v in data.items() if k not in ("bySite", "job")}
        print(f"{job}: {json.dumps(details)}")
        for site, done in (data.get("bySite") or {}).items():
            print(f"  {site}: {json.dumps(done)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
