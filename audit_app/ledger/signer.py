"""Signing checkpoints of the log with the configured Ed25519 key, from the entries alone.

The signed root is derived from the entries' payloads: the right edge stored with the previous checkpoint
(checked against that checkpoint's signed root) is extended with the leaf hash of every new payload. The
root the stored nodes give (what proofs are served from) must agree; on any disagreement nothing is
signed, an ERROR is logged and a write-once ``LedgerAlert`` records it for operators and auditors.
"""

from __future__ import annotations

import logging

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction

from audit_app.ledger import merkle
from audit_app.ledger.log import fetch_nodes, tree_size
from audit_app.ledger.signed_note import sign_checkpoint, verifier_key
from audit_app.ledger.standalone import VerificationError, leaf_hash, verify_checkpoint
from audit_app.models import Checkpoint, LedgerAlert, LedgerEntry

logger = logging.getLogger(__name__)
SIGNER_LOCK = 0x6C656467  # pg_advisory_xact_lock key: one signer at a time, so a size is signed once


class SigningRefused(Exception):
    """The log is inconsistent, so no checkpoint was signed; the message says why in one sentence."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def signing_key() -> Ed25519PrivateKey:
    pem = settings.GLASSBOX["LEDGER_KEY"]
    if not pem:
        raise ImproperlyConfigured(
            "No ledger signing key: run `manage.py ledger_keygen PATH` and set GLASSBOX_LEDGER_KEY_FILE to PATH."
        )
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ImproperlyConfigured("GLASSBOX_LEDGER_KEY does not hold an Ed25519 private key.")
    return key


def public_verifier_key() -> str:
    origin = settings.GLASSBOX["LEDGER_ORIGIN"]
    return verifier_key(signing_key(), origin)


def sign_now(force: bool = False) -> Checkpoint | None:
    """Sign the current tree head if the log grew since the last checkpoint (or ``force``).

    Cheap when nothing grew (two index lookups), so beat can call it every few seconds. Raises
    ``SigningRefused`` (after logging and recording an alert) instead of signing a root the entries do
    not give.
    """
    key, origin = signing_key(), settings.GLASSBOX["LEDGER_ORIGIN"]
    size = 0
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SIGNER_LOCK])
            size = tree_size()
            latest = Checkpoint.objects.order_by("-size", "-id").first()
            if latest is not None and latest.size == size and not force:
                return None
            if latest is not None and latest.size > size:
                raise SigningRefused(
                    "log-shorter", f"Checkpoint {latest.pk} signs {latest.size} entries but the log now ends at {size}."
                )
            frontier = _frontier_from_entries(size, verifier_key(key, origin))
            root = merkle.frontier_root(frontier)
            _require_stored_root(size, root)
            note = sign_checkpoint(key, origin, origin, size, root)
            return Checkpoint.objects.create(size=size, root=root, note=note, frontier=b"".join(frontier))
    except SigningRefused as refusal:
        _raise_alert(refusal, size)
        raise


def _frontier_from_entries(size: int, own_key: str) -> list[bytes]:
    """The right edge at ``size``, from the last trustworthy checkpoint's edge and the payloads after it."""
    start, frontier = _base(size, own_key)
    expected = start
    leaves = []
    entries = LedgerEntry.objects.filter(sequence__gte=start, sequence__lt=size).order_by("sequence")
    for sequence, payload, stored_leaf in entries.values_list("sequence", "payload", "leaf_hash").iterator(5000):
        if sequence != expected:
            raise SigningRefused("entry-missing", f"Ledger entry {expected} is missing (the log jumps to {sequence}).")
        leaf = leaf_hash(bytes(payload))
        if leaf != bytes(stored_leaf):
            raise SigningRefused("leaf-mismatch", f"Ledger entry {sequence}'s payload does not match its leaf hash.")
        leaves.append(leaf)
        expected += 1
    if expected != size:
        raise SigningRefused("entry-missing", f"Ledger entry {expected} is missing (the log ends at {size}).")
    return merkle.extend_frontier(frontier, start, leaves)


def _base(size: int, own_key: str) -> tuple[int, list[bytes]]:
    """The latest checkpoint whose stored edge folds to the root it signs, or the empty tree.

    The edge column is not signed, so it is trusted only when it gives the signed root (finding another
    edge with that root would need a SHA-256 second preimage). A checkpoint signed by another key or origin
    (after a rotation) is skipped silently; an edge that fails its own signed root is an alert.
    """
    candidate = Checkpoint.objects.filter(size__lte=size, frontier__isnull=False).order_by("-size", "-id").first()
    if candidate is None:
        return 0, []
    try:
        _, signed_size, signed_root = verify_checkpoint(candidate.note, own_key)
    except VerificationError:
        logger.info("Checkpoint %s is not signed by the current key; the signer starts from leaf 0.", candidate.pk)
        return 0, []
    stored = bytes(candidate.frontier or b"")
    frontier = [stored[i : i + 32] for i in range(0, len(stored), 32)]
    if (
        signed_size != candidate.size
        or len(stored) != 32 * candidate.size.bit_count()
        or merkle.frontier_root(frontier) != signed_root
    ):
        _raise_alert(
            SigningRefused(
                "frontier-mismatch",
                f"The right edge stored with checkpoint {candidate.pk} does not give the root it signs; "
                "the signer recomputed the tree from leaf 0 instead.",
            ),
            size,
        )
        return 0, []
    return candidate.size, frontier


def _require_stored_root(size: int, root: bytes) -> None:
    """Proofs are served from the stored nodes: refuse to sign a root they would not lead to."""
    try:
        stored = merkle.root(size, fetch_nodes)
    except merkle.MissingNodeError as error:
        raise SigningRefused("node-missing", f"{error} The signer cannot vouch for proofs at size {size}.") from None
    if stored != root:
        raise SigningRefused(
            "root-mismatch",
            f"The stored tree nodes give a different root at size {size} than the entries' leaf hashes; "
            "the signer refused to sign it.",
        )


def _raise_alert(refusal: SigningRefused, size: int) -> None:
    """Log at ERROR and keep a write-once record; a lasting condition is recorded once, not every interval."""
    logger.error("Ledger alert (%s): %s", refusal.reason, refusal)
    latest = LedgerAlert.objects.order_by("-id").first()
    if latest is not None and (latest.source, latest.reason) == ("signer", refusal.reason):
        return
    LedgerAlert.objects.create(source="signer", reason=refusal.reason, size=size, message=str(refusal))
