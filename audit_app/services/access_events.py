"""Views and exports of evidence become evidence themselves: a write-once event and a ledger entry."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from audit_app.ledger import log as ledger
from audit_app.ledger.records import evidence_hash
from audit_app.models import AccessEvent


def record_access(actor: User | None, action: str, subject: str, actor_name: str = "") -> AccessEvent:
    """Ledger that ``actor`` (or ``actor_name`` for command-line use) viewed or exported ``subject``."""
    with transaction.atomic():
        event = AccessEvent(
            action=action, actor=actor, subject=subject, actor_name=actor.get_username() if actor else actor_name
        )
        event.record_sha256 = evidence_hash(event)
        event.save()
        ledger.record_evidence("access", event)
    return event
