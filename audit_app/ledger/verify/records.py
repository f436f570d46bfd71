"""Entries → rows: each ledgered record still equals its row, and every hash column equals its recomputation."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from audit_app.ledger.canonical import canonical_json
from audit_app.ledger.derived import derived_hashes
from audit_app.ledger.problems import Problem
from audit_app.ledger.verify.rows import EVIDENCE, Row, documents_by_submission, rows_by_id

ENTRY_TABLE = "audit_app_ledgerentry"
DOCUMENT_TABLE = "audit_app_document"
_DECODER = json.JSONDecoder()


class Entry:
    """One decoded entry of a chunk."""

    __slots__ = ("body", "key", "kind", "payload", "sequence")

    def __init__(self, sequence: int, kind: str, key: int, payload: bytes, body: dict[str, Any]) -> None:
        self.sequence, self.kind, self.key, self.payload, self.body = sequence, kind, key, payload, body


def record_sha256(payload: bytes, record: Any) -> str:
    """SHA-256 of the canonical JSON of ``record``, the ledgered record inside ``payload``.

    The payload is RFC 8785 canonical JSON and its canonical form nests: the record's own canonical bytes
    are the slice of the payload that decodes to it. Hashing that slice gives the canonical hash without
    re-serializing in pure Python; when the slice is not found (a forged, non-canonical payload), the
    record is canonicalized the slow way.
    """
    start = payload.find(b'"record":{')
    if start >= 0:
        text = payload.decode()
        offset = len(payload[: start + 9].decode())
        try:
            value, end = _DECODER.raw_decode(text, offset)
        except ValueError:
            value = None
        if value == record:
            return hashlib.sha256(text[offset:end].encode()).hexdigest()
    return hashlib.sha256(canonical_json(record)).hexdigest()


def check_chunk(entries: list[Entry]) -> Iterator[Problem]:
    """Every problem of ``entries`` (one chunk), with one query per evidence kind."""
    wanted: dict[str, list[int]] = {}
    for entry in entries:
        wanted.setdefault(entry.kind, []).append(entry.key)
    rows = {kind: rows_by_id(EVIDENCE[kind], keys) for kind, keys in wanted.items()}
    documents = documents_by_submission(wanted.get("submission", []))
    for entry in entries:
        model = EVIDENCE[entry.kind]
        table = model._meta.db_table
        row = rows[entry.kind].get(entry.key)
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
        recomputed = record_sha256(entry.payload, ledgered)
        if entry.body.get("record_sha256") != recomputed:
            yield Problem(ENTRY_TABLE, str(entry.sequence), "its record_sha256 is not the hash of its record.",
                          entry.sequence)  # fmt: skip
        if row.stored.get("record_sha256") != recomputed:
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
