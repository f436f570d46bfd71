"""Entries → rows: each ledgered record still equals its row, and every hash column equals its recomputation."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from audit_app.ledger.canonical import canonical_json
from audit_app.ledger.derived import derived_hashes
from audit_app.ledger.problems import Problem
from audit_app.ledger.verify.rows import EVIDENCE, Row

ENTRY_TABLE = "audit_app_ledgerentry"
DOCUMENT_TABLE = "audit_app_document"
_RECORD_KEY, _NEXT_KEY = b'"record":{', b'},"record_sha256":'


class Entry:
    """One decoded entry of a chunk."""

    __slots__ = ("body", "key", "kind", "payload", "sequence")

    def __init__(self, sequence: int, kind: str, key: int, payload: bytes, body: dict[str, Any]) -> None:
        self.sequence, self.kind, self.key, self.payload, self.body = sequence, kind, key, payload, body


def record_sha256_matches(payload: bytes, record: Any, expected: Any) -> bool:
    """Whether ``expected`` is the SHA-256 of the canonical JSON of ``record``, the ledgered record in ``payload``.

    The payload is RFC 8785 canonical JSON, whose form nests: the record's own canonical bytes are the
    slice of the payload between ``"record":`` and the next top-level key, ``"record_sha256"`` (keys are
    sorted; a string cannot hold an unescaped quote, and no record column is named ``record_sha256``).
    Hashing that slice gives the canonical hash without re-serializing in pure Python; if it does not match
    (a payload not in canonical form, a misplaced slice), the record is canonicalized the slow way.
    """
    start = payload.find(_RECORD_KEY)
    if start >= 0:
        end = payload.find(_NEXT_KEY, start)
        if end >= 0 and hashlib.sha256(payload[start + len(_RECORD_KEY) - 1 : end + 1]).hexdigest() == expected:
            return True
    return bool(hashlib.sha256(canonical_json(record)).hexdigest() == expected)


def check_chunk(
    entries: list[Entry], rows: dict[str, dict[int, Row]], documents: dict[int, list[Row]]
) -> Iterator[Problem]:
    """Every problem of ``entries`` (one chunk) against the rows read with it."""
    for entry in entries:
        model = EVIDENCE[entry.kind]
        table = model._meta.db_table
        row = rows.get(entry.kind, {}).get(entry.key)
        if row is None:
            yield Problem(table, str(entry.key), "is missing from the database (its entry ledgers it).", entry.sequence)
            continue
        yield from _check_row(table, row, entry)
        if entry.kind == "submission":
            yield from _check_documents(documents.get(entry.key, []), entry)


def _check_row(table: str, row: Row, entry: Entry) -> Iterator[Problem]:
    ledgered = entry.body.get("record")
    if row.record != ledgered:
        other = ledgered if isinstance(ledgered, dict) else {}
        columns = sorted(k for k in row.record.keys() | other.keys() if row.record.get(k) != other.get(k))
        yield Problem(table, str(row.pk), f"differs from what was ledgered in {', '.join(columns)}.", entry.sequence)
    else:
        ledgered_hash = entry.body.get("record_sha256")
        if not record_sha256_matches(entry.payload, ledgered, ledgered_hash):
            yield Problem(ENTRY_TABLE, str(entry.sequence), "its record_sha256 is not the hash of its record.",
                          entry.sequence)  # fmt: skip
        if row.stored.get("record_sha256") != ledgered_hash:
            yield Problem(table, str(row.pk), "record_sha256 is not the hash of the row's record.", entry.sequence)
    label = row.record["model"]
    for column, value in derived_hashes(label, row.content).items():
        if row.stored.get(column) != value:
            yield Problem(table, str(row.pk), f"{column} is not the SHA-256 of the row's content.", entry.sequence)


def _check_documents(rows: list[Row], entry: Entry) -> Iterator[Problem]:
    ledgered = entry.body.get("documents")
    ledgered = ledgered if isinstance(ledgered, list) else []
    by_position = {d.get("position"): d for d in ledgered if isinstance(d, dict)}
    for row in rows:
        position = row.content["position"]
        if by_position.pop(position, None) != row.record:
            message = f"is not document {position} of submission {entry.key} as ledgered."
            yield Problem(DOCUMENT_TABLE, str(row.pk), message, entry.sequence)
    for position in sorted(by_position, key=str):
        yield Problem(DOCUMENT_TABLE, None, f"document {position} of submission {entry.key} is missing.",
                      entry.sequence)  # fmt: skip
