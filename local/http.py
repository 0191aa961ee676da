"""Chalice's local request handler, plus the console at /console/ and the API's error shape."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from chalice import Chalice
from chalice.local import ChaliceRequestHandler, LocalDevServer, LocalGatewayException, ThreadedHTTPServer

from local.provision import console_headers

ADMIN_DIR = Path(__file__).resolve().parent.parent / "admin"
# What CloudFront adds to every console file (infra/template.json), so that a console change
# the policy would refuse fails here first.
CONSOLE_HEADERS = console_headers()
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".html": "text/html; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png",
          ".json": "application/json", ".ico": "image/x-icon"}


class Readiness:
    """Whether the stack is ready to use: provisioned and, when seeded, the demo in place.

    The HTTP server starts before the demo is seeded (seeding goes through the API's own
    rules); until `ready` is set, every request but the console's files answers 503
    `ServiceUnavailable` with `Retry-After`, so a script that waits for `/health` never opens
    a half-seeded site.
    """

    def __init__(self) -> None:
        self.ready = False
        self.stage = "starting"


READINESS = Readiness()


class ConsoleAwareHandler(ChaliceRequestHandler):
    # The handler writes a response's headers and its body separately: with Nagle's algorithm
    # the body waited for the client's delayed ACK of the headers, about 40 ms on every call.
    disable_nagle_algorithm = True

    def _generic_handle(self) -> None:
        path = urlparse(self.path).path
        if not READINESS.ready and not path.startswith("/console"):
            self._drain()
            body = json.dumps({"error": {"type": "ServiceUnavailable",
                                         "message": f"the local stack is starting ({READINESS.stage})",
                                         "details": []}})
            self._send_http_response(503, {"Content-Type": "application/json", "Retry-After": "1"}, body)
            return
        if self.command in ("GET", "HEAD") and (path == "/" or path == "/console"):
            self._drain()
            self._send_http_response(302, {"Location": "/console/"}, None)
            return
        if self.command in ("GET", "HEAD") and path.startswith("/console/"):
            self._drain()
            self._serve_static(path[len("/console/"):])
            return
        super()._generic_handle()

    # The base class binds its do_* names to its own _generic_handle; rebind them to ours.
    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _generic_handle

    def _serve_static(self, relative: str) -> None:
        target = (ADMIN_DIR / unquote(relative or "index.html")).resolve()
        if ADMIN_DIR.resolve() not in target.parents or not target.is_file():
            body = json.dumps({"error": {"type": "NotFound", "message": "no such file", "details": []}})
            self._send_http_response(404, {"Content-Type": "application/json"}, body)
            return
        content = target.read_bytes()
        headers = {"Content-Type": _TYPES.get(target.suffix, "application/octet-stream"),
                   "Cache-Control": "no-cache", **CONSOLE_HEADERS}
        if self.command == "HEAD":
            headers["Content-Length"] = str(len(content))
            self.send_response(200)
            self._send_headers(headers)
            return
        self._send_http_response(200, headers, content)

    def _send_error_response(self, error: LocalGatewayException) -> None:
        """Chalice's gateway refusals (no route, wrong method) in the API's error shape."""
        code = error.CODE
        kind = {404: "NotFound", 403: "NotFound", 405: "MethodNotAllowed"}.get(code, "ValidationError")
        status = 404 if code == 403 else code  # API Gateway says 403 for an unknown path
        body = json.dumps({"error": {"type": kind, "message": "no such route", "details": []}})
        headers = {"Content-Type": "application/json"}
        if status == 405:
            headers["Allow"] = self._allowed()
        self._send_http_response(status, headers, body)

    def _method_not_allowed(self) -> None:
        self._drain()
        body = json.dumps({"error": {"type": "MethodNotAllowed", "message": f"{self.command} is not supported",
                                     "details": []}})
        self._send_http_response(405, {"Content-Type": "application/json", "Allow": self._allowed()}, body)

    def _send_http_response(self, code: int, headers: Any, body: str | bytes | None) -> None:
        """Chalice's own 405 (a method the route lacks) in the API's error shape, with `Allow`.

        On AWS, API Gateway refuses such a method before the function (GatewayResponses).
        """
        if code == 405 and body is not None and b"MethodNotAllowedError" in (
                body if isinstance(body, bytes) else body.encode()):
            body = json.dumps({"error": {"type": "MethodNotAllowed",
                                         "message": f"{self.command} is not supported here", "details": []}})
            headers = {**headers, "Content-Type": "application/json", "Allow": self._allowed()}
        super()._send_http_response(code, headers, body)

    def _drain(self) -> None:
        """Read a body nobody will look at: left unread it would be parsed as the next request line
        of this keep-alive connection (an HTML 400 for the client's next, valid request)."""
        try:
            length = int(self.headers.get("content-length") or 0)
        except ValueError:
            length = 0
        if length > 1024 * 1024:
            self.close_connection = True
            return
        if length > 0:
            self.rfile.read(length)

    def _allowed(self) -> str:
        """The `Allow` header of a 405: the methods the matched route has (RFC 9110)."""
        path = urlparse(self.path).path
        app = self.local_gateway._app_object
        try:
            route = self.local_gateway.event_converter._route_matcher.match_route(path).route
            methods = sorted(app.routes[route])
        except (ValueError, KeyError, AttributeError):
            methods = []
        return ", ".join(methods or ["GET"])

    # http.server answers a method it has no do_* for with an HTML 501; the API never 5xxes.
    do_TRACE = do_CONNECT = _method_not_allowed

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        if code == 501 and getattr(self, "command", None):
            self._method_not_allowed()
            return
        super().send_error(code, message, explain)

    def log_message(self, format: str, *args: object) -> None:
        """Request lines go through the app's structured logger instead of stderr."""


class BacklogServer(ThreadedHTTPServer):
    """socketserver listens with a backlog of 5: a burst of clients would see resets."""

    request_queue_size = 256

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (curl -f on a 503 while starting, a killed script) is not an
        error of the server: no traceback on the console for it."""
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


def serve(app_obj: Chalice, host: str, port: int) -> tuple[LocalDevServer, threading.Thread]:
    """Serve a Chalice app the way the local stack serves the API, on a thread of its own.

    bench/activities.py serves its no-op floor with this too, so the floor's HTTP hops cost
    what the API's do.
    """
    from chalice.config import Config
    from chalice.local import CustomLocalChalice, LocalChalice

    from local.stack import STAGE

    if not isinstance(app_obj, LocalChalice):
        CustomLocalChalice.__bases__ = (LocalChalice, app_obj.__class__)
        app_obj.__class__ = CustomLocalChalice
    config = Config.create(chalice_stage=STAGE, app_name=app_obj.app_name)
    server = LocalDevServer(app_obj, config, host, port, handler_cls=ConsoleAwareHandler, server_cls=BacklogServer)
    thread = threading.Thread(target=server.server.serve_forever, name=f"http-{app_obj.app_name}", daemon=True)
    thread.start()
    return server, thread
