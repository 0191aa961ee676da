"""The local stack: one process, moto as AWS, the Chalice app and console on one port."""

from __future__ import annotations

import contextlib
import gc
import json
import mimetypes
import os
import secrets
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ADMIN_DIR = ROOT / "admin"
STAGE = "local"


def state_file(port: int) -> Path:
    return ROOT / ".local" / f"stack-{port}.json"


def free_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cursor_key() -> str:
    """The key list cursors are sealed with: the caller's `CURSOR_KEY` if set, else a new one.

    Set once in this process's environment, so every process the stack or a test starts
    afterwards (they inherit it) seals and opens cursors with the same key.
    """
    key = os.environ.get("CURSOR_KEY") or secrets.token_hex(32)
    os.environ["CURSOR_KEY"] = key
    return key


def kept_cursor_key(data_dir: Path) -> str:
    """The cursor key kept in the data directory (made once), so a restart honours old cursors."""
    path = data_dir / "cursor.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(secrets.token_hex(32))
        tmp.replace(path)
    return path.read_text().strip()


def aws_environment(moto_port: int, token: str) -> dict[str, str]:
    """Everything the app reads from the environment, pointing at the embedded moto."""
    import hashlib

    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
        "MOTO_PORT": str(moto_port),
        "TABLE_NAME": "gamification-local",
        "OPERATOR_TOKEN_SHA256": hashlib.sha256(token.encode()).hexdigest(),
        "CURSOR_KEY": cursor_key(),
        "DECODE_PATH_PARAMS": "true",
        "STAGE": STAGE,
        "POWERTOOLS_METRICS_NAMESPACE": "Gamification",
        "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
        "POWERTOOLS_METRICS_DISABLED": "true",
    }


def in_process_environment(token: str, table: str, log_level: str = "WARNING") -> dict[str, str]:
    """The environment for moto in this process (`mock_aws`): tests and in-process benches."""
    import hashlib

    return {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1", "TABLE_NAME": table,
        "OPERATOR_TOKEN_SHA256": hashlib.sha256(token.encode()).hexdigest(), "DECODE_PATH_PARAMS": "true",
        "CURSOR_KEY": cursor_key(),
        "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": log_level,
    }


@contextlib.contextmanager
def in_process_table() -> Iterator[None]:
    """moto in this process, AWS-like (`local.patches`), with the app's table created and the
    app's client and settings made afresh inside it: the in-process benches' stack."""
    from moto import mock_aws

    from local import patches, provision

    patches.behave_like_aws()
    with mock_aws():
        import boto3

        from chalicelib.config import settings
        from chalicelib.store import db

        settings.cache_clear()
        db.reset_client()
        provision.create_table(boto3.client("dynamodb"), os.environ["TABLE_NAME"])
        yield


