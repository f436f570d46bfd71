"""Exporting evidence: the export is itself an access event, ledgered before the bundle is signed.

Order matters: the export event is appended first, in the same transaction, and the bundle's checkpoint
is signed after it, so the bundle holds its own export entry (who exported, when). One transaction: an
export that fails to build (no signing key, a log the signer refuses) leaves no export event behind.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from audit_app.ledger.bundles import build_bundle, bundle_bytes, job_entries, job_of, subject_entries
from audit_app.ledger.signer import SigningRefused
from audit_app.models import AccessEvent, Job, LedgerEntry
from audit_app.services.access_events import record_access


class ExportRefused(Exception):
    """No bundle was exported and nothing was recorded; the message says why in one sentence.

    ``exit_code``: 2 for a configuration the operator must fix (no signing key), 1 for a log the signer
    will not sign (``verify_ledger`` names why).
    """

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _export(subject: str, entries: Callable[[], list[LedgerEntry]], actor: User | None, actor_name: str) -> bytes:
    try:
        with transaction.atomic():
            record_access(actor, AccessEvent.EXPORT, subject, actor_name=actor_name)
            return bundle_bytes(build_bundle(subject, entries()))
    except ImproperlyConfigured as error:
        raise ExportRefused(f"No bundle exported: {error}", 2) from None
    except SigningRefused as error:
        raise ExportRefused(f"No bundle exported: {error}", 1) from None


def export_job(job: Job, actor: User | None, actor_name: str = "") -> bytes:
    """The canonical bytes of ``job``'s bundle; the export is recorded as an access to ``job:<id>``."""
    return _export(f"job:{job.pk}", lambda: job_entries(job), actor, actor_name)


def export_entry(entry: LedgerEntry, actor: User | None, actor_name: str = "") -> bytes:
    """The bundle of the job ``entry`` belongs to, or of ``entry``'s own record when it is no job's."""
    job = job_of(entry)
    if job is not None:
        return export_job(job, actor, actor_name)
    return _export(entry.subject, lambda: subject_entries(entry.subject), actor, actor_name)
