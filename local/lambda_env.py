"""Lambda-like execution environments for the local stack (`LOCAL_LAMBDA=process`).

On AWS no two Lambda functions, and no function and the API, share a Python process: an
in-process wake-up, a cache one function clears for the others or any module global cannot
carry over. In this mode each `@app.lambda_function` runs in worker processes of its own:

- a pool per function that grows with concurrent invokes up to a cap
  (`LOCAL_LAMBDA_CONCURRENCY`, default `16`: 16 per function, or `16,activity_point=32` to give
  one function more; further invokes wait for a free environment; each worker holds about
  15 MB of its own), reuses warm workers (the most recently used first) and gives a worker one
  invoke at a time, as Lambda gives an execution environment one request at a time;
- workers are forked from a fork server of the stack's own (`python -m local.lambda_env`, a
  single-threaded process that imported the app once and does nothing else), so a new
  environment costs a fork, not an interpreter start; after the fork it shares nothing with
  its siblings, the API or the stack;
- a worker reaches AWS like a deployed function would, over HTTP: the stack's
  ThreadedMotoServer is its `AWS_ENDPOINT_URL`; it gets the stack's environment (table, state
  machine, cursor key, operator token digest...) at its start and, with every invoke, what a
  test may change at run time in the stack's process: the clock's offset and the latency scale;
- the stack registers, through `patches.register_functions`, one proxy per function that sends
  the event down a pipe and returns the worker's result; a function error comes back as
  `{errorType, errorMessage}` and is raised again as an exception whose class is named after the
  `errorType`, so moto's invoke (our patch) reports the same errorType to the ASL's Retry/Catch;
  a worker that dies mid-invoke is `Runtime.ExitError`, one that outlives the function's timeout
  (`LOCAL_LAMBDA_TIMEOUT`, default 30 s as deployed) is killed and reported `Sandbox.Timedout`.

Workers die with the stack: the fork server and every worker hold the read end of a pipe whose
only write end the stack holds, and exit when they read EOF, whatever the stack died of
(SIGKILL included); they ignore SIGINT (Ctrl-C in a terminal reaches the whole process group;
the stack stops them); they stay in the stack's process group, so killing the group kills them;
the fork server reaps its workers (no zombies) and the stack reaps the fork server on stop.

The debug-only canary (`LOCAL_LAMBDA_CANARY=<dir>`) records, per invocation, the process and a
module global that each environment marks with its function's name (tests/e2e/test_lambda_like.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

MODE_ENV = "LOCAL_LAMBDA"
CANARY_ENV = "LOCAL_LAMBDA_CANARY"
CONCURRENCY_ENV = "LOCAL_LAMBDA_CONCURRENCY"
TIMEOUT_ENV = "LOCAL_LAMBDA_TIMEOUT"
INIT_ENV = "LOCAL_LAMBDA_INIT"
# Per function, like Lambda's reserved concurrency. No function waits for another activity, so
# one figure fits all: the queue's pollers (LOCAL_QUEUE_POLLERS, 8) bound the consumers, and each
# consumer runs one execution, one type function, at a time.
DEFAULT_CONCURRENCY = "16"
DEFAULT_TIMEOUT = 30.0  # .chalice/config.json: lambda_timeout of the deployed stages
# What the fork server imports once, so that a new environment starts warm-imported.
PRELOAD = ["app", "chalicelib.workflow.steps", "chalicelib.workflow.consumer", "local.runtime", "local.latency", "boto3", "botocore.session"]

Handler = Callable[[Any, Any], Any]


def mode() -> str:
    """`thread` (every function in the stack's process, today's default) or `process`."""
    value = (os.environ.get(MODE_ENV) or "thread").strip().lower()
    if value in ("", "0", "off", "thread", "threads", "inprocess", "in-process"):
        return "thread"
    if value in ("process", "processes", "1", "on"):
        return "process"
    raise ValueError(f"{MODE_ENV} must be 'process' or 'thread' (got {value!r})")


# --- the canary: which process and which module state each invocation ran with -----------------

_CANARY_MODULE = "chalicelib.config"  # imported by the API and by every function
_CANARY_ATTR = "_local_canary_marks"


def canary_mark(name: str) -> None:
    """Mark a module global of the app with `name`, and record it with this process's id and
    every mark this environment can see (only its own, unless state is shared)."""
    directory = os.environ.get(CANARY_ENV)
    if not directory:
        return
    import importlib
    from datetime import UTC, datetime

    from chalicelib import clock
    from local import latency

    module = importlib.import_module(_CANARY_MODULE)
    marks: set[str] = module.__dict__.setdefault(_CANARY_ATTR, set())
    marks.add(name)
    record = {"function": name, "pid": os.getpid(), "seen": sorted(marks),
              "clockOffset": round((clock.now() - datetime.now(UTC)).total_seconds(), 1),
              "latencyScale": latency.scale()}
    line = (json.dumps(record) + "\n").encode()
    fd = os.open(os.path.join(directory, "canary.jsonl"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line)  # one write of a short line with O_APPEND: lines never interleave
    finally:
        os.close(fd)


def traced(name: str, handler: Handler) -> Handler:
    """`handler`, recording each invocation for the canary when `LOCAL_LAMBDA_CANARY` is set."""
    if not os.environ.get(CANARY_ENV):
        return handler

    def run(event: Any, context: Any) -> Any:
        canary_mark(name)
        return handler(event, context)

    return run


# --- errors as Lambda reports them ---------------------------------------------------------------

_error_classes: dict[str, type[Exception]] = {}
_error_lock = threading.Lock()


def error_class(error_type: str) -> type[Exception]:
    """An exception class named `error_type`: what the invoke patch reports as errorType."""
    with _error_lock:
        cls = _error_classes.get(error_type)
        if cls is None:
            cls = _error_classes[error_type] = type(error_type, (Exception,), {"__module__": __name__})
        return cls


def function_error(error_type: str, message: str) -> Exception:
    return error_class(error_type)(message)


# --- the worker side ------------------------------------------------------------------------------


class _Context:
    """The Lambda context our handlers read; a fresh request id per invoke, as on AWS."""

    def __init__(self, name: str, request_id: str, deadline: float) -> None:
        self.function_name = name
        self.aws_request_id = request_id
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _die_with_stack(life_fd: int) -> None:
    """Exit this process the moment the stack's end of the life pipe is gone."""

    def watch() -> None:
        with contextlib.suppress(OSError):
            while os.read(life_fd, 1):
                pass
        os._exit(0)

    threading.Thread(target=watch, name="die-with-stack", daemon=True).start()


