"""The user details page: summary, one route per tab, bounties, leaderboard standings.

Routes that read the profile together with their data (`S#` Query, BatchGetItem) pass
`load_user=False`: the route's own profile GetItem would be a third request.
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.routing import Call, choice_arg, mechanic_loader, page_args, paging_query, resource, route
from chalicelib.domain import tab_options as options

# Models by path, resolved on first use: the API handler's cold start stays small.
_T = "chalicelib.models.tabs"
ActivityList = "chalicelib.models.activities:ActivityList"
UserSettings = "chalicelib.models.users:UserSettings"
BountyList, CouponsTab, KpisTab, LeaderboardsTab, Overview, PointsTab, RewardsTab, Standings, Summary = (
    f"{_T}:{name}" for name in ("BountyList", "CouponsTab", "KpisTab", "LeaderboardsTab", "Overview", "PointsTab",
                                "RewardsTab", "Standings", "Summary"))

bp = Blueprint(__name__)

USER = "/sites/{site}/users/{uuid}"
TAB = USER + "/tabs/"


def _site(call: Call) -> dict[str, Any]:
    assert call.site is not None  # the route resolved it (404 otherwise)
    return call.site


@route(bp, USER + "/summary", "GET", role="viewer", summary="The user's stats bar (eight counts with badges)",
       tag="user details", response=Summary, load_user=False)
def get_user_summary(call: Call) -> Any:
    from chalicelib.domain import tabs

    return tabs.summary(call.params["site"], _site(call), call.params["uuid"])


@route(bp, TAB + "overview", "GET", role="viewer", summary="Overview tab", tag="user details",
       response=Overview, load_user=False)
def get_overview_tab(call: Call) -> Any:
    from chalicelib.domain import tabs

    return tabs.overview(call.params["site"], _site(call), call.params["uuid"])


_LIST = {"type": "array", "items": {"type": "string"}}


@route(bp, TAB + "activity", "GET", role="viewer", summary="Activity tab (filtered, sorted, paged)",
       tag="user details", response=ActivityList, query={
           **paging_query(),
           "type": {**_LIST, "items": {"type": "string", "enum": list(options.ACTIVITY_TYPES)}},
           "status": {**_LIST, "items": {"type": "string", "enum": list(options.ACTIVITY_STATUSES)}},
           "verb": {**_LIST, "items": {"type": "string", "pattern": "^[a-z0-9_]{1,64}$"}},
           "from": {"type": "string", "description": "ISO-8601 date-time (Z or offset) or a site-local date"},
           "to": {"type": "string", "description": "ISO-8601 date-time (Z or offset) or a site-local date"},
           "sort": {"type": "string", "enum": list(options.ACTIVITY_SORTS), "default": "createdAt"},
           "order": {"type": "string", "enum": ["asc", "desc"]},
       })
def get_activity_tab(call: Call) -> Any:
    """The user's activities, newest first by default, including gifts and bounty awards they
    received. Filters repeat (OR within one, AND across them); `from`/`to` take an instant or a
    site-local date."""
    from chalicelib.domain import tabs

    limit, cursor = page_args(call)
    query = tabs.ActivityQuery(types=call.args("type"), statuses=call.args("status"), verbs=call.args("verb"),
                               since=call.args("from"), until=call.args("to"), sort=call.arg("sort"),
                               order=call.arg("order"), limit=limit, cursor=cursor)
    return tabs.activity_tab(call.params["site"], _site(call), call.params["uuid"], query)


@route(bp, TAB + "points", "GET", role="viewer", summary="Points tab (wallets and the ledger, newest first)",
       tag="user details", response=PointsTab, query=paging_query(), load_user=False)
def get_points_tab(call: Call) -> Any:
    from chalicelib.domain import tabs

    limit, cursor = page_args(call)
    return tabs.points_tab(call.params["site"], _site(call), call.params["uuid"], limit, cursor)


@route(bp, TAB + "rewards", "GET", role="viewer", summary="Rewards tab (completed, in progress, available)",
       tag="user details", response=RewardsTab, load_user=False)
def get_rewards_tab(call: Call) -> Any:
    from chalicelib.domain import tabs

    return tabs.rewards_tab(call.params["site"], _site(call), call.params["uuid"])


@route(bp, TAB + "kpis", "GET", role="viewer", summary="KPIs tab (current period and the four before)",
       tag="user details", response=KpisTab, query={
           "period": {"type": "string", "enum": list(options.KPI_PERIODS), "default": "weekly"}})
def get_kpis_tab(call: Call) -> Any:
    from chalicelib.domain import tabs

    assert call.user is not None
    period = choice_arg(call, "period", options.KPI_PERIODS, "weekly")
    return tabs.kpis_tab(call.params["site"], _site(call), call.user, period)


@route(bp, TAB + "coupons", "GET", role="viewer", summary="Coupons tab (the user's coupons)",
       tag="user details", response=CouponsTab, load_user=False)
def get_coupons_tab(call: Call) -> Any:
    from chalicelib.domain import tabs

    return tabs.coupons_tab(call.params["site"], call.params["uuid"])


@route(bp, TAB + "leaderboards", "GET", role="viewer", summary="Leaderboards tab (every board and period)",
       tag="user details", response=LeaderboardsTab, load_user=False)
def get_leaderboards_tab(call: Call) -> Any:
    from chalicelib.domain import tabs

    return tabs.leaderboards_tab(call.params["site"], _site(call), call.params["uuid"])


@route(bp, TAB + "settings", "GET", role="viewer", summary="Settings tab (same body as GET .../settings)",
       tag="user details", response=UserSettings)
def get_settings_tab(call: Call) -> Any:
    from chalicelib.domain import tabs

    assert call.user is not None
    return tabs.settings_tab(call.user)


@route(bp, USER + "/bounties", "GET", role="viewer", summary="The user's bounties", tag="user details",
       response=BountyList, query={**paging_query(),
                                   "status": {"type": "string", "enum": list(options.BOUNTY_STATUSES)}})
def list_user_bounties(call: Call) -> Any:
    from chalicelib.domain import tabs

    limit, cursor = page_args(call)
    return tabs.bounties(call.params["site"], call.params["uuid"], call.arg("status"), limit, cursor)


resource("leaderboards", mechanic_loader("leaderboards"))


@route(bp, "/sites/{site}/leaderboards/{id}/standings", "GET", role="viewer",
       summary="A leaderboard in rank order (ranks refreshed every minute, scores live)", tag="leaderboards",
       response=Standings, query={**paging_query(),
                                  "period": {"type": "string", "enum": ["daily", "weekly", "monthly", "allTime"]}})
def list_standings(call: Call) -> Any:
    """The board's period in rank order (standard competition ranking: equal scores share a rank).
    Ranks are refreshed at least every minute; blocked users, non-members and users who opted
    out are not ranked."""
    from chalicelib.domain import tabs

    limit, cursor = page_args(call)
    return tabs.standings(call.params["site"], call.params["id"], call.arg("period"), limit, cursor, _site(call))
