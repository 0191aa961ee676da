"""local/durability.py against moto itself: whatever was written (puts, conditional updates,
transactions, deletes, batch writes), replaying the data directory into an empty moto gives the
same table, item for item; a line cut short by a kill is left out; journals a snapshot already
holds are skipped; requests moto refused are not journaled."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError


def _items(client: Any, table: str) -> list[dict[str, Any]]:
    """The whole table (a test-side Scan), in key order."""
    items = [i for page in client.get_paginator("scan").paginate(TableName=table) for i in page["Items"]]
    return sorted(items, key=lambda i: (i["PK"]["S"], i["SK"]["S"]))


def _forget_everything() -> None:
    """What a restart leaves of moto: nothing."""
    from moto.dynamodb.models import dynamodb_backends

    for account in list(dynamodb_backends.keys()):
        for region in list(dynamodb_backends[account].keys()):
            dynamodb_backends[account][region].tables.clear()


@pytest.fixture
def kept(aws: None, tmp_path: Path) -> Iterator[Any]:
    from local import patches
    from local.durability import Durability

    _forget_everything()
    durability = Durability(tmp_path / "data")
    durability.restore()
    from local import provision

    provision.create_table(boto3.client("dynamodb"), os.environ["TABLE_NAME"])
    yield durability
    patches.observe_dynamodb_writes(None)


def _write_some(client: Any, table: str) -> None:
    def key(pk: str, sk: str) -> dict[str, Any]:
        return {"PK": {"S": pk}, "SK": {"S": sk}}

    client.put_item(TableName=table, Item={**key("U#a", "W"), "balance": {"N": "10"}, "tags": {"SS": ["x"]}})
    client.update_item(TableName=table, Key=key("U#a", "W"), UpdateExpression="ADD balance :n",
                       ExpressionAttributeValues={":n": {"N": "5"}})
    with pytest.raises(ClientError):  # refused: must not be journaled (its replay would apply it)
        client.update_item(TableName=table, Key=key("U#a", "W"), UpdateExpression="ADD balance :n",
                           ConditionExpression="balance > :big",
                           ExpressionAttributeValues={":n": {"N": "100"}, ":big": {"N": "1000"}})
    client.transact_write_items(TransactItems=[
        {"Update": {"TableName": table, "Key": key("U#a", "W"), "UpdateExpression": "ADD balance :n",
                    "ConditionExpression": "balance >= :min",
                    "ExpressionAttributeValues": {":n": {"N": "-3"}, ":min": {"N": "3"}}}},
        {"Put": {"TableName": table, "Item": {**key("U#a", "L#1"), "amount": {"N": "-3"},
                                              "blob": {"B": b"\x00\xffbinary"}}}},
    ])
    client.batch_write_item(RequestItems={table: [
        {"PutRequest": {"Item": {**key("U#b", "P"), "name": {"S": "Bea"}, "m": {"M": {"k": {"L": [{"N": "1"}]}}}}}},
        {"PutRequest": {"Item": {**key("U#c", "P"), "name": {"S": "Cy"}}}},
    ]})
    client.delete_item(TableName=table, Key=key("U#c", "P"))


def test_replaying_the_data_directory_gives_the_same_table(kept: Any) -> None:
    from local.durability import Durability

    client = boto3.client("dynamodb")
    table = os.environ["TABLE_NAME"]
    _write_some(client, table)
    before = _items(client, table)
    assert [i["balance"]["N"] for i in before if i["SK"]["S"] == "W"] == ["12"]

    # A kill: nothing closed, the journal as the last write left it.
    _forget_everything()
    assert Durability(kept.directory).restore() > 0
    assert _items(client, table) == before
    description = client.describe_table(TableName=table)["Table"]
    assert {i["IndexName"] for i in description.get("GlobalSecondaryIndexes", [])}  # the indexes came back too

    # Written after that restore, then a clean stop, then a start: all there, no journal replayed.
    client.put_item(TableName=table, Item={"PK": {"S": "U#d"}, "SK": {"S": "P"}})
    restored = Durability(kept.directory)
    kept.close()
    _forget_everything()
    assert restored.restore() > 0
    assert _items(client, table) == sorted([*before, {"PK": {"S": "U#d"}, "SK": {"S": "P"}}],
                                           key=lambda i: (i["PK"]["S"], i["SK"]["S"]))
    journals = list(kept.directory.glob("journal-*.jsonl"))
    assert len(journals) == 1 and journals[0].stat().st_size == 0


def test_a_line_cut_short_is_left_out_and_journals_in_the_snapshot_are_skipped(kept: Any) -> None:
    from local.durability import SNAPSHOT, Durability

    client = boto3.client("dynamodb")
    table = os.environ["TABLE_NAME"]
    client.put_item(TableName=table, Item={"PK": {"S": "U#a"}, "SK": {"S": "P"}, "n": {"N": "1"}})
    directory = kept.directory
    [(generation, journal)] = kept._journals()
    # The write a SIGKILL interrupted: half a line, never answered.
    with journal.open("a") as out:
        out.write(json.dumps({"a": "PutItem", "acct": "123456789012", "r": "us-east-1",
                              "p": {"TableName": table, "Item": {"PK": {"S": "U#z"}, "SK": {"S": "P"}}}})[:40])
    # A journal from before the snapshot (a crash between its rename and the removal): skipped.
    stale = directory / f"journal-{generation - 1}.jsonl"
    stale.write_text(json.dumps({"a": "PutItem", "acct": "123456789012", "r": "us-east-1",
                                 "p": {"TableName": table, "Item": {"PK": {"S": "U#stale"}, "SK": {"S": "P"}}}})
                     + "\n")
    header = json.loads((directory / SNAPSHOT).read_text().splitlines()[0])
    assert header["next"] == generation
    _forget_everything()
    Durability(directory).restore()
    assert [i["PK"]["S"] for i in _items(client, table)] == ["U#a"]
    assert not stale.exists()
