"""Webhook endpoints and deliveries.

Endpoints: `WH#{id}` in the site partition (after `SITE`, outside the mechanics range), with the
secret that signs and, for a day after a rotation, the one before it.
Deliveries: one partition per endpoint, `WHD#{site}#{endpoint}`, sort key `D#{deliveryId}` (ids
sort by time: the log newest first is one Query backwards). A delivery waiting for an attempt is
in the sparse GSI1 partition `WHDUE#{nn}` (8 shards by delivery) by its next attempt's time, which
the sweep Queries every minute; it leaves the index when it succeeds or fails for good.
"""

from __future__ import annotations

from typing import Any

from chalicelib.store import db
from chalicelib.store.keys import shard_of, site_pk, user_pk

Item = dict[str, Any]
DUE_SHARDS = 8


def endpoint_sk(endpoint_id: str) -> str:
    return f"WH#{endpoint_id}"


def deliveries_pk(site: str, endpoint_id: str) -> str:
    return f"WHD#{site}#{endpoint_id}"


def delivery_sk(delivery_id: str) -> str:
    return f"D#{delivery_id}"


def due_index_pk(shard: int) -> str:
    return f"WHDUE#{shard:02d}"


def due_keys(site: str, endpoint_id: str, delivery_id: str, at: str) -> dict[str, str]:
    return {"GSI1PK": due_index_pk(shard_of(delivery_id, DUE_SHARDS)),
            "GSI1SK": f"{at}#{site}#{endpoint_id}#{delivery_id}"}


# ---------------------------------------------------------------- endpoints


def get_endpoint(site: str, endpoint_id: str) -> Item | None:
    return db.get(site_pk(site), endpoint_sk(endpoint_id)) if endpoint_id else None


def put_endpoint(site: str, item: Item) -> None:
    db.put({**item, "PK": site_pk(site), "SK": endpoint_sk(str(item["id"]))}, condition="attribute_not_exists(PK)")


def update_endpoint(site: str, endpoint_id: str, changes: dict[str, Any]) -> Item | None:
    """Set `changes` on an endpoint that exists; None when it does not."""
    names = {f"#f{n}": name for n, name in enumerate(changes)}
    values = {f":v{n}": value for n, value in enumerate(changes.values())}
    try:
        return db.update(site_pk(site), endpoint_sk(endpoint_id),
                         "SET " + ", ".join(f"#f{n} = :v{n}" for n in range(len(changes))), values=values,
                         names=names, condition="attribute_exists(PK)")
    except db.ConditionFailed:
        return None


def delete_endpoint(site: str, endpoint_id: str) -> bool:
    """False when there was no such endpoint."""
    try:
        db.delete(site_pk(site), endpoint_sk(endpoint_id), condition="attribute_exists(PK)")
    except db.ConditionFailed:
        return False
    return True


def list_endpoints(site: str, limit: int, cursor: str | None) -> tuple[list[Item], str | None]:
    return db.query_page(key_condition="PK = :pk AND begins_with(SK, :p)",
                         values={":pk": site_pk(site), ":p": "WH#"}, limit=limit, cursor=cursor, scope="webhooks")


def all_endpoints(site: str) -> list[Item]:
    return db.query_all(key_condition="PK = :pk AND begins_with(SK, :p)", values={":pk": site_pk(site), ":p": "WH#"})


# ---------------------------------------------------------------- deliveries


def put_delivery(site: str, item: Item) -> None:
    """A new delivery; in the due index while it has a next attempt (`nextAttemptAt`)."""
    endpoint_id, delivery_id = str(item["endpointId"]), str(item["deliveryId"])
    due = due_keys(site, endpoint_id, delivery_id, str(item["nextAttemptAt"])) if item.get("nextAttemptAt") else {}
    db.put({**item, "PK": deliveries_pk(site, endpoint_id), "SK": delivery_sk(delivery_id), "site": site, **due},
           condition="attribute_not_exists(PK)")


