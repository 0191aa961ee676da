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
       tag="activities", body=f"{MODELS}:ActivityCreate", response=f"{MODELS}:Accepted", status=202,
       conflicts=("IdempotencyKeyMismatch",),
       headers={"Idempotency-Key": {
           "description": "Makes a retry safe: the same key within 24 hours answers the first activity's id (202) "
                          "and nothing is accepted twice; the same key with another body is a 409 "
                          "IdempotencyKeyMismatch. Use a new key for every distinct activity.",
           "schema": {"type": "string", "minLength": 1, "maxLength": 128}}},
       response_headers={"Location": {"description": "The activity to poll: /sites/{site}/activities/{id}",
                                      "schema": {"type": "string"}}})
def submit_activity(call: Call) -> Any:
    """Accepts the activity (202, its id and `Location`) and queues it; it is processed in the
    background, in acceptance order per user. Poll `Location` until its status is SUCCEEDED,
    FAILED or REJECTED: `result` says what was awarded and what was held back (`exceptions`),
    `error` why it failed. A malformed body (400) or an unknown user (404) queues nothing."""
    from chalicelib.domain import activities

    site = call.params["site"]
    key = activities.check_idempotency_key(call.headers.get("idempotency-key"))
    accepted = activities.accept(site, call.body, key, call.by)
    return Reply(accepted, status=202, headers={"Location": f"/sites/{site}/activities/{accepted['id']}"})


@route(bp, "/sites/{site}/activities/{id}", "GET", role="viewer", summary="An activity and its status",
       tag="activities", response=f"{MODELS}:Activity")
def get_activity(call: Call) -> Any:
    """The activity as accepted (`attrs`), its status, and once processed its `result` or
    `error`; `rejection` once a reject was asked for."""
    from chalicelib.domain import activities

    return activities.get(call.params["site"], call.params["id"])


@route(bp, "/sites/{site}/activities/{id}/reject", "POST", role="admin",
       summary="Reject a SUCCEEDED activity (reversed asynchronously)", tag="activities",
       body=f"{MODELS}:RejectRequest", response=f"{MODELS}:Activity", status=202,
       conflicts=("NotRejectable", "AlreadyRejected"))
def reject_activity(call: Call) -> Any:
    """Asks for the activity's effects to be reversed (points, rewards, coupons, counters); the
    reversal runs in the user's order. The activity stays SUCCEEDED with `rejection.pending`
    until it is REJECTED, or `rejection.refused` says why not (a later activity used its effects)."""
    from chalicelib.domain import activities

    return Reply(activities.request_reject(call.params["site"], call.params["id"], call.body.reason, call.by),
                 status=202)
