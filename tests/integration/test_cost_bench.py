"""The cost and capacity benches' arithmetic: one activity's units worked out by hand against what
bench/meter.py measures on moto, and a planted hot key that bench/capacity.py must name."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import capacity  # noqa: E402
import ddb_units  # noqa: E402
from cost import MIX, pattern  # noqa: E402
from meter import Meter  # noqa: E402

TABLE = "cost-bench-test"
REGION = "us-east-1"

# The activity item as accept writes it (wire form), with its sparse index keys:
#   PK "ACT#s1#a1": 2 + 9 = 11 bytes; SK "A": 2 + 1 = 3; status "QUEUED": 6 + 6 = 12;
#   points 1500: 6 + (significant digits "15": 1 byte per two + 1) 2 = 8; note: 4 + 1000 = 1004;
#   GSI1PK "Q#s1": 6 + 4 = 10; GSI1SK "a1": 6 + 2 = 8.  Total 11+3+12+8+1004+10+8 = 1056 bytes.
ACTIVITY = {"PK": {"S": "ACT#s1#a1"}, "SK": {"S": "A"}, "status": {"S": "QUEUED"}, "points": {"N": "1500"},
            "note": {"S": "x" * 1000}, "GSI1PK": {"S": "Q#s1"}, "GSI1SK": {"S": "a1"}}
# The idempotency key item: PK "IDEM#s1#k1" 2 + 10 = 12; SK "K" 3; activityId "a1" 10 + 2 = 12;
#   done true: 4 + 1 = 5; tags ["a", "bc"]: 4 + 3 (list) + (1 + 1) + (2 + 1) = 12.  Total 44 bytes.
IDEMPOTENCY = {"PK": {"S": "IDEM#s1#k1"}, "SK": {"S": "K"}, "activityId": {"S": "a1"}, "done": {"BOOL": True},
               "tags": {"L": [{"S": "a"}, {"S": "bc"}]}}


@pytest.fixture
def metered() -> Iterator[tuple[Any, Meter]]:
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(
            TableName=TABLE, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("PK", "SK", "GSI1PK", "GSI1SK")],
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[{"IndexName": "GSI1", "Projection": {"ProjectionType": "ALL"}, "KeySchema": [
                {"AttributeName": "GSI1PK", "KeyType": "HASH"}, {"AttributeName": "GSI1SK", "KeyType": "RANGE"}]}])
        meter = Meter()
        meter.install_botocore()
        try:
            yield client, meter
        finally:
            meter.uninstall()


def test_item_sizes_by_hand() -> None:
    assert ddb_units.item_size(ACTIVITY) == 1056
    assert ddb_units.item_size(IDEMPOTENCY) == 44
    assert ddb_units.number_size("1500") == 2 and ddb_units.number_size("-0.00123") == 3
    # a map of one number: 3 + ("k" 1 + number 7: 2 + the element's 1) = 7 bytes of value
    assert ddb_units.value_size({"M": {"k": {"N": "7"}}}) == 7


def test_one_activity_units_by_hand(metered: tuple[Any, Meter]) -> None:
    client, meter = metered
    # Accept: one transaction putting the activity item (1056 B -> 2 WRU, x2 in a transaction = 4) and
    # the idempotency key (44 B -> 1 WRU, x2 = 2); the activity enters GSI1: one index write of its
    # whole item (ALL projection, 1056 B -> 2 WRU, not doubled: index writes follow the commit).
    client.transact_write_items(TransactItems=[
        {"Put": {"TableName": TABLE, "Item": ACTIVITY}},
        {"Put": {"TableName": TABLE, "Item": IDEMPOTENCY, "ConditionExpression": "attribute_not_exists(PK)"}}])
    # Processing: the update leaves the item at 11+3+15 (status "SUCCEEDED": 6 + 9) +8+1004+11 (meta:
    # 4 + 7) = 1052 B and removes the index keys: max(1056, 1052) -> 2 WRU, and the index entry
    # (1056 B) is deleted: 2 WRU.  Total 4.
    client.update_item(TableName=TABLE, Key={"PK": ACTIVITY["PK"], "SK": ACTIVITY["SK"]},
                       UpdateExpression="SET #s = :s, meta = :m REMOVE GSI1PK, GSI1SK",
                       ExpressionAttributeNames={"#s": "status"},
                       ExpressionAttributeValues={":s": {"S": "SUCCEEDED"}, ":m": {"M": {"k": {"N": "7"}}}})
    # An eventually consistent read of 1052 B: one 4 KB unit, halved: 0.5 RRU.
    client.get_item(TableName=TABLE, Key={"PK": ACTIVITY["PK"], "SK": ACTIVITY["SK"]})
    # A strongly consistent Query reading the 44 B key item: 1 RRU, whatever it projects.
    client.query(TableName=TABLE, KeyConditionExpression="PK = :p", ConsistentRead=True,
                 ProjectionExpression="activityId", ExpressionAttributeValues={":p": IDEMPOTENCY["PK"]})
    # Deleting the 44 B key item: 1 WRU.
    client.delete_item(TableName=TABLE, Key={"PK": IDEMPOTENCY["PK"], "SK": IDEMPOTENCY["SK"]})
    # A poll: a strongly consistent read of 1052 B: 1 RRU.
    client.get_item(TableName=TABLE, Key={"PK": ACTIVITY["PK"], "SK": ACTIVITY["SK"]}, ConsistentRead=True)
    # A failed conditional put of an item that exists (1052 B): 2 WRU, nothing written, no index write.
    with pytest.raises(client.exceptions.ConditionalCheckFailedException):
        client.put_item(TableName=TABLE, Item={**ACTIVITY, "note": {"S": "y"}}, ConditionExpression="attribute_not_exists(PK)")

    calls, _ = meter.take()
    assert [c.op for c in calls] == ["TransactWriteItems", "UpdateItem", "GetItem", "Query", "DeleteItem", "GetItem",
                                     "PutItem"]
    assert [(c.wru, c.index_wru, c.rru) for c in calls] == [
        (8, 2, 0.0), (4, 2, 0.0), (0, 0, 0.5), (0, 0, 1.0), (1, 0, 0.0), (0, 0, 1.0), (2, 0, 0.0)]
    # 8 + 4 + 1 + 2 = 15 WRU and 0.5 + 1 + 1 = 2.5 RRU for the activity, its poll and the failed put
    assert sum(c.wru for c in calls) == 15 and sum(c.rru for c in calls) == 2.5
    # the keys it touched: the index partition Q#s1 took the put (2) and the delete (2) of the entry
    assert ("GSI1", "Q#s1", 0.0, 2) in calls[0].parts and ("GSI1", "Q#s1", 0.0, 2) in calls[1].parts
    assert ("table", "ACT#s1#a1", 0.0, 4) in calls[0].parts and ("table", "IDEM#s1#k1", 0.0, 2) in calls[0].parts


def _counts(partitions: list[list[Any]]) -> dict[str, Any]:
    """bench/cost.py --json's shape for a pipeline of 1 Express execution and 3 API requests per activity
    (no queue: SQS's default FIFO rate depends on what infra/ sets)."""
    case = {"api_requests": {"accept": 1, "poll": 2}, "partitions": partitions, "lambda": {},
            "sfn": {"transitions": 0, "standard_executions": 0, "express_executions": 1,
                    "calls": {"StartSyncExecution": 1}},
            "sqs": {"by_op": {}}}
    return {"site": "s1", "polls_measured": 2, "cases": {name: case for name, _ in MIX}}


def test_capacity_names_a_planted_hot_key(metered: tuple[Any, Meter]) -> None:
    client, meter = metered
    # The planted activity: its user's own item, and one site-wide counter bumped by every activity.
    client.put_item(TableName=TABLE, Item={"PK": {"S": "USER#s1#alice"}, "SK": {"S": "S"}, "n": {"N": "1"}})
    client.update_item(TableName=TABLE, Key={"PK": {"S": "SITE#s1#HOT"}, "SK": {"S": "counter"}},
                       UpdateExpression="ADD n :one", ExpressionAttributeValues={":one": {"N": "1"}})
    calls, _ = meter.take()
    parts = [[space, pattern(key, {"alice": "{user}"}), rru, wru] for c in calls for space, key, rru, wru in c.parts]
    assert parts == [["table", "USER#s1#{user}", 0.0, 1], ["table", "SITE#s1#HOT", 0.0, 1]]

    found = capacity.limits(_counts(parts), stage="dev")
    # 1 WRU per activity on one partition key: 1,000 activities/s, before API Gateway's 3,333
    assert found[0].name == "DynamoDB partition table SITE#{site}#HOT (writes)"
    assert round(found[0].rate) == 1000 and "not raisable" in found[0].raise_to
    assert not any("{user}" in limit.name for limit in found)  # one user's key does not grow with the site

    unplanted = capacity.limits(_counts([["table", "USER#s1#{user}", 0.0, 1]]), stage="dev")
    assert unplanted[0].name == "API Gateway requests" and round(unplanted[0].rate) == 3333


def test_capacity_spreads_a_sharded_key_over_the_values_seen() -> None:
    # Every activity writes one shard of an index key (chosen by its id): the measured activities
    # and the warm-up ones landed on HOT#07 and #12, so the family's 1 WRU per activity is
    # spread over at least those 2 keys: 0.5 WRU each, 2,000 activities/s, not 1,000.
    data = _counts([["GSI1", "HOT#07", 0.0, 1]])
    data["warmup_partitions"] = {"gift": [["GSI1", "HOT#12", 0.0, 1]]}
    found = {limit.name: limit for limit in capacity.limits(data, stage="dev")}
    spread = found["DynamoDB partition index GSI1 HOT#{n} (one of >= 2 seen) (writes)"]
    assert round(spread.rate) == 2000


def test_capacity_spreads_a_family_the_code_shards_over_all_its_shards() -> None:
    # The reconciler's index is sharded 32 ways by the code (keys.UNFINISHED_SHARDS): 2 shards
    # seen, the load is still spread over all 32 (1/32 WRU each: 32,000 activities/s).
    from chalicelib.store.keys import UNFINISHED_SHARDS

    data = _counts([["GSI1", "UNFINISHED#07", 0.0, 1]])
    data["warmup_partitions"] = {"gift": [["GSI1", "UNFINISHED#12", 0.0, 1]]}
    found = {limit.name: limit for limit in capacity.limits(data, stage="dev")}
    spread = found[f"DynamoDB partition index GSI1 UNFINISHED#{{n}} (one of {UNFINISHED_SHARDS} shards) (writes)"]
    assert round(spread.rate) == 1000 * UNFINISHED_SHARDS
