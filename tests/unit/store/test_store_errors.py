"""The store speaks in typed errors: what each DynamoDB refusal becomes, and that nothing above
`store/` handles botocore's errors for DynamoDB (design.md, the habits: no botocore error
above `store/`)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib.store import db

ROOT = Path(__file__).resolve().parents[3]


def _error(code: str, reasons: list[str] | None = None) -> ClientError:
    response: dict[str, Any] = {"Error": {"Code": code, "Message": "refused"}}
    if reasons is not None:
        response["CancellationReasons"] = [{"Code": r} for r in reasons]
    return ClientError(response, "TransactWriteItems")  # type: ignore[arg-type]


@pytest.mark.parametrize(("code", "reasons", "kind"), [
    ("ConditionalCheckFailedException", None, db.ConditionFailed),
    ("TransactionCanceledException", ["None", "ConditionalCheckFailed"], db.TransactionCancelled),
    # A condition failed and another item was contended: the condition decides (re-read, not wait).
    ("TransactionCanceledException", ["ConditionalCheckFailed", "TransactionConflict"], db.TransactionCancelled),
    ("TransactionCanceledException", ["None", "TransactionConflict"], db.Busy),
    ("TransactionCanceledException", ["ThrottlingError", "None"], db.Busy),
    ("TransactionCanceledException", ["None", "ValidationError"], db.TransactionCancelled),
    ("ProvisionedThroughputExceededException", None, db.Busy),
    ("ThrottlingException", None, db.Busy),
    ("TransactionConflictException", None, db.Busy),
    ("InternalServerError", None, db.Busy),
    ("ValidationException", None, db.StoreError),
])
def test_each_refusal_becomes_its_typed_error(code: str, reasons: list[str] | None, kind: type) -> None:
    refused = db.refusal(_error(code, reasons))
    assert type(refused) is kind
    assert refused.code == code


def test_a_cancelled_transaction_names_the_positions_that_failed() -> None:
    refused = db.refusal(_error("TransactionCanceledException", ["None", "ConditionalCheckFailed", "None",
                                                                 "ConditionalCheckFailed"]))
    assert isinstance(refused, db.TransactionCancelled)
    assert refused.failed() == [1, 3]
    assert refused.failed_at(1) and not refused.failed_at(0) and not refused.failed_at(9)


def _handles_botocore(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("botocore"):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} imports from {node.module}")
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in (
                "TransactionCanceledException", "ConditionalCheckFailedException", "CancellationReasons"):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} reads DynamoDB's error code {node.value}")
    return found


def test_no_dynamodb_error_is_decoded_above_the_store() -> None:
    # The workflow's starter and consumer are the Step Functions and SQS clients: their own
    # botocore errors are theirs to handle (a failed hand-off), as DynamoDB's are the store's.
    allowed = {"chalicelib/workflow/starter.py", "chalicelib/workflow/consumer.py"}
    problems = [problem for path in sorted((ROOT / "chalicelib").rglob("*.py"))
                if not path.relative_to(ROOT).as_posix().startswith("chalicelib/store/")
                and path.relative_to(ROOT).as_posix() not in allowed
                for problem in _handles_botocore(path)]
    problems += _handles_botocore(ROOT / "app.py")
    assert problems == []
