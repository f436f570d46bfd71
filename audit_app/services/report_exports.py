"""PDF reports as a background export: requested on the page or the API, rendered by the control worker.

A report goes queued → rendering → ready (or failed, with one sentence). The renderer writes to a hidden
temporary file in ``GLASSBOX_REPORT_DIR``, fsyncs it and moves it into place with ``os.replace``, so a
reader sees the whole PDF or none; only then is the finished export ledgered (``report:<id>``, carrying the
PDF's SHA-256) and the row marked ready, in one transaction. A render that fails leaves no file and no
``report`` entry; the bundle export it began with (an access event of kind export, ledgered by
``produce_report`` before rendering) stays, because the bundle was built.

A worker that dies mid-render (out of memory, hard time limit, a killed process) leaves its row rendering;
the sweep marks it failed once it made no progress for ``GLASSBOX_REPORT_STALE_AFTER_SECONDS`` and removes
any file it left. It is not requeued: the export event of the lost attempt is already ledgered, and a new
export is the user's decision ("Export PDF report" again).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from datetime import timedelta
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from audit_app.models import AccessEvent, Job, Report, ReportExport
from audit_app.services.access_events import record_access
from audit_app.services.exports import ExportRefused
from audit_app.services.queueing import send_by_name
from audit_app.services.report_content import ReportRefused
from audit_app.services.reports import ProducedReport, produce_report
from audit_app.services.store import store_evidence

logger = logging.getLogger(__name__)
TASK = "glassbox.render_report"
LOST = (
    "The worker rendering this report stopped making progress (crash, out of memory or hard time limit); "
    "nothing was stored. Export the report again."
)


class NotReady(Exception):
    """The report has no file to serve (yet, or ever); the message says which, in one sentence."""


def folder() -> Path:
    return Path(settings.GLASSBOX["REPORT_DIR"])


def temporary_path(report: Report) -> Path:
    """Hidden, beside the final file (same file system, so ``os.replace`` is atomic)."""
    return folder() / f".{report.file_name}.tmp"


def request_report(job: Job, user: User) -> Report:
    """Queue a PDF export of ``job`` for ``user``; the request never renders it."""
    with transaction.atomic():
        report = Report.objects.create(job=job, requested_by=user, step="Waiting for the control worker")
        transaction.on_commit(lambda: _enqueue(report.pk))
    return report


def _enqueue(report_id: int) -> None:
    try:
        send_by_name(TASK, report_id)  # by name: services never import tasks
    except Exception:  # kombu raises several types for an unreachable broker
        logger.warning("Broker unreachable: report %s was not sent.", report_id, exc_info=True)
        _fail(report_id, "The task queue could not be reached; nothing was exported. Try again later.")


def _fail(report_id: int, sentence: str, only_if: tuple[str, ...] = (Report.QUEUED, Report.RENDERING)) -> bool:
    return bool(
        Report.objects.filter(pk=report_id, status__in=only_if).update(
            status=Report.FAILED, error=sentence, finished_at=timezone.now(), updated_at=timezone.now()
        )
    )


def render_report(report_id: int) -> Report | None:
    """Render, write and ledger one queued report; None if another delivery already took it."""
    now = timezone.now()
    taken = Report.objects.filter(pk=report_id, status=Report.QUEUED).update(
        status=Report.RENDERING, started_at=now, updated_at=now, step="Starting", percent=0
    )
    if not taken:
        return None  # a redelivered message: the first delivery owns the report
    report = Report.objects.select_related("job", "requested_by").get(pk=report_id)

    def progress(step: str, percent: int) -> None:
        Report.objects.filter(pk=report_id, status=Report.RENDERING).update(
            step=step, percent=percent, updated_at=timezone.now()
        )

    temporary = temporary_path(report)
    final = folder() / report.file_name
    try:
        produced = produce_report(report.job, report.requested_by, progress=progress)
        progress("Writing the file", 95)
        _write_atomically(produced.pdf, temporary, final)
        if not _finish(report, produced, final):
            final.unlink(missing_ok=True)  # the sweep gave up on it meanwhile: its row says failed
    except (ExportRefused, ReportRefused) as error:  # one sentence each, nothing stored
        _fail(report_id, str(error))
    except SoftTimeLimitExceeded:
        limit = settings.GLASSBOX["SOFT_TIME_LIMIT"]
        _fail(report_id, f"The report ran past its time limit of {limit} seconds; nothing was stored.")
    except Exception as error:
        logger.exception("Report %s failed", report_id)
        _fail(report_id, f"The report could not be rendered ({type(error).__name__}); the worker log has details.")
    finally:
        temporary.unlink(missing_ok=True)
    report.refresh_from_db()
    if report.status != Report.READY:
        final.unlink(missing_ok=True)  # never a file without its ledgered export
    return report


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _write_atomically(pdf: bytes, temporary: Path, final: Path) -> None:
    """The whole PDF at ``final`` or nothing: write beside it, flush to disk, rename, flush the folder."""
    final.parent.mkdir(parents=True, exist_ok=True)
    with temporary.open("wb") as handle:
        handle.write(pdf)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, final)
    directory = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a power cut
    finally:
        os.close(directory)


def _finish(report: Report, produced: ProducedReport, final: Path) -> bool:
    """Ledger the export and mark the row ready, together; False if the row is no longer rendering."""
    with transaction.atomic():
        row = Report.objects.select_for_update().get(pk=report.pk)
        if row.status != Report.RENDERING:
            return False
        export = _ledger(report.job, produced, report.requested_by, report.requested_by.get_username())
        row.status, row.percent, row.step = Report.READY, 100, "Ready"
        row.path, row.size, row.export = str(final), len(produced.pdf), export
        row.finished_at = row.updated_at = timezone.now()
        row.save()
    return True


def _ledger(job: Job, produced: ProducedReport, actor: User | None, actor_name: str) -> ReportExport:
    """The finished export as evidence: ``report:<id>`` naming the signed PDF's SHA-256 and size."""
    return store_evidence(
        ReportExport(
            job=job,
            pdf_sha256=produced.sha256,
            pdf_size=len(produced.pdf),
            bundle_sha256=produced.bundle_sha256,
            presented_record_sha256=produced.record_sha256,
            checkpoint_size=produced.checkpoint_size,
            exported_at=produced.exported_at,
            actor=actor,
            actor_name=actor_name,
        )
    )


