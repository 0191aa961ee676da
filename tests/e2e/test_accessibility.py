"""axe-core over every screen of the console and every dialog it opens, at 1280 and at 375 px
(issue 18): no rule disabled, and no serious or critical violation. axe-core is the npm package
`make clients` installs (clients/typescript/package-lock.json), injected into each page."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.browser import ARGS, CHROMIUM, Site, console, ok, rank_now, sign_in, unique

pw = pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

AXE = Path(__file__).resolve().parents[2] / "clients" / "typescript" / "node_modules" / "axe-core" / "axe.min.js"
VIEWPORTS = {"1280": {"width": 1280, "height": 800}, "375": {"width": 375, "height": 740}}
BLOCKING = {"serious", "critical"}


@pytest.fixture(scope="module")
def site(stack: Any) -> Site:
    """A site with one mechanic of each kind, two users with some history and a ranked board."""
    s = Site("a11y-" + os.urandom(3).hex(), stack)
    ok(stack.api("POST", "/sites", {"id": s.id, "name": "Accessible", "timezone": "Europe/London"}), 201)
    ok(s.api("POST", "/point-types", {"id": "coins", "name": "Coins", "redeemable": True, "giftable": True,
                                      "bountiable": True}), 201)
    ok(s.api("POST", "/behaviours", {"id": "watch", "kind": "simple", "verb": "watch_video", "name": "Watch a video",
                                     "prizes": {"points": [{"pointId": "coins", "points": 5}]}}), 201)
    ok(s.api("POST", "/behaviours", {"id": "watch_tv", "kind": "flexible", "verb": "watch_video", "name": "Watch TV",
                                     "conditions": {"or": [{"key": "category", "op": "in", "value": ["tv"]},
                                                           {"and": [{"key": "minutes", "op": "gte", "value": 5}]}]}}), 201)
    ok(s.api("POST", "/rewards", {"id": "fan", "kind": "achievement", "name": "Fan",
                                  "criteria": [{"verb": "watch_video", "times": 1}]}), 201)
    ok(s.api("POST", "/kpis", {"id": "earned", "name": "Coins earned", "tracks": {"points": "coins"}}), 201)
    ok(s.api("POST", "/coupons", {"id": "mug", "name": "Mug", "codeType": "single", "code": "MUG",
                                  "price": {"pointId": "coins", "points": 5}}), 201)
    ok(s.api("POST", "/leaderboards", {"id": "board", "name": "Coins board", "ranksBy": {"points": "coins"},
                                       "periods": ["weekly", "allTime"]}), 201)
    for uuid in ("ada", "bob"):
        s.user(uuid, displayName=uuid.title(), tags=["beta"])
        s.give(uuid, "coins", 20)
        s.activity({"uuid": uuid, "attrs": {"type": "behaviour", "verb": "watch_video"}})
    s.activity({"uuid": "ada", "attrs": {"type": "coupon", "action": "buy", "couponId": "mug"}})
    rank_now(stack, s.id)
    return s


@pytest.fixture(scope="module", params=sorted(VIEWPORTS))
def page(request: pytest.FixtureRequest) -> Iterator[Page]:
    """One page per viewport; the CSP is bypassed only so that axe itself can be injected."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's Chromium is not installed (make chromium)")
    assert AXE.exists(), f"{AXE} is missing: `make clients` installs it"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        # Reduced motion: no fade is caught half-way (a table fading in fails the contrast rule).
        context = browser.new_context(viewport=VIEWPORTS[request.param], bypass_csp=True, reduced_motion="reduce")
        pg = context.new_page()
        pg.set_default_timeout(15_000)
        yield pg
        browser.close()


def violations(pg: Page) -> list[str]:
    """axe's serious and critical violations of the page as it is now (open dialogs included)."""
    if not pg.evaluate("typeof window.axe !== 'undefined'"):
        pg.add_script_tag(path=str(AXE))
    found = pg.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
            for v in found if v["impact"] in BLOCKING]


def settled(pg: Page) -> None:
    expect(pg.locator("main h1")).to_be_visible()
    expect(pg.locator("main .loading, main [aria-busy=true], main .skeleton-row, main .is-loading")).to_have_count(0)


