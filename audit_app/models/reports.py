"""PDF reports: the export while it renders (operational), and each finished export (ledgered evidence).

The PDF cannot carry its own hash, so a finished export is ledgered in a second entry after the signed file
exists: ``ReportExport`` names the PDF's SHA-256 and size, the embedded bundle's SHA-256 and the record and
checkpoint the report presents. Anyone holding a PDF can find its entry by hash in a later bundle of the job.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from audit_app.models.jobs import Job
from audit_app.models.write_once import WriteOnceModel


class ReportExport(WriteOnceModel):
    """One finished PDF export of one job, ledgered as ``report:<id>`` after the signed PDF was written."""

    evidence_kind = "report"

    job = models.ForeignKey(Job, on_delete=models.PROTECT, related_name="report_exports")
    pdf_sha256 = models.CharField(max_length=64)  # of the signed PDF, as delivered
    pdf_size = models.BigIntegerField()
    bundle_sha256 = models.CharField(max_length=64)  # of the evidence bundle embedded in it
    # The record the report presents (the run's, or the submission's when the job never ran). Not named
    # record_sha256: that column is this row's own hash.
    presented_record_sha256 = models.CharField(max_length=64)
    checkpoint_size = models.BigIntegerField()  # the checkpoint the embedded bundle is proven against
    exported_at = models.DateTimeField()  # the export time printed in the PDF and its metadata
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True)
    actor_name = models.CharField(max_length=150)
    at = models.DateTimeField(default=timezone.now)
    record_sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["at", "id"]


class Report(models.Model):
    """Operational state of one ``glassbox.render_report`` task; never evidence (its ``export`` is)."""

    QUEUED, RENDERING, READY, FAILED = "queued", "rendering", "ready", "failed"
    STATUSES = [(s, s.capitalize()) for s in (QUEUED, RENDERING, READY, FAILED)]

    job = models.ForeignKey(Job, on_delete=models.PROTECT, related_name="reports")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=STATUSES, default=QUEUED, db_index=True)
    percent = models.PositiveSmallIntegerField(default=0)
    step = models.CharField(max_length=200, blank=True)  # what the renderer is doing, as a sentence
    error = models.TextField(blank=True)
    path = models.CharField(max_length=1000, blank=True)  # the finished file, once ready
    size = models.BigIntegerField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)  # the last progress: a dead render stops it
    finished_at = models.DateTimeField(null=True, blank=True)
    export = models.OneToOneField(ReportExport, on_delete=models.PROTECT, null=True, blank=True, related_name="report")

    class Meta:
        ordering = ["-requested_at", "-id"]

    def __str__(self) -> str:
        return f"report {self.pk} of job {self.job_id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.READY, self.FAILED)

    @property
    def file_name(self) -> str:
        return f"glassbox-job-{self.job_id}-report-{self.pk}.pdf"
