"""The auditor's ledger page: the latest signed checkpoint, the tree size, and verification on demand.

"Verify now" queues a task and the page polls its progress; the history shows only what the ledger
holds, and marks any history row without its entry as unverified.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.db.models import CharField, Exists, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Cast, Concat
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from audit_app.models import Checkpoint, LedgerEntry, LedgerVerification, VerificationRun
from audit_app.services.evidence import ledger_size, verifier_key
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
def verification_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The polled fragment; once the run is finished the page reloads to show the ledgered result."""
    require_role(request, AUDITOR, REFUSAL)
    run = get_object_or_404(VerificationRun, pk=pk)
    response = render(request, "auditor/_progress.html", {"run": run})
    if run.is_finished:
        response["HX-Refresh"] = "true"
    return response
