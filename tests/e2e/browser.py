"""What the browser tests share: Debian's Chromium through Playwright, a page per test that fails
on any uncaught error, signing in, and a site's API helpers for setting up data."""

from __future__ import annotations

import os
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

pw = pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
SLOW = 30_000  # ms: activity processing through the local workflow


# ---------------------------------------------------------------- API set-up helpers
def ok(answer: tuple[int, Any], *codes: int) -> Any:
    status, body = answer
    assert status in (codes or (200, 201, 202, 204)), f"{status}: {body}"
    return body


def rank_now(stack: Any, site: str) -> Any:
    """Run the rank job for a site now, as the schedule would a minute later. A pass that meets
    the scheduled run on a board leaves it (`busy`): run again once that one has ended."""
    deadline = time.monotonic() + 30
    while True:
        done = ok(stack.api("POST", "/jobs/ranks/run", {"site": site}))
        if not done.get("busy") or time.monotonic() > deadline:
            assert not done.get("busy"), done
            return done
        time.sleep(0.2)


def q(s: str) -> str:
    return urllib.parse.quote(s, safe="")


@dataclass
class Site:
    id: str
    stack: Any

    def api(self, method: str, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        return self.stack.api(method, f"/sites/{self.id}{path}", body, **kw)

    def user(self, uuid: str, **fields: Any) -> str:
        body = {"uuid": uuid, "firstName": uuid.split("-")[0].title(), "lastName": "Tester",
                "displayName": fields.pop("displayName", uuid), "email": f"{uuid}@example.com", **fields}
        ok(self.api("POST", "/users", body), 201)
        return uuid

    def activity(self, body: dict[str, Any]) -> dict[str, Any]:
        """Submit an activity through the API and wait until it is processed."""
        accepted = ok(self.api("POST", "/activities", body), 202)
        deadline = time.monotonic() + SLOW / 1000
        while time.monotonic() < deadline:
            act = ok(self.api("GET", f"/activities/{accepted['id']}"))
            if act["status"] in ("SUCCEEDED", "FAILED", "REJECTED"):
                return act
            time.sleep(0.1)
        raise AssertionError(f"activity {accepted['id']} not processed in time")

    def give(self, uuid: str, point_id: str, points: int) -> None:
        act = self.activity({"uuid": uuid, "attrs": {"type": "point", "action": "increment",
                                                     "points": [{"pointId": point_id, "points": points}]}})
        assert act["status"] == "SUCCEEDED", act


_counter = iter(range(1_000_000))


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_counter)}-{os.urandom(2).hex()}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's Chromium is not installed (make chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(f"{e}\n{e.stack}"))
    # Whatever the console's Content-Security-Policy refuses (Chromium reports it on the console).
    pg.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    yield pg
    context.close()
    assert not errors, f"uncaught errors or refused content in the page: {errors}"


def console(stack: Any, hash_: str = "") -> str:
    return f"{stack.url}/console/{hash_}"


def sign_in(page: Page, stack: Any, hash_: str = "", token: str | None = None) -> None:
    page.goto(console(stack, hash_))
    page.get_by_label("Token").fill(token or stack.token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def pixel(pg: Page, x: float, y: float) -> tuple[int, int, int]:
    """The colour the page shows at (x, y), read from a one-pixel screenshot (what a person sees, top
    layer and backdrops included: hit-testing would skip an inert or click-through element)."""
    import struct
    import zlib

    png = pg.screenshot(clip={"x": x, "y": y, "width": 1, "height": 1})
    pos, data = 8, b""
    while pos < len(png):
        size, kind = struct.unpack(">I4s", png[pos:pos + 8])
        if kind == b"IDAT":
            data += png[pos + 8:pos + 8 + size]
        pos += 12 + size
    raw = zlib.decompress(data)  # one row: the filter byte, then the pixel (any filter leaves one pixel as is)
    return raw[1], raw[2], raw[3]


# ---------------------------------------------------------------- the details page and its Log activity panel
def ready(page: Page) -> None:
    """The details page is interactive: tabs shown, summary loaded, the current tab rendered."""
    expect(page.get_by_role("tab", name="Overview", exact=True)).to_be_visible()
    expect(page.locator(".stat-count").first).not_to_have_text("—")
    expect(page.locator(".tab-panel:not([hidden]) .tab-body")).to_have_count(1)
    expect(page.locator(".tab-panel:not([hidden]) .tab-body")).not_to_have_attribute("aria-busy", "true")


def open_user(page: Page, stack: Any, site: Site, uuid: str, tab: str = "overview") -> None:
    sign_in(page, stack, f"#/sites/{site.id}/users/{q(uuid)}/{tab}")
    ready(page)


def tab(page: Page, name: str) -> Any:
    return page.get_by_role("tab", name=name, exact=True)


def panel_of(page: Page) -> Any:
    return page.get_by_role("dialog", name="Log activity")


def pfield(panel: Any, label: str) -> Any:
    """A field of the panel's visible activity form (the hidden forms have fields of the same name)."""
    return panel.locator("[role=tabpanel]:not([hidden])").get_by_label(label, exact=True)


def open_panel(page: Page, kind: str) -> Any:
    page.keyboard.press("l")
    panel = panel_of(page)
    expect(panel).to_be_visible()
    panel.get_by_role("tab", name=kind, exact=True).click()
    expect(panel.get_by_role("tab", name=kind, exact=True)).to_have_attribute("aria-selected", "true")
    return panel


def poll_count(panel: Any) -> int:
    return int(panel.get_by_role("region", name="Request log").locator("li[data-label=POLL]").count())


def wait_final(panel: Any, before: int) -> Any:
    """Wait until a submission made after `before` POLL entries has left `pending`."""
    region = panel.get_by_role("region", name="Request log")
    polls = region.locator("li[data-label=POLL]")
    expect(polls).to_have_count(before + 1, timeout=SLOW)
    expect(polls.first).not_to_have_attribute("data-status", "pending", timeout=SLOW)
    return region


def submit_and_wait(panel: Any) -> Any:
    """Click Submit and wait until this submission's POLL entry leaves `pending`; return the log region."""
    region = panel.get_by_role("region", name="Request log")
    polls = region.locator("li[data-label=POLL]")
    before = polls.count()
    panel.get_by_role("button", name="Submit").click()
    return wait_final(panel, before)


def close_panel(page: Page) -> None:
    page.keyboard.press("Escape")
    expect(panel_of(page)).to_be_hidden()
