"""Fuzz the API with Schemathesis against the local stack's /openapi.json.

Usage: `make fuzz` (PORT, LOCAL_TOKEN of a running `make run`; or none: a stack is started
in this process for the run). Every operation is called with the operator token on a site of
its own (`fuzz-...`, created with a point type, a behaviour and a user so that activity routes
reach processing); the stateful phase follows the document's OpenAPI links (create a user ->
submit an activity -> poll it, create a mechanic -> read/replace/delete it, ...).

Passes when: no 5xx; every response matches its documented schema, status and content type;
every 4xx carries the error shape `{"error": {"type", "message", "details": [...]}}` (the
`error_shape` check below, loaded by Schemathesis through SCHEMATHESIS_HOOKS=tools.fuzz);
a 429 carries Retry-After; auth is never ignored.

Options: --max-examples N (per operation), --phases, --max-time S, --seed, --workers.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHECKS = "all"
# positive_data_acceptance: the schema cannot say everything the API checks (an IANA time zone,
# a criterion naming a verb that exists), so valid-by-schema data is legitimately refused.
# negative_data_rejection: likewise, loose-by-schema but accepted is not a defect here.
EXCLUDED_CHECKS = "positive_data_acceptance,negative_data_rejection"

try:  # registered when Schemathesis imports this module as its hooks module
    import schemathesis

    @schemathesis.check
    def error_shape(ctx: Any, response: Any, case: Any) -> bool | None:
        """Every 4xx is `{"error": {"type": str, "message": str, "details": [{field, message}]}}`."""
        if not 400 <= response.status_code < 500:
            return None
        try:
            body = json.loads(response.content or b"null")
        except ValueError:
            raise AssertionError(f"{response.status_code} with a body that is not JSON") from None
        error = body.get("error") if isinstance(body, dict) else None
        assert isinstance(error, dict), f"{response.status_code} without an `error` object: {body!r}"[:300]
        assert isinstance(error.get("type"), str) and error["type"], f"error.type missing: {body!r}"[:300]
        assert isinstance(error.get("message"), str), f"error.message missing: {body!r}"[:300]
        details = error.get("details")
        assert isinstance(details, list), f"error.details is not a list: {body!r}"[:300]
        for item in details:
            assert isinstance(item, dict) and isinstance(item.get("field"), str) and isinstance(
                item.get("message"), str), f"a detail is not {{field, message}}: {item!r}"[:300]
        if response.status_code == 429:
            assert response.headers.get("retry-after") or response.headers.get("Retry-After"), \
                "429 without Retry-After"
        return None
except ImportError:  # pragma: no cover - the CLI is usable only where schemathesis is installed
    pass


def _call(url: str, token: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url + path, data=data, method=method,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            raw = res.read()
            return res.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as err:
        raw = err.read()
        return err.code, json.loads(raw) if raw else None


def prepare_site(url: str, token: str, site: str) -> None:
    """A site where linked calls succeed: a point type, a behaviour, a user."""
    for method, path, body in (
        ("POST", "/sites", {"id": site, "name": "Fuzz", "timezone": "Europe/London", "weekStart": "monday"}),
        ("POST", f"/sites/{site}/point-types", {"id": "coins", "name": "Coins", "redeemable": True,
                                                  "giftable": True, "bountiable": True}),
        ("POST", f"/sites/{site}/behaviours", {"id": "watch", "kind": "simple", "verb": "watch", "name": "Watch",
                                                 "prizes": {"points": [{"pointId": "coins", "points": 1}]}}),
        ("POST", f"/sites/{site}/users", {"uuid": "fuzz-user", "displayName": "Fuzz"}),
    ):
        status, data = _call(url, token, method, path, body)
        if status not in (201, 409):
            raise RuntimeError(f"{method} {path}: {status} {data}")


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=2) as res:
            return res.status == 200
    except OSError:
        return False


def run_schemathesis(url: str, token: str, site: str, *, max_examples: int, phases: str, seed: int | None,
                     max_time: int | None, workers: int, report_dir: Path | None = None) -> int:
    """The Schemathesis CLI with our hooks; returns its exit code (0: nothing found)."""
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "schemathesis.toml"
        # The token goes through the config's environment substitution, never on a command line.
        # Failures found are replayed first by the next run: keep them out of the repository.
        config.write_text('headers = { Authorization = "Bearer ${FUZZ_TOKEN}" }\n'
                          "[cache]\n"
                          f'directory = "{ROOT / ".local" / "schemathesis"}"\n'
                          "[parameters]\n"
                          f'"path.site" = "{site}"\n')
        cmd = [str(Path(sys.executable).with_name("schemathesis")), "--config-file", str(config), "run",
               f"{url}/openapi.json", "--checks", CHECKS, "--exclude-checks", EXCLUDED_CHECKS,
               "--phases", phases, "--max-examples", str(max_examples), "--workers", str(workers),
               "--no-color", "--generation-database", "none", "--request-timeout", "30",
               "--suppress-health-check", "all", "--warnings", "off"]
        if seed is not None:
            cmd += ["--seed", str(seed)]
        if max_time:
            cmd += ["--max-time", str(max_time)]
        if report_dir is not None:
            cmd += ["--report", "junit", "--report-dir", str(report_dir)]
        env = {**os.environ, "FUZZ_TOKEN": token, "SCHEMATHESIS_HOOKS": "tools.fuzz",
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        return subprocess.call(cmd, cwd=tmp, env=env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-examples", type=int, default=50)
    parser.add_argument("--phases", default="examples,coverage,fuzzing,stateful")
    parser.add_argument("--max-time", type=int, default=None)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)

    port, token = os.environ.get("PORT", ""), os.environ.get("LOCAL_TOKEN", "")
    stack = None
    url = f"http://127.0.0.1:{port}" if port else ""
    if not (url and token and _healthy(url)):
        sys.path.insert(0, str(ROOT))
        from local.stack import LocalStack

        print("no running stack at PORT with LOCAL_TOKEN: starting one for this run", flush=True)
        stack = LocalStack(token=token or secrets.token_urlsafe(16), seed=False, schedules=False).start()
        url, token = stack.url, stack.token
    try:
        site = f"fuzz-{secrets.token_hex(3)}"
        prepare_site(url, token, site)
        print(f"fuzzing {url} on site {site}", flush=True)
        return run_schemathesis(url, token, site, max_examples=args.max_examples, phases=args.phases,
                                seed=args.seed, max_time=args.max_time, workers=args.workers)
    finally:
        if stack is not None:
            stack.stop()


if __name__ == "__main__":
    sys.exit(main())
