"""Where a webhook may deliver: the URL rules of api.md, checked when an endpoint is saved and
again at every attempt, against the addresses the attempt then connects to.

In AWS stages a URL is `https` and its host resolves only to public addresses (no private,
loopback, link-local, multicast, reserved or unspecified one: the delivery Lambda must not be a
way into the VPC, the metadata service or anyone's internal network). Locally, `http` and
`https` to `127.0.0.1` and `localhost` are allowed as well, for receivers on the developer's
machine. A name that resolves to a public address when the endpoint is saved and to a private
one later (DNS rebinding) is refused at the attempt: the attempt connects to the address it
checked, not to whatever a second lookup returns (`deliver.post`).
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

Resolver = Callable[[str, int], list[str]]
LOCAL_HOSTS = ("127.0.0.1", "localhost")
MAX_URL_CHARS = 2048


class UrlRefused(ValueError):
    """Why a URL may not receive webhooks, in words for the API's error."""


@dataclass(frozen=True)
class Target:
    """A checked destination: the URL's parts and the address to connect to."""

    scheme: str
    host: str
    port: int
    path: str  # with the query
    address: str


def system_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (IPv4 and IPv6)."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as err:
        raise UrlRefused(f"the host '{host}' does not resolve") from err
    return list(dict.fromkeys(str(info[4][0]) for info in found))


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
                or ip.is_unspecified or not ip.is_global)


def parse(url: str, *, local: bool) -> tuple[str, str, int, str]:
    """The scheme, host, port and path of an allowed URL's shape (no lookup yet)."""
    if len(url) > MAX_URL_CHARS:
        raise UrlRefused(f"must be at most {MAX_URL_CHARS} characters")
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "").lower()
    loopback = local and host in LOCAL_HOSTS
    if parts.scheme != "https" and not (loopback and parts.scheme == "http"):
        raise UrlRefused("must be an https URL" + (" (or http to 127.0.0.1 or localhost)" if local else ""))
    if not host:
        raise UrlRefused("must name a host")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("must not carry a user name or password")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as err:
        raise UrlRefused("has an invalid port") from err
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, host, port, path


def check(url: str, *, local: bool, resolve: Resolver = system_resolver) -> Target:
    """The URL as a target to connect to, or UrlRefused. Every address the host resolves to
    must be allowed (a name with one public and one private address is refused: which one a
    client would use is not ours to choose)."""
    scheme, host, port, path = parse(url, local=local)
    if local and host in LOCAL_HOSTS:
        return Target(scheme, host, port, path, "127.0.0.1")
    addresses = [host] if _is_address(host) else resolve(host, port)
    if not addresses:
        raise UrlRefused(f"the host '{host}' does not resolve")
    refused = [a for a in addresses if not _public(a)]
    if refused:
        raise UrlRefused(f"the host '{host}' resolves to a private, loopback or reserved address ({refused[0]})")
    return Target(scheme, host, port, path, addresses[0])


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
