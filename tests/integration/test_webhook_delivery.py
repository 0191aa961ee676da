"""One webhook delivery attempt against real receivers on 127.0.0.1, verified with the Standard
Webhooks algorithm written here from the specification (not with the code under test), and the
URL rules with a stub resolver (private addresses, DNS rebinding between check and connect)."""

from __future__ import annotations

import datetime as dt
import itertools
import time

import pytest

from chalicelib.webhooks import deliver, schedule, signing, urls
from tests.webhook_receiver import Receiver, spec_verify


def attempt(r: Receiver, secrets: list[str], body: bytes = b'{"id":"evt_1"}', timeout: float = 10) -> deliver.Outcome:
    target = urls.check(r.url, local=True)
    return deliver.post(target, body, signing.headers("evt_1", int(time.time()), body, secrets), timeout=timeout)


def test_a_delivery_is_signed_as_standard_webhooks_verifiers_expect(receiver: Receiver) -> None:
    old, new = signing.new_secret(), signing.new_secret()
    assert old.startswith("whsec_") and len(signing.secret_key(old)) == 32
    outcome = attempt(receiver, [new, old])  # after a rotation both sign
    assert outcome.succeeded and outcome.status == 200 and outcome.error is None
    headers, body = receiver.received[0]
    assert body == b'{"id":"evt_1"}' and headers["webhook-id"] == "evt_1"
    assert headers["content-type"] == "application/json"
    assert spec_verify(new, headers, body, time.time()) and spec_verify(old, headers, body, time.time())
    assert not spec_verify(signing.new_secret(), headers, body, time.time())
    assert not spec_verify(new, headers, body + b" ", time.time())
    assert not spec_verify(new, headers, body, time.time() + 3600)  # a replay an hour later


def test_failures_are_answers_not_exceptions(receiver: Receiver) -> None:
    secret = signing.new_secret()
    receiver.answer = (500, b"down", {})
    assert (attempt(receiver, [secret]).status, attempt(receiver, [secret]).succeeded) == (500, False)
    other = Receiver()
    try:
        receiver.answer = (302, b"", {"location": other.url})
        moved = attempt(receiver, [secret])
        assert (moved.status, moved.error) == (302, "redirects are not followed") and other.received == []
    finally:
        other.server.shutdown()
    receiver.answer = (200, b"x" * (8 * 1024 * 1024), {})  # an 8 MB answer: read 64 KB of it at most
    assert attempt(receiver, [secret]).succeeded
    receiver.answer, receiver.delay = (200, b"late", {}), 1.0
    slow = attempt(receiver, [secret], timeout=0.3)
    assert slow.status is None and slow.error is not None and "0.3" in slow.error and slow.seconds < 1.0
    closed = urls.Target("http", "127.0.0.1", 9, "/", "127.0.0.1")  # nothing listens on the discard port
    assert deliver.post(closed, b"{}", {}).status is None


def stub(addresses: dict[str, list[str]]) -> urls.Resolver:
    return lambda host, port: addresses.get(host, [])


@pytest.mark.parametrize(("url", "why"), [
    ("http://hooks.example.com/x", "https"),
    ("https://user:pw@hooks.example.com/x", "password"),
    ("https://intranet.example.com/x", "private"),  # 10.0.0.8
    ("https://metadata.example.com/x", "private"),  # 169.254.169.254
    ("https://mixed.example.com/x", "private"),  # one public, one private
    ("https://v6.example.com/x", "private"),  # ::1
    ("https://mapped.example.com/x", "private"),  # ::ffff:10.0.0.1
    ("https://127.0.0.1:8443/x", "private"),
    ("http://127.0.0.1:8000/x", "https"),  # loopback is for the local stack only
    ("https://nowhere.example.com/x", "resolve"),
    ("https:///x", "host"),
    ("https://hooks.example.com:99999/x", "port"),
])
def test_aws_stages_refuse_private_and_plain_urls(url: str, why: str) -> None:
    resolver = stub({"hooks.example.com": ["93.184.216.34"], "intranet.example.com": ["10.0.0.8"],
                     "metadata.example.com": ["169.254.169.254"], "mixed.example.com": ["93.184.216.34", "192.168.1.2"],
                     "v6.example.com": ["::1"], "mapped.example.com": ["::ffff:10.0.0.1"]})
    with pytest.raises(urls.UrlRefused, match=why):
        urls.check(url, local=False, resolve=resolver)


def test_public_https_is_allowed_everywhere_and_loopback_only_locally() -> None:
    resolver = stub({"hooks.example.com": ["93.184.216.34"]})
    target = urls.check("https://hooks.example.com/game?k=1", local=False, resolve=resolver)
    assert (target.host, target.port, target.path, target.address) == ("hooks.example.com", 443, "/game?k=1",
                                                                         "93.184.216.34")
    assert urls.check("http://localhost:9000/x", local=True).address == "127.0.0.1"
    assert urls.check("https://hooks.example.com/", local=True, resolve=resolver).address == "93.184.216.34"


def test_dns_rebinding_between_the_check_and_the_attempt_is_refused_at_the_attempt() -> None:
    """Saved when the name resolved to a public address; at the attempt it resolves to a private
    one: the attempt checks again and refuses, and what it connects to is the address it
    checked (Target.address), never a second lookup's."""
    answers = iter([["93.184.216.34"], ["10.1.2.3"]])
    resolver: urls.Resolver = lambda host, port: next(answers)  # noqa: E731
    assert urls.check("https://rebind.example.com/x", local=False, resolve=resolver).address == "93.184.216.34"
    with pytest.raises(urls.UrlRefused, match="private"):
        urls.check("https://rebind.example.com/x", local=False, resolve=resolver)


def test_the_backoff_spans_about_a_day_then_the_delivery_fails() -> None:
    at = dt.datetime(2026, 12, 3, 12, tzinfo=dt.UTC)
    times, attempts = [at], 1
    while (following := schedule.next_attempt(attempts, times[-1])) is not None:
        times.append(following)
        attempts += 1
    assert attempts == schedule.ATTEMPTS == 8
    assert [round((b - a).total_seconds()) for a, b in itertools.pairwise(times)] == [
        5, 300, 1800, 7200, 18000, 36000, 36000]
    assert dt.timedelta(hours=27) < times[-1] - at < dt.timedelta(hours=28)
