"""Proofs for outside monitors: the latest signed checkpoint, inclusion and consistency proofs, the public key.

Everything here is served from the stored tree nodes and the signed checkpoints. Nothing needs trusting:
a wrong node makes a proof fail against the signed root, never pass. Proofs are only given at tree sizes
some checkpoint signed, because a monitor can only check a root that carries the ledger's signature.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from audit_app.ledger import merkle
from audit_app.ledger.bundles import job_of
from audit_app.ledger.log import fetch_nodes
from audit_app.ledger.signer import public_verifier_key
from audit_app.ledger.standalone import parse_checkpoint_body
from audit_app.models import Checkpoint, LedgerEntry

CONSISTENCY_FORMAT = "glassbox-consistency-proof/1"  # what standalone.py --since reads as NEW


class ProofRefused(Exception):
    """No proof can be given; ``status`` is the HTTP status (400 bad sizes, 404 nothing there, 503 no key)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class SignedHead:
    """A checkpoint as a monitor sees it: the note exactly as signed, and what its body says."""

    origin: str
    size: int
    root: bytes
    note: str


@dataclass(frozen=True)
class Inclusion:
    sequence: int
    leaf_hash: bytes
    payload: dict[str, Any]
    job_id: int | None  # the job whose evidence the entry is; None for entries of no job
    proof: list[bytes]
    head: SignedHead


@dataclass(frozen=True)
class Consistency:
    old: SignedHead
    new: SignedHead
    proof: list[bytes]


def _head(checkpoint: Checkpoint) -> SignedHead:
    # The origin is read from the signed body, so the JSON form says what the signature covers.
    origin, _, _ = parse_checkpoint_body(checkpoint.note.partition("\n\n")[0] + "\n")
    return SignedHead(origin, checkpoint.size, bytes(checkpoint.root), checkpoint.note)


def latest() -> SignedHead:
    checkpoint = Checkpoint.objects.order_by("-size", "-id").first()
    if checkpoint is None:
        raise ProofRefused(404, "The ledger has no checkpoint yet: the signer has not signed one; try again shortly.")
    return _head(checkpoint)


def signed(size: int, what: str) -> SignedHead:
    """The latest checkpoint of exactly ``size`` entries; refused (400) if no checkpoint signed that size."""
    newest = latest()
    if size == newest.size:
        return newest
    checkpoint = Checkpoint.objects.filter(size=size).order_by("-id").first()
    if checkpoint is None:
        raise ProofRefused(
            400,
            f"No checkpoint signs a tree of {size} entries, so {what} cannot be checked against a signed root; "
            f"use a size from a checkpoint you saved, or the latest checkpoint's size ({newest.size}).",
        )
    return _head(checkpoint)


def inclusion(sequence: int, size: int | None = None) -> Inclusion:
    """Entry ``sequence``'s leaf, payload and inclusion proof at ``size`` (default: the latest checkpoint's)."""
    head = latest() if size is None else signed(size, "an inclusion proof")
    if sequence < 0:
        raise ProofRefused(400, f"Sequence numbers start at 0; {sequence} is not one.")
    if sequence >= head.size:
        raise ProofRefused(
            404,
            f"Entry {sequence} is not in the log at tree size {head.size} (sequence numbers run 0 to "
            f"{head.size - 1}); if it was appended since, wait for the next checkpoint.",
        )
    entry = LedgerEntry.objects.get(sequence=sequence)
    job = job_of(entry)
    return Inclusion(
        sequence=sequence,
        leaf_hash=bytes(entry.leaf_hash),
        payload=json.loads(bytes(entry.payload)),
        job_id=None if job is None else job.pk,
        proof=merkle.inclusion_proof(sequence, head.size, fetch_nodes),
        head=head,
    )


def consistency(old_size: int, new_size: int | None = None) -> Consistency:
    """The RFC 6962 proof that the tree of ``new_size`` (default: latest checkpoint's) extends ``old_size``."""
    new = latest() if new_size is None else None
    if new_size is not None and old_size > new_size:
        raise ProofRefused(
            400, f"'from' ({old_size}) is larger than 'to' ({new_size}): a log only grows, so ask from the older size."
        )
    old = signed(old_size, "a consistency proof from it")
    if new is None:
        assert new_size is not None
        new = signed(new_size, "a consistency proof to it")
    if old.size > new.size:
        raise ProofRefused(
            400, f"'from' ({old.size}) is larger than the latest checkpoint's size ({new.size}); a log only grows."
        )
    return Consistency(old, new, merkle.consistency_proof(old.size, new.size, fetch_nodes))


def verifier_key() -> str:
    """The ledger's public key as ``manage.py ledger_public_key`` prints it (signed-note verifier key)."""
    try:
        return public_verifier_key()
    except ImproperlyConfigured as error:
        raise ProofRefused(503, f"The ledger has no public key to serve: {error}") from None