def screens(site: Site) -> list[tuple[str, str]]:
    base = f"#/sites/{site.id}"
    tabs = ["overview", "activity", "points", "rewards", "kpis", "coupons", "leaderboards", "settings"]
    sections = ["users", "point-types", "behaviours", "rewards", "kpis", "coupons", "leaderboards", "api-keys",
                "settings"]
    return ([(f"the {s} screen", f"{base}/{s}") for s in sections]
            + [(f"the {t} tab", f"{base}/users/ada/{t}") for t in tabs]
            + [("the standings", f"{base}/leaderboards/board/standings")]
            + [(f"the form of {kind}/{item}", f"{base}/{kind}/{item}") for kind, item in EXAMPLES]
            + [(f"a new one of {kind}", f"{base}/{kind}/new") for kind, _ in EXAMPLES])


# One mechanic of each kind in the fixture (the flexible behaviour shows the condition builder).
EXAMPLES = [("point-types", "coins"), ("behaviours", "watch_tv"), ("rewards", "fan"), ("kpis", "earned"),
            ("coupons", "mug"), ("leaderboards", "board")]


def test_every_screen(page: Page, stack: Any, site: Site) -> None:
    page.goto(console(stack))
    expect(page.get_by_label("Token")).to_be_visible()
    found = {"sign-in": violations(page)}
    sign_in(page, stack, f"#/sites/{site.id}/users")
    for name, hash_ in screens(site):
        page.goto(console(stack, hash_))
        settled(page)
        found[name] = violations(page)
    assert not {k: v for k, v in found.items() if v}, json.dumps({k: v for k, v in found.items() if v}, indent=1)


def _dialog(name: str) -> Callable[[Page], Any]:
    return lambda pg: pg.get_by_role("dialog", name=name)


def test_every_dialog(page: Page, stack: Any, site: Site) -> None:
    # This viewport's page is shared with the screens' test: sign out, then load the console anew
    # (a hash change alone would keep the signed-in page that was booting meanwhile).
    page.evaluate("sessionStorage.clear()")
    page.goto("about:blank")
    sign_in(page, stack, f"#/sites/{site.id}/users")
    user = f"#/sites/{site.id}/users/ada/activity"
    opened: list[tuple[str, str, Callable[[Page], None], str]] = [
        ("Create user", f"#/sites/{site.id}/users", lambda pg: pg.get_by_role("button", name="Create user").click(),
         "Create user"),
        ("Create site", f"#/sites/{site.id}/users", lambda pg: pg.get_by_role("button", name="Create site").click(),
         "Create site"),
        ("Keyboard shortcuts", user, lambda pg: pg.keyboard.press("?"), "Keyboard shortcuts"),
        ("Edit user", user, lambda pg: pg.keyboard.press("e"), "Edit user"),
        ("Block", user, lambda pg: pg.keyboard.press("b"), "Block Ada?"),
        ("Reject activity", user, lambda pg: (pg.get_by_role("button", name="Actions").first.click(),
                                              pg.get_by_role("menuitem", name="Reject").click()), "Reject activity"),
        ("Create API key", f"#/sites/{site.id}/api-keys",
         lambda pg: pg.get_by_role("button", name="Create API key").click(), "Create API key"),
    ]
    for kind in ("Behaviour", "Coupon", "Point", "Gift", "Bounty"):
        opened.append((f"Log activity: {kind}", user, lambda pg, kind=kind: (
            pg.keyboard.press("l"), pg.get_by_role("dialog", name="Log activity").get_by_role(
                "tab", name=kind, exact=True).click()), "Log activity"))
    found: dict[str, list[str]] = {}
    for label, hash_, open_it, title in opened:
        page.goto(console(stack, hash_))
        settled(page)
        page.locator("main h1").focus()
        open_it(page)
        expect(_dialog(title)(page)).to_be_visible()
        found[label] = violations(page)
        page.keyboard.press("Escape")
        expect(_dialog(title)(page)).to_be_hidden()
    # The secret's dialog and the revoke confirmation, on a key made for them.
    page.goto(console(stack, f"#/sites/{site.id}/api-keys"))
    settled(page)
    page.get_by_role("button", name="Create API key").click()
    create = page.get_by_role("dialog", name="Create API key")
    name = unique("a11y")
    create.get_by_label("Name").fill(name)
    create.get_by_role("button", name="Create").click()
    expect(page.get_by_role("dialog", name="API key created")).to_be_visible()
    found["API key created"] = violations(page)
    page.get_by_role("button", name="Done").click()
    page.get_by_role("button", name=f"Revoke {name}").click()
    expect(page.get_by_role("dialog", name="Revoke API key")).to_be_visible()
    found["Revoke API key"] = violations(page)
    page.keyboard.press("Escape")
    assert not {k: v for k, v in found.items() if v}, json.dumps({k: v for k, v in found.items() if v}, indent=1)
