"""One delivery attempt: an HTTP POST to a checked address, within the contract's 10 s.

Not an open proxy: the connection goes to the address `urls.check` allowed (TLS still verifies
the URL's host name), redirects are not followed (a 3xx is an answer, and a failure), and at
most MAX_RESPONSE_BYTES of the answer are read.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from dataclasses import dataclass

from chalicelib.webhooks.urls import Target

TIMEOUT_SECONDS = 10.0
MAX_RESPONSE_BYTES = 64 * 1024


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: the status code (None when no answer came) and why it failed."""

    status: int | None
    error: str | None
    seconds: float

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a fixed address, the certificate checked against the URL's host."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self._address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


def post(target: Target, body: bytes, headers: dict[str, str], timeout: float = TIMEOUT_SECONDS) -> Outcome:
    """POST `body` to `target`; never raises for what the receiver does (or fails to do)."""
    started = time.monotonic()
    connection: http.client.HTTPConnection = (
        _PinnedHTTPS(target, timeout) if target.scheme == "https" else _PinnedHTTP(target, timeout))
    try:
        connection.request("POST", target.path, body=body,
                           headers={**headers, "user-agent": "gamification-webhooks/1", "content-length": str(len(body))})
        response = connection.getresponse()
        response.read(MAX_RESPONSE_BYTES)  # drained up to the bound, then the connection is closed
        status = response.status
    except TimeoutError:
        return Outcome(None, f"no answer within {timeout:g} s", time.monotonic() - started)
    except (OSError, http.client.HTTPException) as err:
        return Outcome(None, f"{type(err).__name__}: {err}"[:300], time.monotonic() - started)
    finally:
        connection.close()
    seconds = time.monotonic() - started
    if seconds > timeout:
        return Outcome(status, f"answered after {seconds:.1f} s (limit {timeout:g} s)", seconds)
    if 300 <= status < 400:
        return Outcome(status, "redirects are not followed", seconds)
    return Outcome(status, None if 200 <= status < 300 else f"answered {status}", seconds)