def existing_deliveries(site: str, wanted: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of (endpoint, delivery id) exist, 100 per BatchGetItem."""
    from chalicelib.store.reads import BATCH_GET_MAX, batch_get

    keys = [(deliveries_pk(site, e), delivery_sk(d)) for e, d in dict.fromkeys(wanted)]
    found: set[tuple[str, str]] = set()
    for start in range(0, len(keys), BATCH_GET_MAX):
        found.update((str(i["endpointId"]), str(i["deliveryId"])) for i in batch_get(keys[start:start + BATCH_GET_MAX]))
    return found


def get_delivery(site: str, endpoint_id: str, delivery_id: str) -> Item | None:
    return db.get(deliveries_pk(site, endpoint_id), delivery_sk(delivery_id)) if delivery_id else None


def claim(site: str, endpoint_id: str, delivery_id: str, *, seen_attempts: int, seen_next: str, until: str) -> bool:
    """Take a due delivery for one attempt: its next attempt moved to `until` (past the
    attempt's 10 s), so a sweep meanwhile does not hand it over again; False when another
    worker took it first. If this worker dies, the delivery is due again at `until`."""
    keys = due_keys(site, endpoint_id, delivery_id, until)
    try:
        db.update(deliveries_pk(site, endpoint_id), delivery_sk(delivery_id),
                  "SET nextAttemptAt = :until, GSI1PK = :gpk, GSI1SK = :gsk",
                  values={":until": until, ":gpk": keys["GSI1PK"], ":gsk": keys["GSI1SK"], ":seen": seen_attempts,
                          ":next": seen_next, ":p": "pending"},
                  names={"#st": "status"},
                  condition="attempts = :seen AND nextAttemptAt = :next AND #st = :p", return_new=False)
    except db.ConditionFailed:
        return False
    return True


def record_attempt(site: str, endpoint_id: str, delivery_id: str, *, seen_attempts: int, status: str,
                   status_code: int | None, error: str | None, at: str, next_at: str | None) -> bool:
    """One attempt's result, conditional on no other attempt having been recorded since it was
    read (two workers on one delivery: the second records nothing). A delivery still pending
    stays in the due index at its next attempt; a settled one leaves it."""
    values: dict[str, Any] = {":a": seen_attempts + 1, ":seen": seen_attempts, ":s": status, ":c": status_code,
                              ":e": error, ":at": at, ":n": next_at}
    expression = ("SET attempts = :a, #st = :s, lastStatusCode = :c, lastError = :e, lastAttemptAt = :at, "
                  "nextAttemptAt = :n")
    if next_at is None:
        expression += " REMOVE GSI1PK, GSI1SK"
    else:
        keys = due_keys(site, endpoint_id, delivery_id, next_at)
        values.update({":gpk": keys["GSI1PK"], ":gsk": keys["GSI1SK"]})
        expression += ", GSI1PK = :gpk, GSI1SK = :gsk"
    try:
        db.update(deliveries_pk(site, endpoint_id), delivery_sk(delivery_id), expression, values=values,
                  names={"#st": "status"}, condition="attempts = :seen", return_new=False)
    except db.ConditionFailed:
        return False
    return True


def redeliver(site: str, endpoint_id: str, delivery_id: str, at: str) -> bool:
    """A delivery pending again from now, its attempts counted afresh (False: no such delivery)."""
    keys = due_keys(site, endpoint_id, delivery_id, at)
    try:
        db.update(deliveries_pk(site, endpoint_id), delivery_sk(delivery_id),
                  "SET #st = :p, attempts = :zero, nextAttemptAt = :at, GSI1PK = :gpk, GSI1SK = :gsk",
                  values={":p": "pending", ":zero": 0, ":at": at, ":gpk": keys["GSI1PK"], ":gsk": keys["GSI1SK"]},
                  names={"#st": "status"}, condition="attribute_exists(PK)", return_new=False)
    except db.ConditionFailed:
        return False
    return True


def deliveries_page(site: str, endpoint_id: str, status: str | None, limit: int,
                    cursor: str | None) -> tuple[list[Item], str | None]:
    """The endpoint's deliveries newest first, of one status if asked (a filter: a page may
    hold fewer than `limit` while `nextCursor` says more may follow)."""
    return db.query_page(key_condition="PK = :pk AND begins_with(SK, :d)",
                         values={":pk": deliveries_pk(site, endpoint_id), ":d": "D#",
                                 **({":st": status} if status else {})},
                         names={"#st": "status"} if status else None,
                         filter_expression="#st = :st" if status else None,
                         limit=limit, cursor=cursor, scope="deliveries", forward=False)


def due(now: str, limit: int = 100) -> list[Item]:
    """Deliveries whose next attempt is at or before `now`, oldest first, from every shard."""
    return [item for shard in range(DUE_SHARDS)
            for item in db.query_page(key_condition="GSI1PK = :pk AND GSI1SK <= :now",
                                      values={":pk": due_index_pk(shard), ":now": f"{now}#\uffff"},
                                      index="GSI1", limit=limit)[0]]


# ---------------------------------------------------------------- the outbox
#
# The events of one commit: one item `OUT#{activityId}#{step}` in the acting user's partition,
# put in the commit's own transaction (so it exists if and only if the commit happened), indexed
# in the sparse GSI1 partition `OUTBOX#{nn}` until its deliveries are made (`settle_outbox`).

OUTBOX_SHARDS = 8


def outbox_sk(activity_id: str, step: str) -> str:
    return f"OUT#{activity_id}#{step}"


def outbox_put(site: str, uuid: str, activity_id: str, steps: list[str], events: list[Item],
               preferences: dict[str, dict[str, bool]], at: str) -> dict[str, Any]:
    """The outbox item's Put, for the commit's TransactWriteItems (`steps`: the commit's step,
    then the steps it carries, whose effects its events are)."""
    sk = outbox_sk(activity_id, steps[0])
    return db.tx_put({"PK": user_pk(site, uuid), "SK": sk, "site": site, "uuid": uuid, "steps": steps, "events": events,
                      "preferences": preferences, "createdAt": at,
                      "GSI1PK": f"OUTBOX#{shard_of(activity_id, OUTBOX_SHARDS):02d}",
                      "GSI1SK": f"{at}#{site}#{uuid}#{sk}"})


def get_outbox(site: str, uuid: str, sk: str) -> Item | None:
    return db.get(user_pk(site, uuid), sk)


def settle_outbox(site: str, uuid: str, sk: str) -> None:
    """Its deliveries are made: out of the index (kept as the record of what was sent)."""
    db.update(user_pk(site, uuid), sk, "REMOVE GSI1PK, GSI1SK", return_new=False)


def unsettled_outboxes(before: str, limit: int = 100) -> list[Item]:
    """Outbox items recorded before `before` whose deliveries were not made (a lost hand-off)."""
    return [item for shard in range(OUTBOX_SHARDS)
            for item in db.query_page(key_condition="GSI1PK = :pk AND GSI1SK < :before",
                                      values={":pk": f"OUTBOX#{shard:02d}", ":before": before},
                                      index="GSI1", limit=limit)[0]]


def create_delivery(site: str, item: Item) -> bool:
    """`put_delivery` once: False when that delivery exists already (a fan-out made again)."""
    try:
        put_delivery(site, item)
    except db.ConditionFailed:
        return False
    return True


def count_active(site: str) -> int:
    return sum(1 for item in all_endpoints(site) if item.get("active", True))
