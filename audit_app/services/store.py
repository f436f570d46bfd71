"""``store_evidence``: the one way evidence is written: record hash, row (and its parts), ledger entry, one transaction.

Submissions, run records, kill-switch events, access events and verification results all go through
here; the write-once models refuse an insert anywhere else (``EvidenceWriteError``), so a new kind of
evidence cannot be stored without its entry, and an entry cannot be written for a row that was not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.db import transaction

from audit_app.ledger import log as ledger
from audit_app.ledger.records import evidence_hash, evidence_record
from audit_app.models.write_once import WriteOnceModel, storing

Row = TypeVar("Row", bound=WriteOnceModel)


def store_evidence(
    row: Row,
    documents: Callable[[Row], Sequence[WriteOnceModel]] | None = None,
    entry: Callable[[Row], dict[str, Any]] | None = None,
) -> Row:
    """Hash ``row`` as the database will hold it, insert it, then its ``documents`` (built once the row has
    its id), and append its ``<kind>:<id>`` ledger entry, all or nothing.

    ``entry`` adds fields to the entry, computed after the row and its documents are stored (a
    submission's entry names the job created with it).
    """
    kind = type(row).evidence_kind
    if kind is None:
        raise TypeError(f"{type(row).__name__} is not ledgered evidence (its model sets no evidence_kind).")
    with transaction.atomic():
        row.record_sha256 = evidence_hash(row)  # type: ignore[attr-defined]  # every evidence model has it
        with storing(row):
            row.save()
            parts = list(documents(row)) if documents is not None else []
            for part in parts:
                part.save()
        related = entry(row) if entry is not None else {}
        if documents is not None:
            related["documents"] = [evidence_record(part) for part in parts]
        ledger.record_evidence(kind, row, **related)
    return row
