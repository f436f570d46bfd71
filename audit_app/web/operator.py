"""The operator's pages: the kill switch (AI Act Art. 26(5)), every job's metadata, and the workers."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_safe

from audit_app.models import Job
from audit_app.services.evidence import job_rows, kill_switch_history
from audit_app.services.killswitch import current_suspension, resume_inference, suspend_inference
from audit_app.services.workers import STALE_AFTER_BEATS, heartbeat_seconds, worker_rows
from audit_app.web.forms import SuspendForm
from audit_app.web.permissions import OPERATOR, require_role


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def kill_switch(request: HttpRequest) -> HttpResponse:
    user = require_role(request, OPERATOR, "Only operators can suspend or resume inference.")
    form = SuspendForm(request.POST or None)
    if request.method == "POST":
        if request.POST.get("action") == "resume":
            resume_inference(user, request.POST.get("reason", ""))
            return redirect("kill-switch")
        if form.is_valid():
            suspend_inference(user, form.cleaned_data["reason"])
            return redirect("kill-switch")
    history = kill_switch_history(50)
    return render(
        request, "operator/kill_switch.html", {"form": form, "suspension": current_suspension(), "history": history}
    )


@dataclass(frozen=True)
class JobMetadata:
    """What an operator sees of a job: never its question, documents, thinking or answer."""

    job: Job
    team: str
    domain: str
    submitter: str
    problem: str  # a sentence when the submission is not verified evidence, else empty


def job_metadata(jobs: list[Job]) -> list[JobMetadata]:
    """Team, domain and submitter from each submission's ledger entry; only those three fields leave here."""
    rows = []
    for job, ledgered in job_rows(jobs):
        record = ledgered.record if ledgered.verified else {}
        rows.append(
            JobMetadata(
                job,
                str(record.get("team_name", "")),
                str(record.get("domain", "")),
                str(record.get("submitted_by_name", "")),
                ledgered.problem,
            )
        )
    return rows


@login_required
@require_safe
def operator_jobs(request: HttpRequest) -> HttpResponse:
    require_role(request, OPERATOR, "Only operators can see every job's metadata.")
    status = request.GET.get("status", "")
    # The job row's own content columns (the live trace) are never read for this page.
    jobs = Job.objects.select_related("submission").defer("partial_thinking", "partial_answer")
    if status in dict(Job.STATUSES):
        jobs = jobs.filter(status=status)
    page = Paginator(jobs, 50).get_page(request.GET.get("page"))
    context = {"page": page, "rows": job_metadata(list(page)), "status": status, "statuses": Job.STATUSES}
    return render(request, "operator/jobs.html", context)


@login_required
@require_safe
def operator_workers(request: HttpRequest) -> HttpResponse:
    require_role(request, OPERATOR, "Only operators can see the workers.")
    context = {"rows": worker_rows(), "stale_after": STALE_AFTER_BEATS * heartbeat_seconds()}
    return render(request, "operator/workers.html", context)
