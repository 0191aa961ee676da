"""Mechanics configuration: the same five routes for each kind."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.routing import Call, Reply, mechanic_loader, page_args, paging_query, resource, route

bp = Blueprint(__name__)

_M = "chalicelib.models.mechanics"
# Models by path: resolved on a route's first request, not on the API handler's cold start.
MODELS: dict[str, str] = {
    "point-types": f"{_M}:PointType", "behaviours": f"{_M}:Behaviour", "rewards": f"{_M}:Reward",
    "kpis": f"{_M}:Kpi", "coupons": f"{_M}:Coupon", "leaderboards": f"{_M}:Leaderboard",
}
# What saving a mechanic can refuse with 409 (engine.validation's problems of that status).
_SAVE_CONFLICTS = ("AlreadyExists", "ReferencedBy", "TargetsOverlap")
# A list's page names its items' schema (PointTypeList: items of PointType).
LIST_MODELS: dict[str, str] = {kind: f"{model}List" for kind, model in MODELS.items()}


def _register(kind: Any, model: str) -> None:
    base = f"/sites/{{site}}/{kind}"
    one = base + "/{id}"
    name = kind.replace("-", "_")
    resource(kind, mechanic_loader(kind))

    def list_(call: Call) -> Any:
        from chalicelib.domain import mechanics

        limit, cursor = page_args(call)
        return mechanics.list_page(call.params["site"], kind, limit, cursor)

    def create(call: Call) -> Any:
        from chalicelib.domain import mechanics

        return Reply(mechanics.save_mechanic(call.params["site"], kind, call.body, call.by, creating=True),
                     status=201)

    def get(call: Call) -> Any:
        from chalicelib.domain import mechanics

        return mechanics.get_mechanic(call.params["site"], kind, call.params["id"])

    def replace(call: Call) -> Any:
        from chalicelib.domain import mechanics

        return mechanics.save_mechanic(call.params["site"], kind, call.body, call.by, creating=False,
                                       path_id=call.params["id"])

    def delete(call: Call) -> Any:
        from chalicelib.domain import mechanics

        mechanics.delete_mechanic(call.params["site"], kind, call.params["id"], call.by)
        return Reply(None, status=204)

    one_name = name.removesuffix("s")  # point_types -> point_type: every kind's plural ends in s
    for fn, verb in ((create, "create"), (get, "get"), (replace, "replace"), (delete, "delete")):
        fn.__name__ = f"{verb}_{one_name}"
    list_.__name__ = f"list_{name}"
    route(bp, base, "GET", role="viewer", summary=f"List {kind}", tag="mechanics",
          response=LIST_MODELS[kind], query=paging_query())(list_)
    route(bp, base, "POST", role="admin", summary=f"Create one of the {kind}", tag="mechanics",
          body=model, response=model, status=201, conflicts=_SAVE_CONFLICTS)(create)
    route(bp, one, "GET", role="viewer", summary=f"Get one of the {kind}", tag="mechanics", response=model)(get)
    route(bp, one, "PUT", role="admin", summary=f"Replace one of the {kind}", tag="mechanics",
          body=model, response=model, conflicts=_SAVE_CONFLICTS)(replace)
    route(bp, one, "DELETE", role="admin", summary=f"Delete one of the {kind} (409 while referred to)",
          tag="mechanics", conflicts=("ReferencedBy",))(delete)


for _kind, _model in MODELS.items():
    _register(_kind, _model)
