"""The local stack as a real process, started the way `make run` starts it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from local.stack import free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class RunningStack:
    url: str
    token: str
    process: subprocess.Popen[bytes]
    printed: list[str] = field(default_factory=list)  # what it printed up to "Press Ctrl-C"

    def api(self, method: str, path: str, body: Any = None, token: str | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {token or self.token}")
        req.add_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=30) as res:
                raw = res.read()
                return res.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as err:
            raw = err.read()
            return err.code, json.loads(raw) if raw else None


def start_stack(seed: bool = True, environment: dict[str, str] | None = None, data_dir: Path | None = None,
                token: str | None = None) -> RunningStack:
    """`environment`: the whole environment to start it in (default: this process's). `data_dir`:
    where the stack keeps its data (default: nowhere, each test's stack starts empty)."""
    port = free_port()
    token = token or "e2e-" + os.urandom(8).hex()
    base = dict(os.environ) if environment is None else dict(environment)
    env = {**base, "PORT": str(port), "LOCAL_TOKEN": token, "SEED": "1" if seed else "0",
           "LOCAL_DATA_DIR": str(data_dir) if data_dir is not None else ""}
    for var in ("AWS_ENDPOINT_URL", "TABLE_NAME", "OPERATOR_TOKEN_SHA256"):
        env.pop(var, None)
    process = subprocess.Popen([sys.executable, "-m", "local"], cwd=ROOT, env=env, start_new_session=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120  # seeding the demo takes about 20 s; a loaded CI machine, more
    while time.monotonic() < deadline:
        if process.poll() is not None:
            out = process.stdout.read().decode() if process.stdout else ""
            raise RuntimeError(f"the local stack exited early:\n{out}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=1) as res:
                if res.status == 200:
                    break
        except OSError:
            time.sleep(0.2)
    else:
        stop_stack(process)
        raise RuntimeError("the local stack did not answer /health within 120 s")
    # Readiness is printed after seeding; wait for it so tests see the demo site.
    printed = []
    if process.stdout is not None:
        while True:
            line = process.stdout.readline().decode()
            printed.append(line.rstrip("\n"))
            if not line or "Press Ctrl-C" in line:
                break
    return RunningStack(url, token, process, printed)


def stop_stack(process: subprocess.Popen[bytes]) -> int:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        return process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="session")
def stack() -> Iterator[RunningStack]:
    running = start_stack()
    try:
        yield running
    finally:
        stop_stack(running.process)
