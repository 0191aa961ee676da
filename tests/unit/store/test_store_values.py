"""`db.plain_value` decodes an attribute value in one pass exactly as boto3's TypeDeserializer
followed by `db._from_dynamo` did (the oracle here), for every kind DynamoDB has."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.store import db

_numbers = st.one_of(st.integers(-10**30, 10**30), st.decimals(allow_nan=False, allow_infinity=False, places=6,
                                                              min_value=-10**12, max_value=10**12))
_scalars = st.one_of(st.text(max_size=8), _numbers, st.booleans(), st.none(), st.binary(max_size=4))
_values = st.recursive(
    _scalars | st.frozensets(st.text(min_size=1, max_size=4), min_size=1, max_size=4).map(set)
    | st.frozensets(st.integers(-99, 99), min_size=1, max_size=4).map(set),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=20)


def _oracle(wire: dict[str, Any]) -> Any:
    return db._from_dynamo(TypeDeserializer().deserialize(wire))


@given(_values)
def test_plain_value_decodes_as_boto3_then_from_dynamo(value: Any) -> None:
    wire = TypeSerializer().serialize(value)
    assert db.plain_value(wire) == _oracle(wire)


def test_numbers_in_every_spelling() -> None:
    for text in ("0", "-0", "7", "-12", "1.5", "-0.25", "5.0", "1e3", "1E-2", "12345678901234567890123456789012345678",
                 "0.10"):
        got, want = db.plain_value({"N": text}), _oracle({"N": text})
        assert got == want and type(got) is type(want), text
    assert db.plain_value({"NS": ["3", "1.5", "2"]}) == [1.5, 2, 3]
    assert db.plain_value({"N": str(Decimal("2.50"))}) == 2.5