def export_report_file(job: Job, out: Path, actor_name: str) -> ReportExport:
    """The command line's export: render now, in this process, write ``out`` atomically, then ledger it.

    ``ExportRefused`` (no signing key, a log the signer refuses) leaves nothing; any failure after the
    render leaves no file at ``out`` and no ``report`` entry.
    """
    temporary = out.with_name(f".{out.name}.tmp")
    produced = produce_report(job, None, actor_name)
    try:
        _write_atomically(produced.pdf, temporary, out)
        with transaction.atomic():
            return _ledger(job, produced, None, actor_name)
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    finally:
        temporary.unlink(missing_ok=True)


def sweep_reports() -> int:
    """Fail reports whose renderer stopped making progress, and remove whatever file they left; send again
    reports still queued after the same time (a message lost with the broker: the claim is conditional, so a
    second delivery of one that was not lost does nothing)."""
    stale = timezone.now() - timedelta(seconds=settings.GLASSBOX["REPORT_STALE_AFTER_SECONDS"])
    waiting = Report.objects.filter(status=Report.QUEUED, requested_at__lt=stale)
    waiting = waiting.filter(Q(updated_at__isnull=True) | Q(updated_at__lt=stale))
    for report_id in list(waiting.values_list("pk", flat=True)):
        Report.objects.filter(pk=report_id, status=Report.QUEUED).update(updated_at=timezone.now())
        _enqueue(report_id)
    lost = list(Report.objects.filter(status=Report.RENDERING, updated_at__lt=stale))
    failed = 0
    for report in lost:
        if _fail(report.pk, LOST, only_if=(Report.RENDERING,)):
            failed += 1
            with contextlib.suppress(OSError):
                temporary_path(report).unlink(missing_ok=True)
                # Killed between the rename and the ledger entry: a file no entry names is never served.
                (folder() / report.file_name).unlink(missing_ok=True)
    return failed


def reports_of(job: Job) -> QuerySet[Report]:
    return Report.objects.filter(job=job).select_related("requested_by", "export")


def report_file(report: Report, user: User) -> Path:
    """The ready report's file for ``user`` to download; the download is ledgered as an export of ``report:<id>``."""
    if report.status != Report.READY or report.export_id is None:
        if report.status == Report.FAILED:
            raise NotReady(f"Report {report.pk} failed, so there is no file: {report.error}")
        raise NotReady(f"Report {report.pk} is {report.status} ({report.percent}%); download it once it is ready.")
    if report.export.job_id != report.job_id:  # type: ignore[union-attr]  # export_id is set
        # The row is operational: an insider may re-point it at another job's ledgered export and file.
        raise NotReady(
            f"Report {report.pk} is for job {report.job_id}, but the export it points at was ledgered for job "
            f"{report.export.job_id}, so it is not served; export the report again."  # type: ignore[union-attr]
        )
    path = Path(report.path)
    if not path.is_file():
        raise NotReady(f"Report {report.pk}'s file is missing from the reports folder; export the report again.")
    if _sha256(path) != report.export.pdf_sha256:  # type: ignore[union-attr]  # export_id is set
        raise NotReady(
            f"Report {report.pk}'s file no longer has the SHA-256 its export ledgered, so it is not served; "
            "export the report again."
        )
    record_access(user, AccessEvent.EXPORT, f"report:{report.export_id}")
    return path
