"""The console beyond the details page (console.md, "The rest of the console"), in Debian's Chromium:
the `Main` navigation and its deep links, the mechanics lists, API keys (created, used, revoked),
site settings, Create site and leaderboard standings, by their accessible names."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest

from tests.e2e.browser import Site, browser, console, ok, page, rank_now, sign_in, unique

pw = pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Browser, Page, expect  # noqa: E402

__all__ = ["browser", "page"]  # fixtures, used by name

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

SECTIONS = [("Users", "users"), ("Point types", "point-types"), ("Behaviours", "behaviours"), ("Rewards", "rewards"),
            ("KPIs", "kpis"), ("Coupons", "coupons"), ("Leaderboards", "leaderboards"), ("API keys", "api-keys"),
            ("Site settings", "settings")]
RANKED = 30  # users with points: more than one page of standings (25)


@pytest.fixture(scope="module")
def site(stack: Any) -> Site:
    """A site with one mechanic of each kind and RANKED users with distinct XP."""
    s = Site("nav-" + os.urandom(3).hex(), stack)
    ok(stack.api("POST", "/sites", {"id": s.id, "name": "Sections", "timezone": "Europe/Paris"}), 201)
    ok(s.api("POST", "/point-types", {"id": "xp", "name": "Experience"}), 201)
    ok(s.api("POST", "/point-types", {"id": "coins", "name": "Coins", "redeemable": True, "giftable": True}), 201)
    ok(s.api("POST", "/behaviours", {"id": "watch", "kind": "simple", "verb": "watch_video", "name": "Watch a video",
                                     "prizes": {"points": [{"pointId": "xp", "points": 10}]},
                                     "limits": {"periodic": {"period": "day", "max": 5}}}), 201)
    ok(s.api("POST", "/rewards", {"id": "binge", "kind": "achievement", "name": "Binge watcher",
                                  "criteria": [{"verb": "watch_video", "times": 3}]}), 201)
    ok(s.api("POST", "/kpis", {"id": "xp_goal", "name": "XP earned", "tracks": {"points": "xp"}}), 201)
    ok(s.api("POST", "/coupons", {"id": "mug", "name": "Mug", "codeType": "single", "code": "MUG",
                                  "price": {"pointId": "coins", "points": 30}}), 201)
    ok(s.api("POST", "/leaderboards", {"id": "xp_board", "name": "XP board", "ranksBy": {"points": "xp"},
                                       "periods": ["weekly", "allTime"]}), 201)
    for i in range(RANKED):
        uuid = s.user(f"player-{i:02d}", displayName=f"Player {i:02d}")
        s.give(uuid, "xp", 100 + i)  # player-29 leads with 129, player-00 is last with 100
    rank_now(stack, s.id)  # as the schedule would, a minute later
    return s


def section_link(pg: Page, label: str) -> Any:
    return pg.get_by_role("navigation", name="Main").get_by_role("link", name=label, exact=True)


def heading(pg: Page) -> Any:
    return pg.get_by_role("heading", level=1)


def test_main_navigation_reaches_every_section_and_its_deep_link_survives_a_reload(
        page: Page, stack: Any, site: Site) -> None:
    sign_in(page, stack, f"#/sites/{site.id}/users")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link")).to_have_text([label for label, _ in SECTIONS])
    for label, section in SECTIONS[1:] + SECTIONS[:1]:  # from Users through every other section and back
        section_link(page, label).click()
        expect(heading(page)).to_have_text(label)
        assert page.url.endswith(f"#/sites/{site.id}/{section}")
        expect(section_link(page, label)).to_have_attribute("aria-current", "page")
        expect(page.locator("h1")).to_be_focused()  # focus follows navigation to the new heading
    page.goto(console(stack, f"#/sites/{site.id}/behaviours"))
    page.reload()
    expect(heading(page)).to_have_text("Behaviours")
    expect(page.get_by_role("row", name=re.compile("Watch a video"))).to_contain_text("+10 Experience")


def test_each_mechanics_list_names_its_items_and_the_fields_that_matter(page: Page, stack: Any, site: Site) -> None:
    expected = {
        "point-types": ("Coins", ["coins", "Redeemable", "Giftable", "never"]),
        "behaviours": ("Watch a video", ["Simple", "watch_video", "+10 Experience", "5 per day"]),
        "rewards": ("Binge watcher", ["Achievement", "watch_video: 3 times"]),
        "kpis": ("XP earned", ["points: Experience", "none"]),
        "coupons": ("Mug", ["30 Coins", "one shared code", "one step", "Active"]),
        "leaderboards": ("XP board", ["points: Experience", "Weekly, All time", "Standings"]),
    }
    sign_in(page, stack, f"#/sites/{site.id}/users")
    for section, (name, cells) in expected.items():
        page.goto(console(stack, f"#/sites/{site.id}/{section}"))
        row = page.get_by_role("row", name=re.compile(re.escape(name)))
        expect(row).to_have_count(1)
        for text in cells:
            expect(row).to_contain_text(text)


def test_an_empty_site_says_what_to_create_first(page: Page, stack: Any) -> None:
    empty_site = unique("empty")
    ok(stack.api("POST", "/sites", {"id": empty_site, "name": "Empty"}), 201)
    sign_in(page, stack, f"#/sites/{empty_site}/point-types")
    expect(page.get_by_text("No point types on this site yet.")).to_contain_text("every other mechanic refers to them")
    section_link(page, "Behaviours").click()
    expect(page.get_by_text("No behaviours on this site yet.")).to_contain_text("create a point type first")


def test_a_viewer_key_is_shown_once_sees_everything_read_only_and_is_signed_out_when_revoked(
        page: Page, browser: Browser, stack: Any, site: Site) -> None:
    name = unique("viewer")
    sign_in(page, stack, f"#/sites/{site.id}/api-keys")
    page.get_by_role("button", name="Create API key").click()
    create = page.get_by_role("dialog", name="Create API key")
    create.get_by_label("Name").fill(name)
    create.get_by_label("Role").select_option("viewer")
    create.get_by_role("button", name="Create").click()
    shown = page.get_by_role("dialog", name="API key created")
    expect(shown).to_contain_text("will not be shown again")
    expect(shown.get_by_role("button", name="Copy")).to_be_visible()
    secret = shown.get_by_label("Secret").input_value()
    assert len(secret) >= 20
    shown.get_by_role("button", name="Done").click()
    row = page.get_by_role("row", name=re.compile(re.escape(name)))
    expect(row).to_contain_text("viewer")
    expect(row).to_contain_text("operator")  # Created by
    assert secret not in page.content(), "the secret is shown once, never in the list"

    viewer_context = browser.new_context(viewport={"width": 1280, "height": 800})
    viewer = viewer_context.new_page()
    viewer.set_default_timeout(10_000)
    try:
        sign_in(viewer, stack, f"#/sites/{site.id}/users", token=secret)
        expect(viewer.locator(".role-pill")).to_have_text("viewer")
        expect(section_link(viewer, "Users")).to_be_visible()
        expect(section_link(viewer, "API keys")).to_have_count(0)  # admin-only, not offered
        expect(viewer.get_by_role("link", name="View Player 00")).to_be_visible()
        expect(viewer.get_by_role("button", name="Create user")).to_have_count(0)
        viewer.get_by_role("link", name="View Player 00").click()
        expect(viewer.get_by_role("tab", name="Overview", exact=True)).to_be_visible()
        for action in ("Edit", "Log activity", "Block"):
            expect(viewer.get_by_role("button", name=action, exact=True)).to_have_count(0)
        section_link(viewer, "Site settings").click()
        expect(viewer.get_by_label("Time zone")).to_be_disabled()
        expect(viewer.get_by_role("button", name="Save")).to_have_count(0)
        section_link(viewer, "Coupons").click()
        expect(viewer.get_by_role("row", name=re.compile("Mug"))).to_be_visible()
        section_link(viewer, "Point types").click()
        expect(viewer.get_by_role("link", name="Create point type")).to_have_count(0)
        viewer.get_by_role("link", name="View Coins").click()
        expect(viewer.get_by_label("Name")).to_be_disabled()
        expect(viewer.get_by_label("Redeemable")).to_be_disabled()
        for action in ("Save", "Delete"):
            expect(viewer.get_by_role("button", name=action)).to_have_count(0)

        # Revoked by the admin: the viewer's next request is refused and the console signs out.
        page.get_by_role("button", name=f"Revoke {name}").click()
        confirm = page.get_by_role("dialog", name="Revoke API key")
        expect(confirm).to_contain_text(name)
        confirm.get_by_role("button", name="Revoke").click()
        expect(confirm).to_be_hidden()
        expect(page.get_by_role("row", name=re.compile(re.escape(name)))).to_have_count(0)
        section_link(viewer, "Users").click()
        expect(viewer.get_by_label("Token")).to_be_visible()
        expect(viewer.get_by_role("alert")).to_contain_text("Unauthorized")
    finally:
        viewer_context.close()


def test_an_admin_changes_the_sites_time_zone(page: Page, stack: Any) -> None:
    site_id = unique("tz")
    ok(stack.api("POST", "/sites", {"id": site_id, "name": "Zones", "timezone": "UTC"}), 201)
    sign_in(page, stack, f"#/sites/{site_id}/settings")
    expect(page.get_by_label("Time zone")).to_have_value("UTC")
    page.get_by_label("Time zone").select_option("Asia/Tokyo")
    page.get_by_label("Week starts on").select_option("sunday")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
    answer = ok(stack.api("GET", f"/sites/{site_id}"))
    assert (answer["timezone"], answer["weekStart"]) == ("Asia/Tokyo", "sunday")
    section_link(page, "Users").click()
    expect(page.locator(".page-subtitle")).to_contain_text("times in Asia/Tokyo")
    # A refused value is shown beside its field, in words.
    section_link(page, "Site settings").click()
    page.get_by_label("Name").fill("")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".field-error:not([hidden])")).to_have_text("must not be empty")
    expect(page.get_by_label("Name")).to_have_attribute("aria-invalid", "true")


def test_the_operator_creates_a_site_and_lands_on_it(page: Page, stack: Any, site: Site) -> None:
    sign_in(page, stack, f"#/sites/{site.id}/users")
    page.get_by_role("button", name="Create site").click()
    dialog = page.get_by_role("dialog", name="Create site")
    dialog.get_by_label("ID").fill("Not an id")
    dialog.get_by_label("Name").fill("Created here")
    dialog.get_by_role("button", name="Create").click()
    expect(dialog.locator(".field-error:not([hidden])")).to_contain_text("lowercase letters, digits or '-'")
    new_id = unique("made")
    dialog.get_by_label("ID").fill(new_id)
    dialog.get_by_label("Time zone").select_option("America/New_York")
    dialog.get_by_role("button", name="Create").click()
    expect(dialog).to_be_hidden()
    expect(heading(page)).to_have_text("Users")
    assert page.url.endswith(f"#/sites/{new_id}/users")
    assert ok(stack.api("GET", f"/sites/{new_id}"))["timezone"] == "America/New_York"


def test_standings_page_through_a_period_and_link_to_each_user(page: Page, stack: Any, site: Site) -> None:
    sign_in(page, stack, f"#/sites/{site.id}/leaderboards")
    page.get_by_role("link", name="Standings of XP board").click()
    expect(heading(page)).to_have_text("Standings: XP board")
    expect(page.get_by_label("Period")).to_have_value("weekly")
    rows = page.get_by_role("table", name="Standings").locator("tbody tr")
    expect(rows).to_have_count(25)
    expect(rows.first).to_contain_text("#1")
    expect(rows.first).to_contain_text("Player 29")
    expect(rows.first).to_contain_text("129")
    page.get_by_role("button", name="Next →").click()
    expect(rows).to_have_count(RANKED - 25)
    expect(rows.first).to_contain_text("#26")
    expect(page.get_by_text("Page 2")).to_be_visible()
    page.reload()  # the page is in the URL
    expect(rows.first).to_contain_text("#26")
    expect(page.get_by_role("button", name="Next →")).to_be_disabled()
    page.get_by_role("button", name="← Previous").click()
    expect(rows.first).to_contain_text("#1")
    page.get_by_label("Period").select_option("allTime")
    assert "period=allTime" in page.url
    expect(rows.first).to_contain_text("Player 29")
    page.get_by_role("link", name="Player 29").click()
    expect(heading(page)).to_have_text("Player 29")


def test_the_console_is_served_with_cloudfronts_own_security_headers_and_they_hold(
        page: Page, browser: Browser, stack: Any, site: Site) -> None:
    """The Content-Security-Policy of infra/template.json (CloudFront's response headers policy) is
    the one the local stack sends: an injected inline script does not run, users' https pictures
    and the generated avatars still show, and no screen needs anything it refuses (the `page`
    fixture fails a test on any refusal)."""
    import json
    import urllib.request

    from local.provision import REGION, TEMPLATE

    policy = json.loads(TEMPLATE.read_text())["Resources"]["ConsoleHeadersPolicy"]["Properties"][
        "ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    expected = policy["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"].replace("${AWS::Region}", REGION)
    with urllib.request.urlopen(console(stack), timeout=30) as res:
        headers = res.headers
    assert headers["Content-Security-Policy"] == expected
    assert "script-src 'self';" in expected and "img-src 'self' https: data:;" in expected
    assert (headers["X-Content-Type-Options"], headers["X-Frame-Options"], headers["Referrer-Policy"]) == (
        "nosniff", "DENY", "no-referrer")

    pictured = site.user(unique("pictured"), pictureUrl="https://images.example.com/p.png", displayName="Pic Tured")
    sign_in(page, stack, f"#/sites/{site.id}/users/{pictured}/overview")
    expect(page.locator("main h1")).to_have_text("Pic Tured")
    probe = browser.new_context()  # a page of its own: the refusal below is the point, not a fault
    try:
        injected = probe.new_page()
        injected.goto(console(stack))
        ran = injected.evaluate("""() => { const s = document.createElement('script'); s.textContent = 'window.__ran = 1';
            document.body.append(s); return window.__ran === 1; }""")
        assert not ran, "an inline script ran: the policy is not applied"
    finally:
        probe.close()
    # The https picture is allowed (it cannot load on this closed network, so the generated avatar
    # takes its place); the avatar's colour comes through the CSSOM, which the policy allows.
    expect(page.locator(".hero .avatar")).to_have_attribute("data-placeholder", "true")
    colour = page.evaluate("getComputedStyle(document.querySelector('.hero .avatar')).backgroundColor")
    assert colour not in ("", "transparent", "rgba(0, 0, 0, 0)"), colour


def test_a_point_type_is_created_edited_and_deleted_through_the_console(page: Page, stack: Any) -> None:
    """From an empty site: a 400 beside its field in words, a 409 AlreadyExists in words, an
    edit, and a delete refused (409 ReferencedBy, the referrer as a link) until nothing refers to it."""
    site_id = unique("forms")
    ok(stack.api("POST", "/sites", {"id": site_id, "name": "Forms"}), 201)
    sign_in(page, stack, f"#/sites/{site_id}/point-types")
    page.get_by_role("link", name="Create point type").click()
    expect(heading(page)).to_have_text("Create point type")
    page.get_by_label("ID").fill("Bad Id")
    page.get_by_label("Name").fill("Coins")
    page.get_by_role("button", name="Create", exact=True).click()
    expect(page.locator(".field-error:not([hidden])")).to_contain_text("lowercase letters, digits")
    expect(page.get_by_label("ID")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("ID").fill("coins")
    page.get_by_label("Redeemable").check()
    expect(page.get_by_label("Expires after days")).to_be_hidden()
    page.get_by_label("Expirable").check()
    page.get_by_label("Expires after days").fill("30")
    page.get_by_role("button", name="Create", exact=True).click()
    expect(heading(page)).to_have_text("Point types")
    row = page.get_by_role("row", name=re.compile("Coins"))
    expect(row).to_contain_text("Redeemable")
    expect(row).to_contain_text("after 30 days")
    stored = ok(stack.api("GET", f"/sites/{site_id}/point-types/coins"))
    assert (stored["redeemable"], stored["expirable"], stored["expiresAfterDays"]) == (True, True, 30)

    page.get_by_role("link", name="Create point type").click()
    page.get_by_label("ID").fill("coins")
    page.get_by_label("Name").fill("Again")
    page.get_by_role("button", name="Create", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("There is already a point type “coins”.")

    section_link(page, "Point types").click()  # leaving the refused form's edits asks first
    page.get_by_role("dialog", name="Discard unsaved changes?").get_by_role("button", name="Discard").click()
    page.get_by_role("link", name="Edit Coins").click()
    expect(page.get_by_label("ID")).to_be_disabled()
    page.get_by_label("Name").fill("Gold coins")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("row", name=re.compile("Gold coins"))).to_have_count(1)

    ok(stack.api("POST", f"/sites/{site_id}/behaviours", {"id": "watch", "kind": "simple", "verb": "watch",
                                                          "name": "Watch",
                                                          "prizes": {"points": [{"pointId": "coins", "points": 1}]}}), 201)
    page.get_by_role("link", name="Edit Gold coins").click()
    page.get_by_role("button", name="Delete").click()
    confirm = page.get_by_role("dialog", name="Delete Gold coins")
    confirm.get_by_role("button", name="Delete").click()
    expect(confirm.get_by_role("alert")).to_contain_text("Gold coins is still used by:")
    confirm.get_by_role("link", name="Behaviour watch").click()
    expect(heading(page)).to_have_text("Watch")
    assert page.url.endswith(f"#/sites/{site_id}/behaviours/watch")
    ok(stack.api("DELETE", f"/sites/{site_id}/behaviours/watch"))
    page.goto(console(stack, f"#/sites/{site_id}/point-types/coins"))
    page.get_by_role("button", name="Delete").click()
    page.get_by_role("dialog", name="Delete Gold coins").get_by_role("button", name="Delete").click()
    expect(heading(page)).to_have_text("Point types")
    expect(page.get_by_text("No point types on this site yet.")).to_be_visible()
