"""The auditor's ledger page: the latest signed checkpoint, the tree size, and verification on demand."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from audit_app.ledger.checkpoints import public_verifier_key
from audit_app.ledger.log import tree_size
from audit_app.ledger.verify import LedgerProblem, verify_ledger
from audit_app.models import Checkpoint, LedgerVerification
from audit_app.web.access import AUDITOR, require_role


@login_required
def ledger_status(request: HttpRequest) -> HttpResponse:
    user = require_role(request, AUDITOR, "Only auditors can verify the evidence ledger.")
    if request.method == "POST":
        try:
            report = verify_ledger(public_verifier_key())
            LedgerVerification.objects.create(requested_by_name=user.get_username(), ok=True,
                                              entries=report.entries, message=report.summary())  # fmt: skip
        except LedgerProblem as problem:
            LedgerVerification.objects.create(requested_by_name=user.get_username(), ok=False,
                                              message=f"Ledger verification failed: {problem}")  # fmt: skip
        return redirect("ledger")
    context = {
        "size": tree_size(),
        "checkpoint": Checkpoint.objects.order_by("-size", "-id").first(),
        "verifications": LedgerVerification.objects.all()[:20],
        "verifier_key": public_verifier_key(),
    }
    return render(request, "auditor/ledger.html", context)
