"""Where a tool that reads AWS directly (`make verify`, the soak's checker) finds its table.

The one place that gives such a tool its region, credentials, endpoint and table:

- a local stack on PORT publishes its embedded moto (endpoint, table, region) in
  `.local/stack-{PORT}.json` while it runs. The tool then uses exactly that: the stack's region
  and throw-away credentials override whatever the shell has (a region or profile configured
  for a real AWS account would send the tool to another region of moto, or to AWS);
- otherwise an explicit endpoint/table, or the usual AWS environment of a deployed stage
  (AWS_DEFAULT_REGION or a profile's region, credentials, TABLE_NAME).

Either way the answer is known before any request is made: no local stack and no region is a
`NoTarget` with a sentence saying what to start or set, never botocore's `NoRegionError` after
a two-minute workload.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}
# Variables that would make botocore look past the local stack's settings (profiles, config files).
SHADOWING = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")


class NoTarget(Exception):
    """Neither a running local stack nor a configured AWS region: nothing to point the tool at."""


@dataclass(frozen=True)
class Target:
    table: str
    region: str
    endpoint: str | None  # None: AWS itself
    local: bool

    def describe(self) -> str:
        where = self.endpoint or f"AWS {self.region}"
        return f"table {self.table} at {where}" + (" (the local stack's moto)" if self.local else "")


def state_path(port: int | str) -> Path:
    """`.local/stack-{port}.json`, written by local/stack.py while a stack runs on `port`."""
    from local.stack import state_file

    return state_file(int(port))


def local_stack(port: int | str) -> dict[str, Any] | None:
    """The state a running local stack on `port` published, or None (no file, or its stack is gone)."""
    path = state_path(port)
    try:
        state: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not (_alive(int(state.get("pid", 0))) or _healthy(str(state.get("url", "")))):
        return None  # left behind by a stack that was killed
    return state


def point_at(endpoint: str | None = None, table: str | None = None, port: int | str | None = None) -> Target:
    """Set this process's AWS environment for the table to read and drop cached clients.

    `port`: use the local stack running there when there is one. Raises `NoTarget` when there
    is neither a local stack nor an explicit endpoint nor a region for AWS.
    """
    state = local_stack(port) if port and endpoint is None else None
    region: str | None
    if state is not None:
        region = str(state.get("region") or "us-east-1")
        for name in SHADOWING:
            os.environ.pop(name, None)
        os.environ.update({**LOCAL_CREDENTIALS, "AWS_DEFAULT_REGION": region, "AWS_REGION": region,
                           "AWS_ENDPOINT_URL": str(state["endpoint"]), "TABLE_NAME": table or str(state["table"])})
    else:
        if endpoint:
            os.environ["AWS_ENDPOINT_URL"] = endpoint
        if table:
            os.environ["TABLE_NAME"] = table
        region = _configured_region()
        if region is None and os.environ.get("AWS_ENDPOINT_URL"):
            region = "us-east-1"  # an endpoint of its own (DynamoDB Local, moto) still wants some region
            os.environ["AWS_DEFAULT_REGION"] = region
        if region is None:
            raise NoTarget(_nothing_to_read(port))
    from chalicelib.config import settings
    from chalicelib.store import db

    settings.cache_clear()
    db.reset_client()
    return Target(settings().table_name, region, os.environ.get("AWS_ENDPOINT_URL"), local=state is not None)


def _nothing_to_read(port: int | str | None) -> str:
    local = (f"no local stack is running on port {port} ({state_path(port).relative_to(ROOT)} not found): "
             f"start one with `make run PORT={port}`, or" if port else "")
    return (f"{local} give a deployed stage's region and table (AWS_DEFAULT_REGION=... TABLE_NAME=..., or a profile "
            "with a region); no AWS region is configured").strip()


def _configured_region() -> str | None:
    """The region botocore would use (environment, then the profile's config), None without one."""
    import botocore.session
    from botocore.exceptions import BotoCoreError

    try:
        region = botocore.session.get_session().get_config_variable("region")
    except BotoCoreError:  # a profile that does not exist is as good as no region here
        return None
    return str(region) if region else None


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _healthy(url: str) -> bool:
    """A stack in another PID namespace (a container) still answers on its port."""
    if not url.startswith("http://127.0.0.1:"):
        return False
    try:
        with urllib.request.urlopen(url + "/health", timeout=2) as res:
            return bool(res.status == 200)
    except OSError:
        return False
