"""Console timings: navigation -> user details page interactive, and each tab's content on screen.

Talks to a running stack (`make run`): reads PORT (default 8000) and LOCAL_TOKEN. It builds its own
site with a user who has ACTIVITIES past activities (default 100; a burst for one user is processed in order, about 2 s each locally), then opens that user's page in
Debian's Chromium RUNS times (default 5) and prints the median and worst of each figure. The page
marks `gami:summary` (header, hero, stats) and `gami:tab:<tab>` (content rendered) with
performance.mark, so the figures are what a user sees, not network timings.

    PORT=8000 LOCAL_TOKEN=... .venv/bin/python bench/console.py
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from playwright.sync_api import Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
TABS = ["overview", "activity", "points", "rewards", "kpis", "coupons", "leaderboards", "settings"]


class Api:
    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.token = token

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as res:
                raw = res.read()
                return res.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as err:
            raw = err.read()
            return err.code, json.loads(raw) if raw else None


def must(answer: tuple[int, Any]) -> Any:
    status, body = answer
    if status >= 300:
        raise SystemExit(f"API answered {status}: {body}")
    return body


def build_site(api: Api, activities: int) -> tuple[str, str]:
    site = f"bench-console-{os.urandom(3).hex()}"
    must(api.call("POST", "/sites", {"id": site, "name": "Console bench", "timezone": "Europe/London",
                                     "weekStart": "monday"}))
    p = f"/sites/{site}"
    must(api.call("POST", f"{p}/point-types", {"id": "xp", "name": "XP"}))
    must(api.call("POST", f"{p}/point-types", {"id": "coins", "name": "Coins", "redeemable": True,
                                               "giftable": True, "bountiable": True}))
    must(api.call("POST", f"{p}/behaviours", {"id": "watch_video", "kind": "simple", "verb": "watch_video",
                                              "name": "Watch a video",
                                              "prizes": {"points": [{"pointId": "xp", "points": 10}]}}))
    must(api.call("POST", f"{p}/rewards", {"id": "binge", "kind": "achievement", "name": "Binge watcher",
                                           "criteria": [{"verb": "watch_video", "times": 3}],
                                           "prizes": {"points": [{"pointId": "coins", "points": 50}]}}))
    must(api.call("POST", f"{p}/leaderboards", {"id": "xp_board", "name": "XP", "ranksBy": {"points": "xp"},
                                                "periods": ["weekly", "allTime"]}))
    must(api.call("POST", f"{p}/kpis", {"id": "xp_goal", "name": "XP earned", "tracks": {"points": "xp"},
                                        "targets": [{"validFrom": "2020-01-01", "validTo": "2099-12-31",
                                                     "assignTo": {"everyone": True},
                                                     "values": {"daily": 10, "weekly": 50, "monthly": 200,
                                                                "quarterly": 600, "yearly": 2400}}]}))
    uuid = "heavy-user"
    must(api.call("POST", f"{p}/users", {"uuid": uuid, "displayName": "Heavy User", "firstName": "Heavy",
                                         "lastName": "User"}))

    def submit(i: int) -> str:
        attrs: dict[str, Any] = ({"type": "behaviour", "verb": "watch_video"} if i % 2 == 0 else
                                 {"type": "point", "action": "increment",
                                  "points": [{"pointId": "coins", "points": 1}]})
        return str(must(api.call("POST", f"{p}/activities", {"uuid": uuid, "attrs": attrs}))["id"])

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(submit, range(activities)))
    # Parallel submitters: acceptance order is not list order, so wait for every one of them.
    pending = list(ids)
    deadline = time.monotonic() + max(300, 3 * activities)
    while pending and time.monotonic() < deadline:
        pending = [i for i in pending
                   if must(api.call("GET", f"{p}/activities/{i}"))["status"] not in ("SUCCEEDED", "FAILED", "REJECTED")]
        if pending:
            time.sleep(1)
    if pending:
        raise SystemExit(f"{len(pending)} activities still unprocessed after the deadline")
    print(f"seeded {activities} activities for {uuid} on {site} in {time.monotonic() - started:.1f} s", flush=True)
    return site, uuid


def mark(page: Page, name: str, timeout_ms: int = 60_000) -> float:
    """Wait for a performance mark; return its time (ms since navigation start)."""
    page.wait_for_function(f"performance.getEntriesByName({json.dumps(name)}).length > 0", timeout=timeout_ms,
                           polling=10)
    return float(page.evaluate(f"performance.getEntriesByName({json.dumps(name)}).at(-1).startTime"))


def one_run(page: Page, console: str, site: str, uuid: str) -> dict[str, float]:
    out: dict[str, float] = {}
    page.goto(f"{console}#/sites/{site}/users/{uuid}/overview")
    summary = mark(page, "gami:summary")
    overview = mark(page, "gami:tab:overview")
    out["interactive (header, stats, overview)"] = max(summary, overview)
    out["summary (header, hero, stats)"] = summary
    out["tab overview"] = overview
    for i, tab in enumerate(TABS[1:], start=2):
        page.evaluate("performance.clearMarks()")
        t0 = float(page.evaluate("performance.now()"))
        page.keyboard.press(str(i))
        out[f"tab {tab}"] = mark(page, f"gami:tab:{tab}") - t0
    return out


def main() -> int:
    port = os.environ.get("PORT", "8000")
    token = os.environ.get("LOCAL_TOKEN", "")
    if not token:
        print("LOCAL_TOKEN is not set: use the token `make run` printed", file=sys.stderr)
        return 2
    activities = int(os.environ.get("ACTIVITIES", "100"))
    runs = int(os.environ.get("RUNS", "5"))
    base = f"http://127.0.0.1:{port}"
    api = Api(base, token)
    site, uuid = build_site(api, activities)
    results: dict[str, list[float]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.add_init_script(f"sessionStorage.setItem('gami.token', {json.dumps(token)})")
        page = context.new_page()
        for _ in range(runs):
            page.goto("about:blank")
            for key, value in one_run(page, f"{base}/console/", site, uuid).items():
                results.setdefault(key, []).append(value)
        browser.close()
    print(f"console timings, user with {activities} activities, {runs} runs (ms: median / worst)")
    print("  navigation -> ... is from navigation start; tab figures are from the key press (1-8)")
    for key, values in results.items():
        prefix = "navigation -> " if not key.startswith("tab ") or key == "tab overview" else "key -> "
        print(f"  {prefix + key:<55} {statistics.median(values):7.0f} / {max(values):7.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