@dataclass
class LocalStack:
    port: int = 0
    token: str = ""
    moto_port: int = 0
    seed: bool = True
    schedules: bool = True
    data_dir: Path | None = None  # kept across restarts there (local.durability); None: memory only
    restored: int = 0  # requests replayed from data_dir at start (0: it held nothing)
    seeded: Any = None  # what seeding the demo did (local.demo.Seeded), when it was seeded now
    host: str = "127.0.0.1"
    _threads: list[threading.Thread] = field(default_factory=list)
    _moto: Any = None
    _in_process: Any = None
    _http: Any = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _durability: Any = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def console_url(self) -> str:
        return f"{self.url}/console/"

    def start(self) -> LocalStack:
        self.port = self.port or free_port()
        self.moto_port = self.moto_port or free_port()
        self.token = self.token or secrets.token_urlsafe(24)
        if self.data_dir is not None and not os.environ.get("CURSOR_KEY"):
            os.environ["CURSOR_KEY"] = kept_cursor_key(self.data_dir)  # cursors handed out stay valid
        os.environ.update(aws_environment(self.moto_port, self.token))
        # This process reaches moto in-process (below); the endpoint is for other processes.
        os.environ.pop("AWS_ENDPOINT_URL")

        import logging

        from moto import mock_aws
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)

        from local import patches

        patches.configure_moto()
        patches.behave_like_aws()
        # The app, the state machine interpreter and the Lambda tasks all run in this process:
        # their AWS calls go to moto's backends in memory, as in the tests, instead of a new TCP
        # connection and server thread per request (moto's HTTP server closes every connection).
        # The HTTP server answers tools in other processes (verify, soak) from the same backends.
        self._in_process = mock_aws()
        self._in_process.start()
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=self.moto_port, verbose=False)
        self._moto.start()
        from local import latency

        if latency.scale():  # LOCAL_LATENCY: the API's own AWS calls pay the table too
            latency.install()

        if self.data_dir is not None:
            from local.durability import Durability

            self._durability = Durability(self.data_dir)
            self.restored = self._durability.restore()
        from local.runtime import provision_all

        provision_all()
        from local.http import READINESS

        seeding = self.seed and not self.restored  # what was kept includes the demo site seeded then
        READINESS.ready, READINESS.stage = False, "seeding the demo site" if seeding else "starting"
        self._serve_http()
        if seeding:
            from local.demo import seed_demo

            self.seeded = seed_demo()
        if self.restored:
            from chalicelib.jobs import reconcile

            reconcile.resume()  # the queue did not survive: accepted work that had not ended goes on
        if self.schedules:
            from local.runtime import start_schedules

            self._threads.append(start_schedules(self._stop))
        self._write_state()
        # One long-lived process holding every table in memory: the cyclic collector's passes
        # walk all of it far more often than its garbage warrants. What start-up built is frozen
        # out of collection and collections are spaced out (about +20% activities/s here).
        gc.freeze()
        gc.set_threshold(10_000, 50, 50)
        READINESS.ready = True  # /health answers 200 from here on
        return self

    def data_size(self) -> int:
        """Bytes kept in the data directory (0 when the stack keeps nothing)."""
        return self._durability.size() if self._durability is not None else 0

    @property
    def state_file(self) -> Path:
        """Where tools (make verify, soak) find this stack's AWS endpoint: `.local/stack-{port}.json`."""
        return state_file(self.port)

    def _write_state(self) -> None:
        """Endpoint, table and region of this stack's moto for tools that read DynamoDB directly.

        The token is not written: those tools never call the API.
        """
        env = aws_environment(self.moto_port, "")
        state = {"url": self.url, "port": self.port, "pid": os.getpid(), "endpoint": env["AWS_ENDPOINT_URL"],
                 "table": env["TABLE_NAME"], "region": env["AWS_DEFAULT_REGION"]}
        self.state_file.parent.mkdir(exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2) + "\n")
        tmp.replace(self.state_file)
        import atexit

        atexit.register(self._remove_state)  # also when a tool exits without stop()

    def _remove_state(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            if json.loads(self.state_file.read_text()).get("pid") == os.getpid():
                self.state_file.unlink()

    def _serve_http(self) -> None:
        import app as app_module
        from local.http import serve

        self._http, thread = serve(app_module.app, self.host, self.port)
        self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        if self.port:
            self._remove_state()
        if self._http is not None:
            self._http.server.shutdown()
            self._http.server.server_close()
        from local.runtime import stop_functions

        stop_functions()  # LOCAL_LAMBDA=process: the functions' environments end with the stack
        if self._durability is not None:
            self._durability.close()  # everything in a fresh snapshot: the next start replays no journal
            self._durability = None
        if self._moto is not None:
            self._moto.stop()
        if self._in_process is not None:
            self._in_process.stop()
        for thread in self._threads:
            thread.join(timeout=5)


@contextlib.contextmanager
def running(**kwargs: Any) -> Iterator[LocalStack]:
    stack = LocalStack(**kwargs).start()
    try:
        yield stack
    finally:
        stack.stop()


def guess_type(path: Path) -> str:
    if path.suffix == ".js":
        return "text/javascript; charset=utf-8"
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"
