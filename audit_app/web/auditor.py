"""The auditor's pages: the ledger's checkpoint and verification on demand, the ledger browser with each
record's access history, and a job's evidence bundle as a download.

"Verify now" queues a task and the page polls its progress; the history shows only what the ledger
holds, and marks any history row without its entry as unverified.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import CharField, Exists, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Cast, Concat
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from audit_app.models import Checkpoint, Job, LedgerEntry, LedgerVerification, VerificationRun
from audit_app.services.evidence import ledger_size, verifier_key
from audit_app.services.exports import ExportRefused, export_job
from audit_app.services.ledger_browser import (
    KIND_LABELS,
    KINDS,
    access_history,
    describe,
    entries,
    record_subjects,
)
from audit_app.services.verification import request_verification
from audit_app.web.permissions import AUDITOR, require_role

REFUSAL = "Only auditors can verify the evidence ledger."


def ledgered_history() -> QuerySet[LedgerVerification]:
    """History rows, each with ``ledgered``: whether an entry of kind ``verification`` names it."""
    subject = Concat(Value("verification:"), Cast(OuterRef("pk"), CharField()))
    entry = LedgerEntry.objects.filter(kind="verification", subject=subject)
    return LedgerVerification.objects.annotate(ledgered=Exists(entry))


def recent_runs() -> QuerySet[VerificationRun]:
    """Runs still going, and failures of the last hour (a finished run shows as its history row)."""
    going = Q(status__in=[VerificationRun.QUEUED, VerificationRun.RUNNING])
    failed = Q(status=VerificationRun.FAILED, requested_at__gte=timezone.now() - timedelta(hours=1))
    return VerificationRun.objects.filter(going | failed).select_related("requested_by")[:5]


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def ledger_status(request: HttpRequest) -> HttpResponse:
    user = require_role(request, AUDITOR, REFUSAL)
    if request.method == "POST":
        request_verification(user)
        return redirect("ledger")
    context = {
        "size": ledger_size(),
        "checkpoint": Checkpoint.objects.order_by("-size", "-id").first(),
        "runs": recent_runs(),
        "verifications": ledgered_history()[:20],
        "verifier_key": verifier_key(),
    }
    return render(request, "auditor/ledger.html", context)


@login_required
@require_safe
def verification_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The polled fragment; once the run is finished the page reloads to show the ledgered result."""
    require_role(request, AUDITOR, REFUSAL)
    run = get_object_or_404(VerificationRun, pk=pk)
    response = render(request, "auditor/_progress.html", {"run": run})
    if run.is_finished:
        response["HX-Refresh"] = "true"
    return response


@login_required
@require_safe
def ledger_entries(request: HttpRequest) -> HttpResponse:
    """The ledger browser: entries newest first, filtered by kind and by the user who acted."""
    require_role(request, AUDITOR, "Only auditors can browse the evidence ledger.")
    kind, user = request.GET.get("kind", ""), request.GET.get("user", "").strip()
    kind = kind if kind in KINDS else ""
    page = Paginator(entries(kind, user), 50).get_page(request.GET.get("page"))
    lines = [describe(entry) for entry in page]
    query = urlencode({"kind": kind, "user": user})
    context = {
        "page": page,
        "lines": lines,
        "kind": kind,
        "user_filter": user,
        "kinds": list(KIND_LABELS.items()),
        "query": query,
    }
    return render(request, "auditor/entries.html", context)


@login_required
@require_safe
def ledger_entry(request: HttpRequest, sequence: int) -> HttpResponse:
    """One entry: what it is, the job it belongs to, and who viewed or exported its record."""
    require_role(request, AUDITOR, "Only auditors can browse the evidence ledger.")
    entry = get_object_or_404(LedgerEntry, sequence=sequence)
    subjects = record_subjects(entry)
    context = {
        "line": describe(entry),
        "leaf_hash": bytes(entry.leaf_hash).hex(),
        "subjects": subjects,
        "history": access_history(subjects),
    }
    return render(request, "auditor/entry.html", context)


@login_required
@require_POST
def job_bundle(request: HttpRequest, pk: int) -> HttpResponse:
    """Download a job's evidence bundle (format 2); the download is ledgered as an export inside the bundle."""
    user = require_role(request, AUDITOR, "Only auditors can export evidence bundles.")
    job = get_object_or_404(Job, pk=pk)
    try:
        data = export_job(job, user)
    except ExportRefused as error:  # no signing key, or a log the signer refuses: nothing exported or recorded
        return HttpResponse(str(error), status=503, content_type="text/plain; charset=utf-8")
    response = HttpResponse(data, content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="glassbox-job-{job.pk}-bundle.json"'
    return response
