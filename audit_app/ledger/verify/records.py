"""Entries → rows: each ledgered record still equals its row, and every hash column equals its recomputation."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from audit_app.ledger.canonical import canonical_json
from audit_app.ledger.derived import derived_hashes, text_sha256
from audit_app.ledger.problems import Problem
from audit_app.ledger.verify.fastjson import NEXT_KEY, RECORD_KEY, split_payload
from audit_app.ledger.verify.rows import EVIDENCE, Row

ENTRY_TABLE = "audit_app_ledgerentry"
DOCUMENT_TABLE = "audit_app_document"
SPLIT_ABOVE = 2048  # bytes of payload; measured: below it, json.loads and a dict compare cost less


class Entry:
    """One decoded entry of a chunk: its top-level fields, and its record's exact bytes where split off.

    With ``record_bytes`` set, ``body["record"]`` is None and the record is compared as bytes; if the
    bytes differ from the row's, :meth:`full_body` decodes the whole payload and the record is compared
    as values, as without the shortcut.
    """

    __slots__ = ("body", "key", "kind", "payload", "record_bytes", "sequence")

    def __init__(
        self,
        sequence: int,
        kind: str,
        key: int,
        payload: bytes,
        body: dict[str, Any],
        record_bytes: bytes | None = None,
    ) -> None:
        self.sequence, self.kind, self.key, self.payload, self.body = sequence, kind, key, payload, body
        self.record_bytes = record_bytes

    def full_body(self) -> dict[str, Any] | None:
        """The whole payload decoded (None if it is not a JSON object: only a payload the split misread)."""
        if self.record_bytes is None:
            return self.body
        try:
            body = json.loads(self.payload)
        except ValueError:
            return None
        return body if isinstance(body, dict) else None


def decode_entry(sequence: int, kind: str, subject: str, payload: bytes) -> tuple[dict[str, Any], bytes | None]:
    """The payload's top-level fields and its record's bytes, split without decoding the record if possible.

    A small payload (a view, a kill-switch event) decodes whole faster than it splits, and its record then
    compares as a dict; a large one (a run record's token lists) is split. Raises ValueError if the payload
    is not JSON.
    """
    split = split_payload(payload) if len(payload) >= SPLIT_ABOVE else None
    if split is not None:
        return split
    return json.loads(payload), None


def record_sha256_matches(payload: bytes, record: Any, expected: Any) -> bool:
    """Whether ``expected`` is the SHA-256 of the canonical JSON of ``record``, the ledgered record in ``payload``.

    The payload is RFC 8785 canonical JSON, whose form nests: the record's own canonical bytes are the
    slice of the payload between ``"record":`` and the next top-level key, ``"record_sha256"`` (keys are
    sorted; a string cannot hold an unescaped quote, and no record column is named ``record_sha256``).
    Hashing that slice gives the canonical hash without re-serializing in pure Python; if it does not match
    (a payload not in canonical form, a misplaced slice), the record is canonicalized the slow way.
    """
    start = payload.find(RECORD_KEY)
    if start >= 0:
        end = payload.find(NEXT_KEY, start)
        if end >= 0 and hashlib.sha256(payload[start + len(RECORD_KEY) - 1 : end + 1]).hexdigest() == expected:
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
    if entry.record_bytes is not None and row.compact_record() == entry.record_bytes:
        yield from _check_hashes(table, row, entry, entry.record_bytes)  # the same record, to the byte
        return
    body = entry.full_body()
    if body is None:
        yield Problem(ENTRY_TABLE, str(entry.sequence), "its payload is not JSON.", entry.sequence)
        return
    ledgered = body.get("record")
    if row.record != ledgered:
        other = ledgered if isinstance(ledgered, dict) else {}
        columns = sorted(k for k in row.record.keys() | other.keys() if row.record.get(k) != other.get(k))
        yield Problem(table, str(row.pk), f"differs from what was ledgered in {', '.join(columns)}.", entry.sequence)
    else:
        ledgered_hash = body.get("record_sha256")
        if not record_sha256_matches(entry.payload, ledgered, ledgered_hash):
            yield Problem(
                ENTRY_TABLE, str(entry.sequence), "its record_sha256 is not the hash of its record.", entry.sequence
            )
        if row.stored.get("record_sha256") != ledgered_hash:
            yield Problem(table, str(row.pk), "record_sha256 is not the hash of the row's record.", entry.sequence)
    yield from _check_derived(table, row, entry)


def _check_hashes(table: str, row: Row, entry: Entry, record_bytes: bytes) -> Iterator[Problem]:
    """As the slow path's hash checks, for a record known to equal the row's and to be ``record_bytes``."""
    ledgered_hash = entry.body.get("record_sha256")
    if hashlib.sha256(record_bytes).hexdigest() != ledgered_hash and (
        hashlib.sha256(canonical_json(row.record)).hexdigest() != ledgered_hash  # not the canonical bytes after all
    ):
        yield Problem(
            ENTRY_TABLE, str(entry.sequence), "its record_sha256 is not the hash of its record.", entry.sequence
        )
    if row.stored.get("record_sha256") != ledgered_hash:
        yield Problem(table, str(row.pk), "record_sha256 is not the hash of the row's record.", entry.sequence)
    yield from _check_derived(table, row, entry)


def _check_derived(table: str, row: Row, entry: Entry) -> Iterator[Problem]:
    for column, value in _derived(row).items():
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
        yield Problem(
            DOCUMENT_TABLE, None, f"document {position} of submission {entry.key} is missing.", entry.sequence
        )


def _derived(row: Row) -> dict[str, str]:
    """``derived_hashes`` of the row; a run's prompt hash straight from its token list's text where it can be.

    ``token_ids_sha256`` hashes the compact JSON of a list of safe integers, which is what ``int_list`` gives.
    """
    if row.label == "audit_app.runrecord":
        ids = row.int_list("prompt_token_ids")
        if ids is not None:
            return {
                "prompt_sha256": hashlib.sha256(ids).hexdigest(),
                "thinking_sha256": text_sha256(row.plain["thinking"]),
                "answer_sha256": text_sha256(row.plain["answer"]),
            }
    return derived_hashes(row.label, row.content)
