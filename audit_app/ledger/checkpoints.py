"""Signing checkpoints of the log with the configured Ed25519 key."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from audit_app.ledger import merkle
from audit_app.ledger.checkpoint import sign_checkpoint, verifier_key
from audit_app.ledger.log import fetch_nodes, tree_size
from audit_app.models import Checkpoint


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

    No lock is needed: the root of the first ``size`` committed leaves never changes, so a concurrent
    append cannot make size and root disagree (two racing calls at most sign the same size twice).
    """
    key, origin = signing_key(), settings.GLASSBOX["LEDGER_ORIGIN"]
    with transaction.atomic():
        size = tree_size()
        latest = Checkpoint.objects.order_by("-size", "-id").first()
        if latest is not None and latest.size == size and not force:
            return None
        root = merkle.root(size, fetch_nodes)
        return Checkpoint.objects.create(size=size, root=root, note=sign_checkpoint(key, origin, origin, size, root))
