"""Exporting evidence: the export is itself an access event, ledgered before the bundle is signed.

Order matters: the export event is appended first, in the same transaction, and the bundle's checkpoint
is signed after it, so the bundle holds its own export entry (who exported, when). One transaction: an
export that fails to build (no signing key, a log the signer refuses) leaves no export event behind.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from audit_app.ledger.bundles import build_bundle, bundle_bytes, job_entries, job_of, subject_entries
from audit_app.models import AccessEvent, Job, LedgerEntry
from audit_app.services.access_events import record_access


def export_job(job: Job, actor: User | None, actor_name: str = "") -> bytes:
    """The canonical bytes of ``job``'s bundle; the export is recorded as an access to ``job:<id>``."""
    with transaction.atomic():
        record_access(actor, AccessEvent.EXPORT, f"job:{job.pk}", actor_name=actor_name)
        return bundle_bytes(build_bundle(f"job:{job.pk}", job_entries(job)))


def export_entry(entry: LedgerEntry, actor: User | None, actor_name: str = "") -> bytes:
    """The bundle of the job ``entry`` belongs to, or of ``entry``'s own record when it is no job's."""
    job = job_of(entry)
    if job is not None:
        return export_job(job, actor, actor_name)
    with transaction.atomic():
        record_access(actor, AccessEvent.EXPORT, entry.subject, actor_name=actor_name)
        return bundle_bytes(build_bundle(entry.subject, subject_entries(entry.subject)))
