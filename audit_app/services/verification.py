"""Verification on request: queued as a task, progress on a mutable row, the result ledgered write-once."""

from __future__ import annotations

import logging
import time

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from audit_app.ledger.signer import public_verifier_key
from audit_app.ledger.verify import Report, verify_ledger
from audit_app.models import LedgerVerification, VerificationRun
from audit_app.services.queueing import send_by_name
from audit_app.services.store import store_evidence

logger = logging.getLogger(__name__)
TASK = "glassbox.verify_ledger"
PROGRESS_EVERY_SECONDS = 0.5


def request_verification(user: User) -> VerificationRun:
    """Queue a whole-ledger verification for ``user``; the web request never runs it."""
    with transaction.atomic():
        run = VerificationRun.objects.create(requested_by=user)
        transaction.on_commit(lambda: _enqueue(run.pk))
    return run


def _enqueue(run_id: int) -> None:
    try:
        send_by_name(TASK, run_id)  # by name: services never import tasks
    except Exception:  # kombu raises several types for an unreachable broker
        logger.warning("Broker unreachable: verification run %s was not sent.", run_id, exc_info=True)
        VerificationRun.objects.filter(pk=run_id).update(
            status=VerificationRun.FAILED, error="The task queue could not be reached; ask again later."
        )


def run_verification(run_id: int) -> LedgerVerification | None:
    """Verify, writing progress to the run row; store and ledger the result. None if the run was taken."""
    if not VerificationRun.objects.filter(pk=run_id, status=VerificationRun.QUEUED).update(
        status=VerificationRun.RUNNING
    ):
        return None  # a redelivered message: the first delivery owns it
    last = 0.0

    def progress(done: int, total: int) -> None:
        nonlocal last
        if time.monotonic() - last >= PROGRESS_EVERY_SECONDS or done == total:
            last = time.monotonic()
            VerificationRun.objects.filter(pk=run_id).update(done=done, total=total)

    try:
        report = verify_ledger(public_verifier_key(), on_progress=progress)
    except Exception as error:
        logger.exception("Verification run %s failed", run_id)
        VerificationRun.objects.filter(pk=run_id).update(
            status=VerificationRun.FAILED, error=f"Verification could not run ({type(error).__name__}): {error}"
        )
        return None
    return record_verification(run_id, report)


def record_verification(run_id: int, report: Report) -> LedgerVerification:
    """The write-once history row and its ledger entry, in the transaction that finishes the run."""
    with transaction.atomic():
        run = VerificationRun.objects.select_for_update().select_related("requested_by").get(pk=run_id)
        result = LedgerVerification(
            requested_by_name=run.requested_by.get_username(),
            at=timezone.now(),
            ok=report.ok,
            entries=report.entries,
            checkpoints=report.checkpoints,
            root=report.root.hex(),
            problem_count=report.problem_count,
            problems=[str(problem) for problem in report.problems],
            message=report.summary(),
        )
        store_evidence(result)
        run.status, run.result, run.done, run.total = VerificationRun.FINISHED, result, report.entries, report.entries
        run.save(update_fields=["status", "result", "done", "total"])
    return result
