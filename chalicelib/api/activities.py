"""Activities: submit, poll, reject."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.routing import Call, Reply, resource, route

bp = Blueprint(__name__)
MODELS = "chalicelib.models.activities"


def _activity_exists(call: Call, activity_id: str) -> None:
    from chalicelib.domain import activities

    activities.get(call.params["site"], activity_id)  # ActivityNotFound


resource("activities", _activity_exists)


@route(bp, "/sites/{site}/activities", "POST", role="editor", summary="Submit an activity (processed asynchronously)",
       tag="activities", body=f"{MODELS}:ActivityCreate", response=f"{MODELS}:Accepted", status=202)
def submit_activity(call: Call) -> Any:
    from chalicelib.domain import activities

    site = call.params["site"]
    key = activities.check_idempotency_key(call.headers.get("idempotency-key"))
    accepted = activities.accept(site, call.body, key, call.by)
    return Reply(accepted, status=202, headers={"Location": f"/sites/{site}/activities/{accepted['id']}"})


@route(bp, "/sites/{site}/activities/{id}", "GET", role="viewer", summary="An activity and its status",
       tag="activities", response=f"{MODELS}:Activity")
def get_activity(call: Call) -> Any:
    from chalicelib.domain import activities

    return activities.get(call.params["site"], call.params["id"])


@route(bp, "/sites/{site}/activities/{id}/reject", "POST", role="admin",
       summary="Reject a SUCCEEDED activity (reversed asynchronously)", tag="activities",
       body=f"{MODELS}:RejectRequest", response=f"{MODELS}:Activity", status=202)
def reject_activity(call: Call) -> Any:
    from chalicelib.domain import activities

    return Reply(activities.request_reject(call.params["site"], call.params["id"], call.body.reason, call.by),
                 status=202)
