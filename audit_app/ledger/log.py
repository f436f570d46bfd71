"""Appending to the Merkle log and reading roots and proofs from the database.

Appends take a transaction-scoped advisory lock, so sequence numbers are total and gap-free,
and an entry commits or rolls back together with the evidence row written in the same
transaction: never a row without its entry, an entry without its row, or a gap.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import connection, models, transaction
from django.db.models import Q
from django.utils import timezone

from audit_app.ledger import merkle
from audit_app.ledger.canonical import canonical_json
from audit_app.ledger.records import evidence_record
from audit_app.ledger.verifier import leaf_hash
from audit_app.models import LedgerEntry, LedgerNode

LOCK_KEY = 0x61756469745F6C67  # "audit_lg": one advisory lock for the whole log


def fetch_nodes(keys: Iterable[merkle.NodeKey]) -> dict[merkle.NodeKey, bytes]:
    """Stored subtree hashes for ``keys``, in one query."""
    wanted = list(keys)
    if not wanted:
        return {}
    condition = Q()
    for level, index in wanted:
        condition |= Q(level=level, index=index)
    rows = LedgerNode.objects.filter(condition).values_list("level", "index", "hash")
    return {(level, index): bytes(digest) for level, index, digest in rows}


def tree_size() -> int:
    last = LedgerEntry.objects.order_by("-sequence").values_list("sequence", flat=True).first()
    return 0 if last is None else last + 1


def append(kind: str, subject: str, body: dict[str, Any]) -> LedgerEntry:
    """Add one leaf; must run inside the transaction that writes the evidence it describes."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("Ledger entries are written in the same transaction as their evidence.")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
    sequence = tree_size()
    recorded_at = timezone.now()
    header = {"sequence": sequence, "kind": kind, "subject": subject, "recorded_at": recorded_at.isoformat()}
    payload = canonical_json(body | header)
    leaf = leaf_hash(payload)
    entry = LedgerEntry.objects.create(sequence=sequence, kind=kind, subject=subject, payload=payload,
                                       leaf_hash=leaf, recorded_at=recorded_at)  # fmt: skip
    completed = merkle.nodes_completed_by(sequence, leaf, fetch_nodes)
    LedgerNode.objects.bulk_create(LedgerNode(level=lv, index=ix, hash=h) for (lv, ix), h in completed.items())
    return entry


def record_evidence(kind: str, instance: models.Model, **related: Any) -> LedgerEntry:
    """Ledger ``instance`` (saved in this transaction, its ``record_sha256`` set) as ``kind:<id>``."""
    record = {"record": evidence_record(instance), "record_sha256": getattr(instance, "record_sha256", None)}
    return append(kind, f"{kind}:{instance.pk}", record | related)
