"""Appending to the Merkle log and reading roots and proofs from the database.

Appends lock the single head row until their transaction commits, so sequence numbers are total
and gap-free, and an entry commits or rolls back together with the evidence row written in the
same transaction: never a row without its entry, an entry without its row, or a gap.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from audit_app.ledger import merkle
from audit_app.ledger.canonical import canonical_json
from audit_app.ledger.records import evidence_record
from audit_app.ledger.standalone import leaf_hash
from audit_app.models import LedgerEntry

NODE_CLASH = (
    "glassbox: cannot append to the ledger: a tree node already exists for the next position, so entries were "
    "deleted outside the application; run manage.py verify_ledger."
)


def fetch_nodes(keys: Iterable[merkle.NodeKey]) -> dict[merkle.NodeKey, bytes]:
    """Stored subtree hashes for ``keys``, in one query."""
    wanted = list(keys)
    if not wanted:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT level, index, hash FROM audit_app_ledgernode WHERE (level, index) IN "
            "(SELECT * FROM unnest(%s::smallint[], %s::bigint[]))",
            [[level for level, _ in wanted], [index for _, index in wanted]],
        )
        return {(level, index): bytes(digest) for level, index, digest in cursor.fetchall()}


def tree_size() -> int:
    last = LedgerEntry.objects.order_by("-sequence").values_list("sequence", flat=True).first()
    return 0 if last is None else last + 1


def append(kind: str, subject: str, body: dict[str, Any]) -> LedgerEntry:
    """Add one leaf; must run inside the transaction that writes the evidence it describes.

    One round trip to ``glassbox_ledger_append`` (migration 0009): it locks the head row until
    commit, so order is total and a rollback leaves no gap, numbers the entry from the entries and
    stores it with the subtrees it completes, taking siblings from the write-once nodes.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("Ledger entries are written in the same transaction as their evidence.")
    # Everything that does not depend on the position is done before taking the lock; the position
    # itself is what the inclusion proof proves, so the payload need not repeat it.
    recorded_at = timezone.now()
    payload = canonical_json(body | {"kind": kind, "subject": subject, "recorded_at": recorded_at.isoformat()})
    leaf = leaf_hash(payload)
    with connection.cursor() as cursor:
        try:
            cursor.execute(
                "SELECT * FROM glassbox_ledger_append(%s, %s, %s, %s, %s)", [kind, subject, payload, leaf, recorded_at]
            )
        except IntegrityError as error:
            if "ledger_node_unique" not in str(error):
                raise
            # The function numbers entries from the entries themselves; a node already stored for that
            # position means entries were removed from the end by someone who switched the triggers off.
            raise IntegrityError(NODE_CLASH) from error
        entry_id, sequence = cursor.fetchone()
    entry = LedgerEntry(
        id=entry_id,
        sequence=sequence,
        kind=kind,
        subject=subject,
        payload=payload,
        leaf_hash=leaf,
        recorded_at=recorded_at,
    )
    entry._state.adding = False
    return entry


def record_evidence(kind: str, instance: models.Model, **related: Any) -> LedgerEntry:
    """Ledger ``instance`` (saved in this transaction, its ``record_sha256`` set) as ``kind:<id>``."""
    record = {"record": evidence_record(instance), "record_sha256": getattr(instance, "record_sha256", None)}
    return append(kind, f"{kind}:{instance.pk}", record | related)
