"""The mechanic forms (console.md, "Mechanics"), in Debian's Chromium: one of each of the six kinds
created from an empty site through the console, by the accessible names of console.md, and then
used from the Log activity panel; the API's refusals shown beside their fields in words."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from tests.e2e.browser import (
    Site,
    browser,
    close_panel,
    console,
    ok,
    open_panel,
    page,
    pfield,
    rank_now,
    ready,
    sign_in,
    submit_and_wait,
    tab,
    unique,
)

pw = pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Locator, Page, expect  # noqa: E402

__all__ = ["browser", "page"]  # fixtures, used by name

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def create(pg: Page, site: Site, section: str, button: str) -> None:
    pg.goto(console(site.stack, f"#/sites/{site.id}/{section}"))
    pg.get_by_role("link", name=button).click()
    expect(pg.get_by_role("heading", level=1)).to_have_text(button)


def save(pg: Page, section_title: str) -> None:
    """Create, and land back on the section's list (the form is gone, nothing was refused)."""
    pg.get_by_role("button", name="Create", exact=True).click()
    expect(pg.get_by_role("heading", level=1)).to_have_text(section_title)


def group(scope: Page | Locator, name: str) -> Locator:
    return scope.get_by_role("group", name=name, exact=True)


def test_one_of_each_kind_from_an_empty_site_then_used_from_the_log_panel(page: Page, stack: Any) -> None:
    site = Site(unique("forms"), stack)
    ok(stack.api("POST", "/sites", {"id": site.id, "name": "Forms"}), 201)
    sign_in(page, stack, f"#/sites/{site.id}/point-types")

    # A point type users can spend.
    page.get_by_role("link", name="Create point type").click()
    page.get_by_label("ID", exact=True).fill("coins")
    page.get_by_label("Name", exact=True).fill("Coins")
    page.get_by_label("Redeemable", exact=True).check()
    save(page, "Point types")

    # A simple behaviour with a prize and a daily limit; a 400 first (no points), beside its field.
    create(page, site, "behaviours", "Create behaviour")
    page.get_by_label("Kind", exact=True).select_option("simple")
    page.get_by_label("ID", exact=True).fill("watch")
    page.get_by_label("Name", exact=True).fill("Watch a video")
    page.get_by_label("Verb", exact=True).fill("watch_video")
    prizes = group(page, "Point prizes")
    prizes.get_by_role("button", name="Add prize").click()
    prize = group(prizes, "Prize 1")
    expect(prize.get_by_label("Point type", exact=True)).to_have_value("coins")
    prize.get_by_label("Points", exact=True).fill("0")
    page.get_by_label("Period", exact=True).select_option("day")
    page.get_by_label("Max per period", exact=True).fill("5")
    page.get_by_role("button", name="Create", exact=True).click()
    points = prize.get_by_label("Points", exact=True)
    expect(points).to_have_attribute("aria-invalid", "true")
    error = prize.locator(".field-error:not([hidden])")
    expect(error).to_have_text(re.compile(r"greater than 0"))
    expect(error).not_to_contain_text("prizes.points")
    expect(points).to_be_focused()
    points.fill("10")
    save(page, "Behaviours")
    row = page.get_by_role("row", name=re.compile("Watch a video"))
    expect(row).to_contain_text("+10 Coins")
    expect(row).to_contain_text("5 per day")

    # A flexible behaviour: extends watch_video when the category is one of tv, news.
    create(page, site, "behaviours", "Create behaviour")
    page.get_by_label("Kind", exact=True).select_option("flexible")
    expect(page.get_by_label("Verb", exact=True)).to_be_hidden()
    page.get_by_label("ID", exact=True).fill("watch_tv")
    page.get_by_label("Name", exact=True).fill("Watch TV")
    page.get_by_label("Extends", exact=True).select_option("watch_video")
    condition = group(group(page, "Conditions"), "Condition 1")
    condition.get_by_label("Key", exact=True).fill("category")
    condition.get_by_label("Operator", exact=True).select_option("in")
    condition.get_by_label("Value", exact=True).fill("tv, news")
    group(page, "Point prizes").get_by_role("button", name="Add prize").click()
    group(page, "Prize 1").get_by_label("Points", exact=True).fill("5")
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/behaviours")) as req:
        save(page, "Behaviours")
    assert req.value.post_data_json["conditions"] == {"and": [{"key": "category", "op": "in", "value": ["tv", "news"]}]}

    # An achievement for watching twice, paying 50 coins.
    create(page, site, "rewards", "Create reward")
    page.get_by_label("Kind", exact=True).select_option("achievement")
    page.get_by_label("ID", exact=True).fill("binge")
    page.get_by_label("Name", exact=True).fill("Binge watcher")
    criterion = group(group(page, "Criteria"), "Criterion 1")
    criterion.get_by_label("Verb", exact=True).select_option("watch_video")
    criterion.get_by_label("Times", exact=True).fill("2")
    group(page, "Point prizes").get_by_role("button", name="Add prize").click()
    group(page, "Prize 1").get_by_label("Points", exact=True).fill("50")
    save(page, "Rewards")
    expect(page.get_by_role("row", name=re.compile("Binge watcher"))).to_contain_text("watch_video: 2 times")

    # A KPI on coins with two targets for everyone that overlap: TargetsOverlap beside the second.
    create(page, site, "kpis", "Create KPI")
    page.get_by_label("ID", exact=True).fill("coins_goal")
    page.get_by_label("Name", exact=True).fill("Coins earned")
    page.get_by_label("Tracks", exact=True).select_option("points")
    page.get_by_label("Point type", exact=True).select_option("coins")
    targets = group(page, "Targets")
    year = dt.date.today().year
    for i in (1, 2):
        targets.get_by_role("button", name="Add target").click()
        target = group(targets, f"Target {i}")
        target.get_by_label("Valid from", exact=True).fill(f"{year - 1}-01-01")
        target.get_by_label("Valid to", exact=True).fill(f"{year + 1}-12-31")
        target.get_by_label("Weekly", exact=True).fill("100")
    page.get_by_role("button", name="Create", exact=True).click()
    overlap = group(targets, "Target 2").locator(".field-error:not([hidden])")
    expect(overlap).to_contain_text("overlaps target 1")
    expect(overlap).not_to_contain_text("targets.0")
    targets.get_by_role("button", name="Remove target 2").click()
    save(page, "KPIs")

    # A coupon bought with 30 coins and redeemed in two steps.
    create(page, site, "coupons", "Create coupon")
    page.get_by_label("ID", exact=True).fill("mug")
    page.get_by_label("Name", exact=True).fill("Mug")
    page.get_by_label("Code type", exact=True).select_option("single")
    page.get_by_label("Code", exact=True).fill("MUG-2026")
    price = group(page, "Price")
    price.get_by_label("Point type", exact=True).select_option("coins")
    price.get_by_label("Points", exact=True).fill("30")
    page.get_by_label("Redemption", exact=True).select_option("twoStep")
    save(page, "Coupons")
    expect(page.get_by_role("row", name=re.compile("Mug"))).to_contain_text("30 Coins")

    # A leaderboard of coins, weekly and all time.
    create(page, site, "leaderboards", "Create leaderboard")
    page.get_by_label("ID", exact=True).fill("coins_board")
    page.get_by_label("Name", exact=True).fill("Coins board")
    page.get_by_label("Ranks by", exact=True).select_option("points")
    page.get_by_label("Point type", exact=True).select_option("coins")
    expect(group(page, "Periods").get_by_label("Weekly", exact=True)).to_be_checked()
    group(page, "Periods").get_by_label("Daily", exact=True).check()
    save(page, "Leaderboards")
    expect(page.get_by_role("row", name=re.compile("Coins board"))).to_contain_text("Daily, Weekly, All time")

    # Used from the Log activity panel: two TV videos unlock Binge watcher (2 x (10 + 5) + 50 coins).
    uuid = site.user(unique("viewer"))
    page.goto(console(stack, f"#/sites/{site.id}/users/{uuid}/activity"))
    ready(page)
    panel = open_panel(page, "Behaviour")
    for _ in range(2):
        pfield(panel, "Behaviour").select_option("watch_video")
        pfield(panel, "category").fill("tv")
        submit_and_wait(panel)
    expect(panel.locator(".panel-status")).to_contain_text("Binge watcher")
    close_panel(page)
    tab(page, "Rewards").click()
    expect(page.get_by_role("tabpanel", name="Rewards")).to_contain_text("Binge watcher")
    tab(page, "Points").click()
    coins = page.get_by_role("tabpanel", name="Points").locator("tr[data-point-id=coins]")
    expect(coins.locator("[data-figure=balance]")).to_have_text("80")

    # The coupon: bought (80 - 30 coins), then redeemed.
    panel = open_panel(page, "Coupon")
    pfield(panel, "Action").select_option("buy")
    pfield(panel, "Coupon").select_option("mug")
    submit_and_wait(panel)
    pfield(panel, "Action").select_option("redeem")
    pfield(panel, "Coupon").select_option("mug")
    submit_and_wait(panel)
    close_panel(page)
    tab(page, "Coupons").click()
    expect(page.get_by_role("tabpanel", name="Coupons").locator("tbody tr")).to_contain_text("redeemed")
    tab(page, "Points").click()
    expect(coins.locator("[data-figure=balance]")).to_have_text("50")

    # The KPI and the leaderboard count what the console configured.
    tab(page, "KPIs").click()
    kpis = page.get_by_role("tabpanel", name="KPIs")
    expect(kpis).to_contain_text("Coins earned")
    current = kpis.get_by_role("row", name=re.compile(r"\(current\)"))
    expect(current.locator("td")).to_have_text([re.compile("current"), "80", "100", "80%", "Not met"])
    rank_now(stack, site.id)
    page.goto(console(stack, f"#/sites/{site.id}/leaderboards/coins_board/standings"))
    expect(page.get_by_role("row", name=re.compile(re.escape(uuid)))).to_contain_text("80")


