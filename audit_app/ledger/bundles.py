"""Evidence bundles: one record's entry, its inclusion proof, a signed checkpoint and the public key."""

from __future__ import annotations

import json
from typing import Any

from audit_app.ledger import merkle
from audit_app.ledger.log import fetch_nodes
from audit_app.ledger.signer import public_verifier_key, sign_now
from audit_app.ledger.standalone import BUNDLE_FORMAT, canonical_json
from audit_app.models import Checkpoint, LedgerEntry


def find_entry(reference: str) -> LedgerEntry:
    """An entry by sequence number (``42``) or by subject (``run:7``, ``submission:3``)."""
    entries = (
        LedgerEntry.objects.filter(sequence=int(reference))
        if reference.isdigit()
        else (LedgerEntry.objects.filter(subject=reference))
    )
    entry: LedgerEntry | None = entries.order_by("sequence").first()
    if entry is None:
        raise LookupError(f"No ledger entry for {reference!r}.")
    return entry


def build_bundle(entry: LedgerEntry) -> dict[str, Any]:
    """The bundle for ``entry`` under a checkpoint of the current tree head (signed now if the log grew)."""
    sign_now()
    checkpoint = Checkpoint.objects.order_by("-size", "-id").first()
    assert checkpoint is not None, "sign_now() leaves a checkpoint once the log has an entry"
    return {
        "format": BUNDLE_FORMAT,
        "entry": {
            "index": entry.sequence,
            "leaf_hash": bytes(entry.leaf_hash).hex(),
            "payload": json.loads(bytes(entry.payload)),
        },
        "inclusion_proof": [h.hex() for h in merkle.inclusion_proof(entry.sequence, checkpoint.size, fetch_nodes)],
        "checkpoint": {"size": checkpoint.size, "note": checkpoint.note},
        "verifier_key": public_verifier_key(),
    }


def bundle_bytes(bundle: dict[str, Any]) -> bytes:
    """Canonical JSON, so that every byte of the file is covered by the verification."""
    return canonical_json(bundle)
