"""The local stack keeps its data across Ctrl-C, SIGTERM and SIGKILL (`.local/data/` by default).

DynamoDB holds everything the product stores (sites, users, mechanics, API keys, activities,
wallets, ledgers), so DynamoDB is what is kept:

- **A journal of writes.** Every DynamoDB write that moto answered 200 (PutItem, UpdateItem,
  DeleteItem, BatchWriteItem, TransactWriteItems and the table operations) is appended, as its
  parsed request, to `journal-{generation}.jsonl`, inside the DynamoDB lock that serializes
  requests (`local.patches.serialize_dynamodb`): the journal's order is the order moto applied
  them in, and replaying it from the same start gives the same items, conditions included.
  Each line is handed to the operating system before the request is answered, so a SIGKILL
  loses nothing a client was told (a machine crash may lose the last lines: no fsync per write).
- **Snapshots.** At a clean stop, at every start (after replaying) and whenever the journal
  passes `JOURNAL_LIMIT` bytes, every table's definition and items are written to
  `snapshot.jsonl` (a temporary file, fsynced, renamed over the old one). Its first line names
  the journal generation that comes after it; journals before that one are contained in it and
  removed. A crash between the rename and the removal leaves journals the next start ignores.
- **Work in flight.** SQS messages and Express executions are not kept: after a restore, every
  accepted activity and reject that had not ended is handed over again (`reconcile.resume`), so
  accepted work finishes after a restart, in each user's order.

`make reset` deletes the data directory. `LOCAL_DATA_DIR` names another one; set empty, the
stack keeps nothing (the tests and benches start that way).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from local import patches

DATA_DIR_VARIABLE = "LOCAL_DATA_DIR"
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1] / ".local" / "data"
SNAPSHOT = "snapshot.jsonl"
FORMAT = 1
JOURNAL_LIMIT = 64 * 1024 * 1024  # a snapshot then: restores replay snapshots faster than journals

# The requests that change what DynamoDB holds (the only ones journaled).
WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems",
                    "CreateTable", "DeleteTable", "UpdateTable", "UpdateTimeToLive"})
_TABLE_DEFINITIONS = ("CreateTable", "UpdateTable", "UpdateTimeToLive")
_BINARY = "$b64"  # how a binary value (bytes after moto's request parsing) is written in JSON


def data_dir() -> Path | None:
    """Where `python -m local` keeps its data: `LOCAL_DATA_DIR`, or `.local/data`; None when empty."""
    value = os.environ.get(DATA_DIR_VARIABLE)
    if value is None:
        return DEFAULT_DATA_DIR
    return Path(value) if value.strip() else None


def _encode(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return {_BINARY: base64.b64encode(value).decode()}
    raise TypeError(f"cannot journal a {type(value).__name__}")


def _decode(node: dict[str, Any]) -> Any:
    if len(node) == 1 and _BINARY in node:
        return base64.b64decode(node[_BINARY])
    return node


class Durability:
    """One data directory: restore it into moto, then journal every write into it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._journal: IO[str] | None = None
        self._generation = 0
        # Each table's definition requests (CreateTable, then updates) by (account, region, name):
        # what a snapshot writes before the table's items.
        self._definitions: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        self._lock = threading.Lock()  # journal file and definitions (writes come under moto's lock too)

    # -- start and stop ---------------------------------------------------------------------------

    def restore(self) -> int:
        """Apply the snapshot and the journals after it to moto (empty, started); then compact and
        open a new journal. Returns how many requests were applied (0: nothing was kept)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        applied = 0
        first_journal = 0
        snapshot = self.directory / SNAPSHOT
        if snapshot.exists():
            lines = _read_lines(snapshot)
            header = next(lines, None)
            if header is None or header.get("format") != FORMAT:
                raise SystemExit(f"{snapshot}: not a snapshot this runtime wrote; `make reset` starts over")
            first_journal = int(header["next"])
            applied += sum(self._apply(entry) for entry in lines)
        journals = self._journals()
        for generation, path in journals:
            if generation >= first_journal:
                applied += sum(self._apply(entry) for entry in _read_lines(path))
        self._generation = max([first_journal, *(g + 1 for g, _ in journals)])
        with patches.dynamodb_lock():
            self._snapshot_locked()
        patches.observe_dynamodb_writes(self._journaled)
        return applied

    def close(self) -> None:
        """A clean stop: no more writes are journaled, everything is in a fresh snapshot."""
        patches.observe_dynamodb_writes(None)
        with patches.dynamodb_lock(), self._lock:
            self._snapshot_locked()
            if self._journal is not None:
                self._journal.close()
                self._journal = None

    def size(self) -> int:
        """Bytes the data directory holds (snapshot and journals)."""
        return sum(path.stat().st_size for path in self.directory.iterdir() if path.is_file())

    # -- the journal ------------------------------------------------------------------------------

    def _journaled(self, action: str, params: dict[str, Any], account: str, region: str) -> None:
        """Called by the DynamoDB lock's holder after moto answered a request 200."""
        if action not in WRITES:
            return
        entry = {"a": action, "acct": account, "r": region, "p": params}
        line = json.dumps(entry, default=_encode, separators=(",", ":")) + "\n"
        with self._lock:
            self._remember_definition(entry)
            assert self._journal is not None
            self._journal.write(line)
            self._journal.flush()  # to the OS now: a SIGKILL of this process loses nothing
            if self._journal.tell() > JOURNAL_LIMIT:
                self._snapshot_locked()

    def _remember_definition(self, entry: dict[str, Any]) -> None:
        name = str(entry["p"].get("TableName", ""))
        key = (entry["acct"], entry["r"], name)
        if entry["a"] == "CreateTable":
            self._definitions[key] = [entry]
        elif entry["a"] in _TABLE_DEFINITIONS and key in self._definitions:
            self._definitions[key].append(entry)
        elif entry["a"] == "DeleteTable":
            self._definitions.pop(key, None)

    def _journals(self) -> list[tuple[int, Path]]:
        found = []
        for path in self.directory.glob("journal-*.jsonl"):
            with contextlib.suppress(ValueError):
                found.append((int(path.stem.removeprefix("journal-")), path))
        return sorted(found)

    # -- snapshots --------------------------------------------------------------------------------

    def _snapshot_locked(self) -> None:
        """Every table's definition and items into a new snapshot, then a new journal. The
        caller holds the DynamoDB lock (no write in between) and, when journaling, `_lock`."""
        from moto.dynamodb.models import dynamodb_backends

        self._generation += 1
        tmp = self.directory / (SNAPSHOT + ".tmp")
        with tmp.open("w") as out:
            out.write(json.dumps({"format": FORMAT, "next": self._generation}) + "\n")
            for (account, region, name), definition in self._definitions.items():
                table = dynamodb_backends[account][region].tables.get(name)
                if table is None:
                    continue
                for entry in definition:
                    out.write(json.dumps(entry, default=_encode, separators=(",", ":")) + "\n")
                for item in table.all_items():
                    put = {"a": "PutItem", "acct": account, "r": region,
                           "p": {"TableName": name, "Item": item.to_json()["Attributes"]}}
                    out.write(json.dumps(put, default=_encode, separators=(",", ":")) + "\n")
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(self.directory / SNAPSHOT)
        if self._journal is not None:
            self._journal.close()
        self._journal = (self.directory / f"journal-{self._generation}.jsonl").open("a")
        for generation, path in self._journals():
            if generation < self._generation:
                path.unlink()

    # -- replay -----------------------------------------------------------------------------------

    def _apply(self, entry: dict[str, Any]) -> int:
        """One journaled request, applied to moto as its handler applies it (not journaled again)."""
        from moto.core.utils import camelcase_to_underscores
        from moto.dynamodb.responses import DynamoHandler

        handler = DynamoHandler()
        handler.params = entry["p"]
        handler.body = entry["p"]
        handler.querystring = {}
        handler.uri_match = {}
        handler.headers = {}
        handler.response_headers = {}
        handler.region = entry["r"]
        handler.current_account = entry["acct"]
        getattr(handler, camelcase_to_underscores(entry["a"]))()
        self._remember_definition(entry)
        return 1


def _read_lines(path: Path) -> Iterator[dict[str, Any]]:
    """The entries of a journal or snapshot; a last line cut short by a kill is left out."""
    with path.open() as lines:
        for line in lines:
            if not line.endswith("\n"):
                return  # the write a SIGKILL interrupted: never answered, never applied
            yield json.loads(line, object_hook=_decode)
