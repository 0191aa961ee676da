"""Write PNGs of the console to docs/screenshots/: the user table, each tab, the open Log activity
panel, and the screens beyond the details page (each mechanics list, API keys, site settings and a
leaderboard's standings).

Talks to a running stack (`make run`): reads PORT (default 8000) and LOCAL_TOKEN, and optionally
SITE (default `demo`) and USER_UUID (default: the first user of the table). Uses Debian's Chromium.

    PORT=8000 LOCAL_TOKEN=... .venv/bin/python tools/screenshots.py [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.parse
import urllib.request
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
TABS = ["overview", "activity", "points", "rewards", "kpis", "coupons", "leaderboards", "settings"]
SECTIONS = ["point-types", "behaviours", "rewards", "kpis", "coupons", "leaderboards", "api-keys", "settings"]


def api(base: str, token: str, path: str) -> object:
    req = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=30) as res:
        return json.loads(res.read())


def form_examples(base: str, token: str, site: str) -> list[tuple[str, str]]:
    """A mechanic of each of these kinds to show in its form: a flexible behaviour (the condition
    builder) rather than a simple one, and a KPI with targets, where the site has them."""
    found = []
    for kind, best in (("behaviours", lambda m: m.get("kind") == "flexible"), ("rewards", lambda m: True),
                       ("kpis", lambda m: bool(m.get("targets"))), ("coupons", lambda m: True)):
        listed = api(base, token, f"/sites/{urllib.parse.quote(site, safe='')}/{kind}?limit=100")
        items = listed.get("items", []) if isinstance(listed, dict) else []
        pick = next((m for m in items if best(m)), items[0] if items else None)
        if pick:
            found.append((kind, pick["id"]))
    return found


def settle(page: Page) -> None:
    """Wait until nothing is loading (no busy regions, no spinners) and fonts are laid out."""
    page.wait_for_function("!document.querySelector('[aria-busy=true], .loading')", timeout=30_000)
    page.wait_for_timeout(250)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=OUT, help="where the PNGs go (default: docs/screenshots)")
    out: Path = parser.parse_args(argv).out.resolve()
    port = os.environ.get("PORT") or "8000"
    token = os.environ.get("LOCAL_TOKEN", "")
    if not token:
        print("LOCAL_TOKEN is not set: use the token `make run` printed", file=sys.stderr)
        return 2
    base = f"http://127.0.0.1:{port}"
    site = os.environ.get("SITE", "demo")
    uuid = os.environ.get("USER_UUID", "")
    try:
        api(base, token, "/health")
    except OSError as err:
        print(f"no local stack on port {port}: {err} (start it with `make run`)", file=sys.stderr)
        return 1
    if not uuid:
        users = api(base, token, f"/sites/{urllib.parse.quote(site, safe='')}/users?limit=1")
        items = users.get("items", []) if isinstance(users, dict) else []
        if not items:
            print(f"site {site} has no users", file=sys.stderr)
            return 1
        uuid = items[0]["uuid"]
    out.mkdir(parents=True, exist_ok=True)
    console = f"{base}/console/"
    user_hash = f"#/sites/{urllib.parse.quote(site, safe='')}/users/{urllib.parse.quote(uuid, safe='')}"
    written: list[Path] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for width, height, suffix in ((1280, 800, ""), (375, 740, "-375")):
            # The console's CSP refuses eval, which Playwright's wait_for_function uses to poll.
            context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1,
                                          bypass_csp=True)
            context.add_init_script(f"sessionStorage.setItem('gami.token', {json.dumps(token)})")
            page = context.new_page()
            page.goto(f"{console}#/sites/{urllib.parse.quote(site, safe='')}/users")
            page.wait_for_selector("table.users-table tbody tr:not(.skeleton-row)")
            settle(page)
            shot = out / f"users{suffix}.png"
            page.screenshot(path=str(shot), full_page=True)
            written.append(shot)
            for tab in TABS if not suffix else ["overview"]:
                page.goto(f"{console}{user_hash}/{tab}")
                page.wait_for_selector(f"#panel-{tab}:not([hidden])")
                settle(page)
                shot = out / f"user-{tab}{suffix}.png"
                page.screenshot(path=str(shot), full_page=True)
                written.append(shot)
            site_hash = f"#/sites/{urllib.parse.quote(site, safe='')}"
            boards = api(base, token, f"/sites/{urllib.parse.quote(site, safe='')}/leaderboards?limit=1")
            board = (boards.get("items") or [{}])[0].get("id") if isinstance(boards, dict) else None
            screens = [(f"section-{s}", f"{site_hash}/{s}") for s in (SECTIONS if not suffix else SECTIONS[1:2])]
            if board and not suffix:
                screens.append(("standings", f"{site_hash}/leaderboards/{urllib.parse.quote(board, safe='')}/standings"))
            if not suffix:
                screens += [(f"form-{kind}", f"{site_hash}/{kind}/{urllib.parse.quote(item, safe='')}")
                            for kind, item in form_examples(base, token, site)]
            for name, hash_ in screens:
                page.goto(f"{console}{hash_}")
                page.wait_for_selector("main h1")
                settle(page)
                shot = out / f"{name}{suffix}.png"
                page.screenshot(path=str(shot), full_page=True)
                written.append(shot)
            page.goto(f"{console}{user_hash}/overview")
            page.wait_for_selector("#panel-overview:not([hidden])")
            settle(page)
            page.keyboard.press("l")
            page.wait_for_selector("dialog.logpanel[open]")
            settle(page)
            shot = out / f"log-activity{suffix}.png"
            page.screenshot(path=str(shot))
            written.append(shot)
            context.close()
        browser.close()
    for path in written:
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
