"""Views and exports of evidence become evidence themselves: a write-once event and a ledger entry."""

from __future__ import annotations

from django.contrib.auth.models import User

from audit_app.models import AccessEvent
from audit_app.services.store import store_evidence


def record_access(actor: User | None, action: str, subject: str, actor_name: str = "") -> AccessEvent:
    """Ledger that ``actor`` (or ``actor_name`` for command-line use) viewed or exported ``subject``."""
    event = AccessEvent(
        action=action, actor=actor, subject=subject, actor_name=actor.get_username() if actor else actor_name
    )
    return store_evidence(event)
