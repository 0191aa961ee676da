"""A webhook receiver on 127.0.0.1 and the Standard Webhooks verification, written here from the
specification (standardwebhooks.com), not taken from the code under test."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def spec_verify(secret: str, headers: dict[str, str], body: bytes, now: float, tolerance: int = 300) -> bool:
    """standardwebhooks.com: HMAC-SHA256 with the base64-decoded secret (after `whsec_`) over
    `{id}.{timestamp}.{body}`; any of the space-separated `v1,` signatures; a timestamp within
    the tolerance."""
    message_id, timestamp = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(now - int(timestamp)) > tolerance:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = base64.b64encode(hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest())
    return any(hmac.compare_digest(expected, part.split(",", 1)[1].encode())
               for part in headers["webhook-signature"].split(" ") if part.startswith("v1,"))


class Receiver:
    """An HTTP server on 127.0.0.1 answering each POST as `answer` says, keeping what it got."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.answer: Any = (200, b"ok", {})
        self.delay = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                time.sleep(receiver.delay)
                status, payload, extra = receiver.answer
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks?x=1"