def _app_function(name: str) -> Handler:
    import app as app_module
    from local.runtime import APP_NAME, STAGE

    for function in app_module.app.pure_lambda_functions:
        if f"{APP_NAME}-{STAGE}-{function.name}" == name:
            return traced(name, function)
    from chalice.app import ScheduledEventConfig

    for source in app_module.app.event_sources:  # each `@app.schedule` is a function of its own
        if isinstance(source, ScheduledEventConfig) and f"{APP_NAME}-{STAGE}-{source.name}" == name:
            import importlib

            module, _, attr = source.handler_string.rpartition(".")
            return traced(name, getattr(importlib.import_module(module), attr))
    raise LookupError(f"no function of the app deploys as {name}")


def _run_init(name: str, spec: str) -> None:
    """`LOCAL_LAMBDA_INIT=module:function[,module:function]`: called with the function's name in
    every new environment before its first invoke, e.g. to register a fault on the default boto3
    session (which the function's clients copy): how a test's injected faults reach the workers."""
    import importlib

    for entry in filter(None, (part.strip() for part in spec.split(","))):
        module, _, attr = entry.partition(":")
        getattr(importlib.import_module(module), attr)(name)


def worker_main(name: str, environment: dict[str, str], conn: Connection, life_fd: int) -> None:
    """One execution environment: imports done (by the fork server), then serve invokes."""
    _die_with_stack(life_fd)
    os.environ.clear()
    os.environ.update(environment)
    from chalicelib import clock
    from chalicelib.config import settings
    from chalicelib.store import db
    from chalicelib.workflow import starter
    from local import latency

    # The fork server imported the app under the stack's environment; what was cached from it
    # is dropped so this environment reads its own (the endpoint of the stack's moto server).
    settings.cache_clear()
    db.reset_client()
    starter.reset_client()
    latency.install()
    _run_init(name, environment.get(INIT_ENV, ""))
    handler = _app_function(name)
    timeout = float(environment.get(TIMEOUT_ENV) or DEFAULT_TIMEOUT)
    while True:
        try:
            raw = conn.recv_bytes()
        except (EOFError, OSError):
            break
        request = json.loads(raw)
        clock.set_offset(float(request.get("clockOffset") or 0.0))
        latency.set_scale(float(request.get("latencyScale") or 0.0))
        context = _Context(name, request["requestId"], time.monotonic() + timeout)
        try:
            result = handler(request["event"], context)
            try:
                reply = json.dumps({"result": result})
            except (TypeError, ValueError) as exc:
                reply = json.dumps({"errorType": "Runtime.MarshalError", "errorMessage": str(exc)})
        except Exception as exc:
            reply = json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc),
                                "stackTrace": traceback.format_exception(exc)[-3:]})
        try:
            conn.send_bytes(reply.encode())
        except (EOFError, OSError):
            break


