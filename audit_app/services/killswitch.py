"""Suspend and resume inference (AI Act Art. 26(5)); each change is recorded with who and when."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from audit_app.models import Job, KillSwitchEvent
from audit_app.services.evidence import kill_switch_state
from audit_app.services.queueing import send_missing_messages
from audit_app.services.store import store_evidence


def current_suspension() -> KillSwitchEvent | None:
    """The suspension in force, or None while inference runs.

    The state is the latest ledgered event in ledger order, not the latest row by date: a row
    inserted without an entry, or dated into the future or past, changes nothing.
    """
    latest = kill_switch_state()
    return latest if latest is not None and latest.action == KillSwitchEvent.SUSPEND else None


def suspend_inference(actor: User, reason: str) -> KillSwitchEvent:
    """Refuse new submissions and cancel running jobs; queued jobs wait for ``resume_inference``."""
    if not reason.strip():
        raise ValueError("Give a reason for suspending inference.")
    with transaction.atomic():
        # Lock order: job rows first, then the ledger head (inside _record), the order record_run takes
        # them; the other order deadlocks with a job finishing at the same moment.
        running = Job.objects.select_for_update().filter(status=Job.RUNNING).order_by("pk")
        Job.objects.filter(pk__in=list(running.values_list("pk", flat=True))).update(cancel_requested=True)
        return _record(KillSwitchEvent.SUSPEND, actor, reason)


def resume_inference(actor: User, reason: str = "") -> KillSwitchEvent:
    """Accept submissions again and send the jobs that waited (those whose message a worker set aside)."""
    with transaction.atomic():
        event = _record(KillSwitchEvent.RESUME, actor, reason)
        transaction.on_commit(send_missing_messages)
    return event


def _record(action: str, actor: User, reason: str) -> KillSwitchEvent:
    event = KillSwitchEvent(action=action, actor=actor, actor_name=actor.get_username(), reason=reason.strip())
    return store_evidence(event)