def test_editing_keeps_every_field_and_unsaved_edits_are_not_dropped(page: Page, stack: Any) -> None:
    """A mechanic saved through the API opens in its form with every field, saves back unchanged,
    and leaving the form with edits asks first."""
    site = Site(unique("edit"), stack)
    ok(stack.api("POST", "/sites", {"id": site.id, "name": "Edit"}), 201)
    ok(site.api("POST", "/point-types", {"id": "xp", "name": "Experience"}), 201)
    ok(site.api("POST", "/behaviours", {"id": "watch", "kind": "simple", "verb": "watch_video", "name": "Watch"}), 201)
    tv = {"id": "watch_tv", "kind": "flexible", "verb": "watch_video", "name": "Watch TV",
          "conditions": {"or": [{"key": "minutes", "op": "gte", "value": 10},
                                {"and": [{"key": "category", "op": "eq", "value": "5"},
                                         {"key": "live", "op": "eq", "value": True}]}]},
          "prizes": {"points": [{"pointId": "xp", "points": 5}], "addTags": ["viewer"], "removeTags": []},
          "limits": {"overall": 20, "periodic": {"period": "week", "max": 3}, "coolOffSeconds": 60},
          "message": "Well watched", "hint": "Watch TV", "hidden": True}
    ok(site.api("POST", "/behaviours", tv), 201)
    stored = ok(site.api("GET", "/behaviours/watch_tv"))
    sign_in(page, stack, f"#/sites/{site.id}/behaviours/watch_tv")
    expect(page.get_by_label("ID", exact=True)).to_be_disabled()
    nested = group(group(page, "Conditions"), "Group 2")
    expect(nested.get_by_label("Match", exact=True)).to_have_value("and")
    expect(group(nested, "Condition 1").get_by_label("Value", exact=True)).to_have_value('"5"')  # text, not the number 5
    with page.expect_request(lambda r: r.method == "PUT") as req:
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Behaviours")
    assert req.value.post_data_json == stored
    page.get_by_role("link", name="Edit Watch TV").click()
    page.get_by_label("Message", exact=True).fill("Changed")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Rewards").click()
    dialog = page.get_by_role("dialog", name="Discard unsaved changes?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.get_by_label("Message", exact=True)).to_have_value("Changed")