def fork_server(control_fd: int, life_fd: int) -> None:
    """`python -m local.lambda_env CONTROL LIFE`: import the app once, then fork one worker per
    request read from the control socket (a function name, its environment, the worker's end of
    its socket pair) and answer with the worker's pid. Single-threaded, so forking is safe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the group; the stack stops us
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # workers are reaped by the kernel: no zombies
    import importlib

    for module in PRELOAD:
        importlib.import_module(module)
    import boto3

    # What a function's first client costs (botocore reads its service models from disk) is paid
    # once here, in the default session the workers inherit; each environment still creates its
    # own clients and connections.
    boto3.setup_default_session(region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    for service in ("dynamodb", "stepfunctions"):
        boto3.client(service, endpoint_url="http://127.0.0.1:9")  # never called
    control = socket.socket(fileno=control_fd)
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(control, 1 << 20, 1)
        except OSError:
            break
        if not data:
            break  # the stack closed its end (stopped or died)
        request = json.loads(data)
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                control.close()
                worker_main(request["name"], request["environment"], Connection(fds[0]), life_fd)
            except BaseException:
                traceback.print_exc()
                code = 1
            finally:
                os._exit(code)
        os.close(fds[0])
        control.send(json.dumps({"pid": pid}).encode())
    os._exit(0)


# --- the stack side -------------------------------------------------------------------------------


@dataclass
class _Worker:
    pid: int
    conn: Connection
    last_used: float = field(default_factory=time.monotonic)

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except OSError:
            return False
        return True

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()
        with contextlib.suppress(OSError):
            os.kill(self.pid, signal.SIGKILL)


class FunctionPool:
    """The execution environments of one function."""

    def __init__(self, runtime: LambdaEnvironments, name: str, limit: int) -> None:
        self.runtime, self.name, self.limit = runtime, name, limit
        self._idle: list[_Worker] = []
        self._size = 0
        self._cond = threading.Condition()
        self.cold_starts = 0

    def _acquire(self) -> tuple[_Worker, bool]:
        with self._cond:
            while True:
                if self.runtime.closed:
                    raise function_error("Lambda.ServiceException", "the local stack is stopping")
                if self._idle:
                    worker = self._idle.pop()  # the warmest environment first
                    if worker.alive():
                        return worker, False
                    self._size -= 1  # it died while idle (killed from outside): Lambda would use another
                    worker.kill()
                    continue
                if self._size < self.limit:
                    self._size += 1
                    break
                self._cond.wait(1.0)
        try:
            worker = self.runtime.start_worker(self.name)
        except BaseException:
            with self._cond:
                self._size -= 1
                self._cond.notify()
            raise
        self.cold_starts += 1
        return worker, True

    def _release(self, worker: _Worker, healthy: bool) -> None:
        with self._cond:
            if healthy and not self.runtime.closed:
                worker.last_used = time.monotonic()
                self._idle.append(worker)
            else:
                self._size -= 1
            self._cond.notify()
        if not healthy:
            worker.kill()

    def invoke(self, event: Any, context: Any) -> Any:
        from chalicelib import clock
        from local import latency

        worker, cold = self._acquire()
        healthy = False
        try:
            latency.pause("lambda.invoke")
            latency.pause("stepfunctions.transition")
            if cold:
                latency.pause("lambda.cold_start")
            request = {"event": event, "requestId": str(uuid.uuid4()),
                       "clockOffset": clock.offset(),
                       "latencyScale": latency.scale()}
            try:
                worker.conn.send_bytes(json.dumps(request).encode())
                if not worker.conn.poll(self.runtime.timeout):
                    raise function_error("Sandbox.Timedout",
                                         f"{self.name} timed out after {self.runtime.timeout:.0f} seconds")
                reply = json.loads(worker.conn.recv_bytes())
            except (EOFError, OSError) as exc:
                raise function_error("Runtime.ExitError",
                                     f"{self.name}: the runtime exited during the invoke ({exc!r})") from None
            healthy = True
        finally:
            self._release(worker, healthy)
        if "errorType" in reply:
            raise function_error(str(reply["errorType"]), str(reply.get("errorMessage", "")))
        return reply["result"]

    def stop(self) -> None:
        with self._cond:
            idle, self._idle = self._idle, []
            self._cond.notify_all()
        for worker in idle:
            worker.kill()

    def reap(self, idle_seconds: float) -> None:
        """Let environments idle for `idle_seconds` go, as Lambda does; the warmest one stays."""
        now = time.monotonic()
        with self._cond:
            if len(self._idle) <= 1:
                return
            keep = [w for w in self._idle if now - w.last_used < idle_seconds] or self._idle[-1:]
            gone = [w for w in self._idle if w not in keep]
            self._idle = keep
            self._size -= len(gone)
        for worker in gone:
            worker.kill()


class AwsEndpoint:
    """The workers' AWS endpoint: the stack's moto, reached the way the stack's own code reaches it.

    A keep-alive HTTP server in the stack's process hands each request, as botocore sent it, to
    moto's in-process entry point (`botocore_stubber.process_request`, what `mock_aws` calls for
    the API's own requests): the same backends, the same DynamoDB lock and the same patches as the
    stack, without moto server's per-request URL matching and Flask dispatch, which took most of
    the stack's CPU in this mode (measured: 200 activities of 200 users, stack CPU 26 s through
    the ThreadedMotoServer against 16 s in-process). The ThreadedMotoServer stays for tools.
    """

    _CREDENTIAL = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/]+)/([^/]+)/aws4_request")

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # botocore keeps its connections: no connect per request
            # The headers and the body go out in two writes: with Nagle's algorithm the body
            # waited for botocore's delayed ACK of the headers, about 40 ms on every AWS call
            # of every worker (a burst of 20 spent 2.4 s on it). The API's handler does the same.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                return

            def serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, payload = endpoint.answer(self.command, self.path, dict(self.headers.items()), body)
                self.send_response(status)
                for key, value in headers.items():
                    if key.lower() not in ("content-length", "connection", "transfer-encoding", "server", "date"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = serve

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 256

        self._server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="lambda-aws-endpoint", daemon=True)

    def start(self) -> AwsEndpoint:
        self._thread.start()
        return self

    def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        from botocore.awsrequest import AWSPreparedRequest
        from botocore.compat import HTTPHeaders
        from moto.core.models import botocore_stubber

        found = self._CREDENTIAL.search(headers.get("Authorization", ""))
        if found is None:
            return 400, {}, b'{"__type": "MissingAuthenticationToken", "message": "unsigned request"}'
        region, service = found.groups()
        sent = HTTPHeaders()
        for key, value in headers.items():
            sent[key] = value
        request = AWSPreparedRequest(method, f"https://{service}.{region}.amazonaws.com{path}", sent, body,
                                     stream_output=False)
        response = botocore_stubber.process_request(request)
        if response is None:
            return 404, {}, b'{"__type": "UnknownOperationException"}'
        status, out_headers, payload = response
        data = payload.encode() if isinstance(payload, str) else bytes(payload or b"")
        return int(status), {str(k): str(v) for k, v in dict(out_headers).items()}, data

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def concurrency(spec: str) -> dict[str, int]:
    """`LOCAL_LAMBDA_CONCURRENCY`: `N` for every function, then `name=N` overrides (the name as in
    `@app.lambda_function(name=...)`); `""` holds the default."""
    limits: dict[str, int] = {"": 16}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, value = part.rpartition("=")
        limits[name.strip()] = int(value)
        if limits[name.strip()] < 1:
            raise ValueError(f"{CONCURRENCY_ENV}: a concurrency must be at least 1 (got {part!r})")
    return limits


class LambdaEnvironments:
    """Every function's pool, the fork server they are forked from, and the stack's life pipe."""

    def __init__(self, names: list[str], endpoint: str | None = None) -> None:
        self.endpoint = endpoint or ""
        self._endpoint: AwsEndpoint | None = None
        self.closed = False
        self.timeout = float(os.environ.get(TIMEOUT_ENV) or DEFAULT_TIMEOUT)
        limits = concurrency(os.environ.get(CONCURRENCY_ENV) or DEFAULT_CONCURRENCY)
        self.pools = {name: FunctionPool(self, name, limits.get(name.rsplit("-", 1)[-1], limits[""]))
                      for name in names}
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._life_w: int | None = None

    def start(self) -> LambdaEnvironments:
        import sys

        from local.stack import ROOT

        # The stack keeps the only write end of the life pipe (os.pipe is not inherited by
        # anything else it starts): when this process ends, every worker reads EOF.
        if not self.endpoint:
            self._endpoint = AwsEndpoint().start()
            self.endpoint = self._endpoint.url
        life_r, self._life_w = os.pipe()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._server = subprocess.Popen(
                [sys.executable, "-m", "local.lambda_env", str(theirs.fileno()), str(life_r)],
                cwd=ROOT, pass_fds=(theirs.fileno(), life_r), env=dict(os.environ))
        finally:
            theirs.close()
            os.close(life_r)
        self._control = ours
        threading.Thread(target=self._reap, name="lambda-reaper", daemon=True).start()
        return self

    def environment(self) -> dict[str, str]:
        """What a deployed function gets: the stack's settings, AWS at the stack's moto server."""
        env = dict(os.environ)
        env["AWS_ENDPOINT_URL"] = self.endpoint
        return env

    def start_worker(self, name: str) -> _Worker:
        if self._control is None:
            raise function_error("Lambda.ServiceException", "the Lambda-like environments are not running")
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with self._lock:
                socket.send_fds(self._control, [json.dumps({"name": name, "environment": self.environment()})
                                                .encode()], [child.fileno()])
                reply = self._control.recv(4096)
        except OSError as exc:
            parent.close()
            raise function_error("Lambda.ServiceException", f"cannot start an environment: {exc!r}") from None
        finally:
            child.close()
        if not reply:
            parent.close()
            raise function_error("Lambda.ServiceException", "the fork server has exited")
        worker = _Worker(int(json.loads(reply)["pid"]), Connection(parent.detach()))
        with self._lock:
            self._workers = [w for w in self._workers if w.alive()] + [worker]
        return worker

    def proxy(self, name: str) -> Handler:
        pool = self.pools[name]

        def invoke(event: Any, context: Any) -> Any:
            return pool.invoke(event, context)

        invoke.__name__ = invoke.__qualname__ = f"lambda_proxy:{name}"
        return invoke

    def pids(self) -> list[int]:
        with self._lock:
            return [w.pid for w in self._workers if w.alive()]

    def _reap(self) -> None:
        idle = float(os.environ.get("LOCAL_LAMBDA_IDLE_SECONDS") or 60)
        while not self._stop.wait(min(30.0, idle)):
            for pool in self.pools.values():
                pool.reap(idle)

    def stop(self) -> None:
        """Stop every environment and the fork server; invokes still running get an error."""
        self.closed = True
        self._stop.set()
        if self._life_w is not None:
            with contextlib.suppress(OSError):
                os.close(self._life_w)  # every worker's watchdog reads EOF and exits, even mid-invoke
            self._life_w = None
        for pool in self.pools.values():
            pool.stop()
        with self._lock:
            workers, self._workers = self._workers, []
        deadline = time.monotonic() + 3
        for worker in workers:
            with contextlib.suppress(Exception):
                worker.conn.close()
            while worker.alive() and time.monotonic() < deadline:
                time.sleep(0.02)
            if worker.alive():
                worker.kill()
        if self._control is not None:
            with contextlib.suppress(OSError):
                self._control.close()  # the fork server reads EOF and exits
            self._control = None
        if self._endpoint is not None:
            self._endpoint.stop()
            self._endpoint = None
        if self._server is not None:
            try:
                self._server.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self._server.kill()
                self._server.wait()
            self._server = None


_current: LambdaEnvironments | None = None


def start(names: list[str], endpoint: str | None = None) -> dict[str, Handler]:
    """Start the environments of `names`; returns the proxy to register for each function.

    `endpoint`: the workers' AWS endpoint (default, or `LOCAL_LAMBDA_ENDPOINT=server`'s absence:
    the stack's in-process moto behind `AwsEndpoint`)."""
    global _current
    stop()
    _current = LambdaEnvironments(names, endpoint).start()
    return {name: _current.proxy(name) for name in names}


def current() -> LambdaEnvironments | None:
    return _current


def stop() -> None:
    global _current
    if _current is not None:
        _current.stop()
        _current = None


if __name__ == "__main__":
    import sys

    fork_server(int(sys.argv[1]), int(sys.argv[2]))
