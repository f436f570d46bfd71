"""Audit reports: one job's evidence as a signed PDF/A-3 that carries its own evidence bundle.

The order is the bundle export's (``exports.py``): the export is ledgered as an access event first, so the
embedded bundle holds it; the report is rendered from that bundle's checkpoint, then signed. The PDF's own
SHA-256 can only exist after signing, so it is ledgered by the caller in a second, later entry.

The signing key and certificate are loaded before anything is ledgered: a missing or unreadable one
refuses the report (``ReportSigningUnavailable``) with nothing written. Once the export is committed, a
signing that still fails (the timestamp authority does not answer: ``ReportSigningFailed``) leaves the
export's access event in the ledger, which is true: the evidence was read for an export that then failed.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from audit_app.models import Job
from audit_app.services.exports import export_job
from audit_app.services.report_certificates import ledger_certificate
from audit_app.services.report_content import check_reportable, report_context
from audit_app.services.report_pdf import archival_pdf
from audit_app.services.report_signing import report_signer, sign_pdf

Progress = Callable[[str, int], None]  # (what is being done, percent done)


@dataclasses.dataclass(frozen=True)
class ProducedReport:
    pdf: bytes
    sha256: str  # of the signed PDF, as delivered
    bundle_sha256: str  # of the embedded bundle
    record_sha256: str  # the record the report presents: the run's, or the submission's when it never ran
    checkpoint_size: int
    exported_at: datetime.datetime


def _quiet(step: str, percent: int) -> None:
    del step, percent


def produce_report(job: Job, actor: User | None, actor_name: str = "", progress: Progress = _quiet) -> ProducedReport:
    """Export ``job``'s bundle (ledgered), render it to PDF/A-3b with the bundle embedded, and sign it.

    Raises ``ReportRefused`` before the export when the job's evidence does not check out, and
    ``ReportSigningUnavailable`` when the report could not be signed: in both cases nothing is ledgered."""
    check_reportable(job)
    signer = report_signer()
    progress("Exporting the evidence bundle", 5)
    with transaction.atomic():
        # The certificate's entry (at its first report) goes in before the bundle is built, so this very
        # bundle proves the certificate that signs the PDF it travels in.
        ledger_certificate(signer.certificate, actor.get_username() if actor else actor_name)
        bundle = export_job(job, actor, actor_name)
    exported_at = timezone.now()
    progress("Laying out the report", 20)
    rendered = render_report(job, bundle, exported_at, lambda: progress("Writing the PDF/A file", 60))
    progress("Signing", 90)
    signed = sign_pdf(rendered.pdf, signer)
    return ProducedReport(
        pdf=signed,
        sha256=hashlib.sha256(signed).hexdigest(),
        bundle_sha256=hashlib.sha256(bundle).hexdigest(),
        record_sha256=rendered.record_sha256,
        checkpoint_size=int(json.loads(bundle)["checkpoint"]["size"]),
        exported_at=exported_at,
    )


@dataclasses.dataclass(frozen=True)
class RenderedReport:
    html: str
    pdf: bytes  # PDF/A-3b with the bundle embedded, not yet signed
    record_sha256: str


def render_report(
    job: Job, bundle: bytes, exported_at: datetime.datetime, laid_out: Callable[[], None] = lambda: None
) -> RenderedReport:
    """The unsigned report of ``bundle`` (``job``'s, as exported) at ``exported_at``: a function of those alone,
    so the same bundle at the same time gives the same bytes (tests/reports/test_report_determinism.py)."""
    context = report_context(job, json.loads(bundle), exported_at)
    html = render_to_string("report/report.html", context)
    laid_out()
    pdf = archival_pdf(
        html,
        base_url=str(settings.BASE_DIR / "templates" / "report"),
        bundle=bundle,
        record_sha256=context["record_sha256"],
        test_model=context["test_model"],
        exported_at=exported_at,
    )
    return RenderedReport(html, pdf, context["record_sha256"])
