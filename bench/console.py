"""Console timings: navigation -> user details page interactive, each tab's content on screen, and
navigation -> a mechanics list of MECHANICS_LIST (200) behaviours on screen.

Talks to a running stack (`make run`): reads PORT (default 8000) and LOCAL_TOKEN. It builds its own
site with a user who has ACTIVITIES past activities (default 10,000), then opens that user's page in
Debian's Chromium RUNS times (default 5) and prints the median and worst of each figure. The page
marks `gami:summary` (header, hero, stats) and `gami:tab:<tab>` (content rendered) with
performance.mark, so the figures are what a user sees, not network timings.

History: a few activities go through the API and the state machine (a point increment, three
behaviours that reach a reward, a coupon, a gift and a bounty), so every kind of item exists in its
real shape; the rest is BENCH-ONLY DATA written straight into the stack's moto (bench/history.py,
found through `.local/stack-{PORT}.json`): SUCCEEDED behaviour activities with their ledger entries
and day buckets, because 10,000 activities through the state machine would take far too long.

    PORT=8000 LOCAL_TOKEN=... .venv/bin/python bench/console.py
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# BENCH-ONLY bulk history, shared with reads.py (this script's directory is on sys.path).
from history import bulk_history, use_local_stack  # noqa: E402

CHROMIUM = "/usr/bin/chromium"


def valid_around(today: dt.date) -> dict[str, str]:
    """A KPI target in force for a year either side of today (never a calendar date)."""
    return {"validFrom": (today - dt.timedelta(days=366)).isoformat(),
            "validTo": (today + dt.timedelta(days=366)).isoformat()}


ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
TABS = ["overview", "activity", "points", "rewards", "kpis", "coupons", "leaderboards", "settings"]
MECHANICS_LIST = 200  # behaviours on the bench site: the mechanics list's figure


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


# The real activities: one of each kind of item processing writes (activity, ledger entry,
# wallet, reward reached, coupon, gift copy on the receiver, bounty), in this order.
REAL: list[dict[str, Any]] = [
    {"type": "point", "action": "increment", "points": [{"pointId": "coins", "points": 100}]},
    {"type": "behaviour", "verb": "watch_video", "metadata": {"category": ["tv"]}},
    {"type": "behaviour", "verb": "watch_video"},
    {"type": "behaviour", "verb": "watch_video"},  # the third: reward `binge` reached
    {"type": "coupon", "action": "buy", "couponId": "tshirt"},
    {"type": "gift", "targetUuid": "bench-friend", "points": [{"pointId": "coins", "points": 5}]},
    {"type": "bounty", "action": "start", "points": [{"pointId": "coins", "points": 5}]},
]


def build_site(api: Api, port: str, activities: int) -> tuple[str, str]:
    from chalicelib import clock

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
    must(api.call("POST", f"{p}/coupons", {"id": "tshirt", "name": "T-shirt", "codeType": "single",
                                           "code": "TSHIRT", "price": {"pointId": "coins", "points": 30},
                                           "redemption": "twoStep", "active": True}))
    must(api.call("POST", f"{p}/leaderboards", {"id": "xp_board", "name": "XP", "ranksBy": {"points": "xp"},
                                                "periods": ["weekly", "allTime"]}))
    must(api.call("POST", f"{p}/kpis", {"id": "xp_goal", "name": "XP earned", "tracks": {"points": "xp"},
                                        "targets": [{**valid_around(clock.now().date()),
                                                     "assignTo": {"everyone": True},
                                                     "values": {"daily": 10, "weekly": 50, "monthly": 200,
                                                                "quarterly": 600, "yearly": 2400}}]}))
    for i in range(1, MECHANICS_LIST):  # with watch_video: a list of MECHANICS_LIST behaviours
        must(api.call("POST", f"{p}/behaviours", {"id": f"bench_{i:03d}", "kind": "simple", "verb": f"verb_{i:03d}",
                                                  "name": f"Bench behaviour {i:03d}", "limits": {"overall": i},
                                                  "prizes": {"points": [{"pointId": "xp", "points": i}]}}))
    uuid = "heavy-user"
    must(api.call("POST", f"{p}/users", {"uuid": uuid, "displayName": "Heavy User", "firstName": "Heavy",
                                         "lastName": "User"}))
    must(api.call("POST", f"{p}/users", {"uuid": "bench-friend", "displayName": "Bench Friend"}))

    real = REAL[:activities]
    started = time.monotonic()
    # One after the other: a user's activities are processed in the order they were accepted.
    ids = [str(must(api.call("POST", f"{p}/activities", {"uuid": uuid, "attrs": attrs}))["id"]) for attrs in real]
    deadline = time.monotonic() + 300
    statuses: dict[str, str] = {}
    while time.monotonic() < deadline:
        statuses = {i: must(api.call("GET", f"{p}/activities/{i}"))["status"] for i in ids}
        if all(s in ("SUCCEEDED", "FAILED", "REJECTED") for s in statuses.values()):
            break
        time.sleep(0.5)
    else:
        raise SystemExit(f"activities still unprocessed after the deadline: {statuses}")
    if any(s != "SUCCEEDED" for s in statuses.values()):
        raise SystemExit(f"a real activity did not succeed: {statuses}")
    kinds = ", ".join(f"{a['type']}" + (f" {a['action']}" if "action" in a else "") for a in real)
    print(f"history: {len(real)} real activities through the API and the state machine ({kinds}) "
          f"in {time.monotonic() - started:.1f} s", flush=True)

    bulk = activities - len(real)
    if bulk > 0:
        state = use_local_stack(port)
        started = time.monotonic()
        items = bulk_history(site, uuid, bulk, clock.now())
        print(f"history: + {bulk} BENCH-ONLY bulk activities (SUCCEEDED watch_video behaviours, with ledger "
              f"entries and day buckets; no wallet, leaderboard or week/month buckets) written straight into "
              f"the stack's moto ({state['table']} at {state['endpoint']}): {items} items in "
              f"{time.monotonic() - started:.1f} s", flush=True)
    print(f"history: {uuid} on {site} has {activities} past activities", flush=True)
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
    activities = int(os.environ.get("ACTIVITIES", "10000"))
    runs = int(os.environ.get("RUNS", "5"))
    base = f"http://127.0.0.1:{port}"
    api = Api(base, token)
    site, uuid = build_site(api, port, activities)
    results: dict[str, list[float]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        # The console's CSP refuses eval, which Playwright's wait_for_function uses to poll the marks.
        context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
        context.add_init_script(f"sessionStorage.setItem('gami.token', {json.dumps(token)})")
        page = context.new_page()
        for _ in range(runs):
            page.goto("about:blank")
            for key, value in one_run(page, f"{base}/console/", site, uuid).items():
                results.setdefault(key, []).append(value)
            page.goto("about:blank")
            page.goto(f"{base}/console/#/sites/{site}/behaviours")
            results.setdefault(f"behaviours list ({MECHANICS_LIST} behaviours)", []).append(
                mark(page, "gami:mechanics:behaviours"))
        browser.close()
    print(f"console timings, user with {activities} activities, {runs} runs (ms: median / worst)")
    print("  navigation -> ... is from navigation start; tab figures are from the key press (1-8)")
    for key, values in results.items():
        prefix = "navigation -> " if not key.startswith("tab ") or key == "tab overview" else "key -> "
        print(f"  {prefix + key:<55} {statistics.median(values):7.0f} / {max(values):7.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
