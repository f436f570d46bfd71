"""Suspend and resume inference (AI Act Art. 26(5)); each change is recorded with who and when."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from audit_app.ledger import log as ledger
from audit_app.ledger.records import evidence_hash
from audit_app.models import Job, KillSwitchEvent
from audit_app.services.evidence import kill_switch_state


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
        event = _record(KillSwitchEvent.SUSPEND, actor, reason)
        Job.objects.filter(status=Job.RUNNING).update(cancel_requested=True)
    return event


def resume_inference(actor: User, reason: str = "") -> KillSwitchEvent:
    """Accept submissions again and send the jobs that waited while inference was suspended."""
    from audit_app.services.submission import enqueue_job

    with transaction.atomic():
        event = _record(KillSwitchEvent.RESUME, actor, reason)
        waiting = list(Job.objects.filter(status=Job.QUEUED, cancel_requested=False).values_list("pk", flat=True))
        transaction.on_commit(lambda: [enqueue_job(job_id) for job_id in waiting])
    return event


def _record(action: str, actor: User, reason: str) -> KillSwitchEvent:
    event = KillSwitchEvent(action=action, actor=actor, actor_name=actor.get_username(), reason=reason.strip())
    event.record_sha256 = evidence_hash(event)
    event.save()
    ledger.record_evidence("kill_switch", event)
    return event
