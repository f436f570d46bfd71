"""Analyst pages: thin views that parse, authorize, call a service and render."""

from __future__ import annotations

import hashlib

from django.conf import settings as django_settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from audit_app.models import AccessEvent, Job
from audit_app.services.access_events import record_access
from audit_app.services.errors import SubmissionError
from audit_app.services.evidence import job_evidence, job_rows
from audit_app.services.killswitch import current_suspension
from audit_app.services.pipeline import cancel_job
from audit_app.services.queueing import queue_positions
from audit_app.services.report_exports import reports_of
from audit_app.services.rerun import rerun_job, rerun_links
from audit_app.services.review_state import AWAITING_REVIEW, may_review, review_of, reviews
from audit_app.services.submission import Upload, submit_job
from audit_app.web.forms import SubmitJobForm
from audit_app.web.permissions import ANALYST, AUDITOR, OPERATOR, has_role, submitting_team, visible_jobs
from audit_app.web.uploads import upload_refusals
from inference import GenerationSettings

FIELDS_ON_FORM = {
    "question",
    "domain",
    "case_reference",
    "case_title",
    "documents",
    "thinking_budget",
    "answer_budget",
    "temperature",
    "top_p",
    "seed",
}


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


@login_required
@require_safe
def job_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if has_role(user, OPERATOR) and not has_role(user, AUDITOR) and not user.teams.exists():
        return redirect("operator-jobs")  # an operator's list is every job's metadata, not a team's content
    jobs = visible_jobs(user)
    status, domain = request.GET.get("status", ""), request.GET.get("domain", "")
    if status:
        jobs = jobs.filter(status=status)
    if domain:
        jobs = jobs.filter(submission__domain=domain)
    page = Paginator(jobs, 20).get_page(request.GET.get("page"))
    jobs_here = list(page)
    states = reviews(jobs_here)  # each row's review state from ledgered sign-offs, in a few queries for the page
    rows = [(job, ledgered, states[job.pk]) for job, ledgered in job_rows(jobs_here)]  # submissions' ledger entries
    return render(
        request,
        "jobs/list.html",
        {"page": page, "rows": rows, "status": status, "domain": domain, "statuses": Job.STATUSES},
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def submit(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    team = submitting_team(user)
    if team is None:
        raise PermissionDenied("Only analysts who belong to a team can submit questions.")
    form = SubmitJobForm(request.POST or None, request.FILES or None)
    # A browser never sends files back with a re-shown form: after any error the page says so, loudly.
    dropped = [f.name or "" for f in request.FILES.getlist("documents")]
    for refusal in upload_refusals(request):  # files refused while the request was read
        form.add_error("documents", refusal)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            settings = GenerationSettings(
                temperature=data["temperature"],
                top_p=data["top_p"],
                seed=data["seed"],
                thinking_budget=data["thinking_budget"],
                answer_budget=data["answer_budget"],
            )
            uploads = [Upload(f.name or "", f.read()) for f in data["documents"]]
            job = submit_job(
                user,
                team,
                data["case_reference"],
                data["domain"],
                data["question"],
                uploads,
                settings,
                data["case_title"],
            )
        except SubmissionError as error:
            field = error.field if error.field in FIELDS_ON_FORM else None
            form.add_error(field, str(error))
        else:
            return redirect("job-detail", pk=job.pk)
    context = {"form": form, "team": team, "suspension": current_suspension(), "dropped": dropped}
    return render(request, "jobs/submit.html", context)


@login_required
@require_safe
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(visible_jobs(_user(request)).select_related("submission", "run"), pk=pk)
    record_access(_user(request), AccessEvent.VIEW, f"job:{job.pk}")
    evidence = job_evidence(job)
    record = evidence.submission or {}
    previous, reruns = rerun_links(
        record.get("rerun_of_sha256", ""), evidence.submission_hashes.get("record", ""), visible_jobs(_user(request))
    )
    can_submit = submitting_team(_user(request)) == job.submission.case.team
    # What the model read, hashed here so the reader can compare it with the prompt's text.
    documents = [
        {**d, "text_sha256": hashlib.sha256(str(d.get("text", "")).encode()).hexdigest()} for d in evidence.documents
    ]
    review = review_of(job)
    # The link only; signing itself is the service's to allow or refuse.
    may_sign = (
        review.state == AWAITING_REVIEW
        and job.submission.submitted_by_id != _user(request).pk
        and may_review(_user(request), job)
        and not job.signoffs.filter(signer=_user(request)).exists()
    )
    context = {
        "job": job,
        "evidence": evidence,
        "review": review,
        "may_sign": may_sign,
        "documents": documents,
        "previous": previous,
        "reruns": reruns,
        "can_submit": can_submit,
        "context_limit": f"{django_settings.GLASSBOX['CONTEXT_LIMIT']:,}",
        "reports": reports_of(job),
        "queue_position": queue_positions([job])[job.pk],
    }
    return render(request, "jobs/detail.html", context)


@login_required
@require_safe
def job_live(request: HttpRequest, pk: int) -> HttpResponse:
    """The polled fragment; once the job is finished the page reloads to show the stored record."""
    job = get_object_or_404(visible_jobs(_user(request)), pk=pk)
    context = {"job": job, "oob": True, "queue_position": queue_positions([job])[job.pk]}
    response = render(request, "jobs/_live.html", context)
    if job.is_finished:
        response["HX-Refresh"] = "true"
    return response


@login_required
@require_POST
def job_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    job = get_object_or_404(visible_jobs(user).select_related("submission__case"), pk=pk)
    # Seeing a job is not enough (an auditor sees every team's): only an analyst of its own team may cancel it.
    if not has_role(user, ANALYST) or not user.teams.filter(pk=job.submission.case.team_id).exists():
        raise PermissionDenied(
            "Only analysts can cancel jobs, and only their own team's: your role lets you read this job, not change it."
        )
    cancel_job(job)
    return redirect("job-detail", pk=pk)


@login_required
@require_POST
def job_rerun(request: HttpRequest, pk: int) -> HttpResponse:
    """Run a finished job again as a new job with the same recorded inputs, linked to it."""
    user = _user(request)
    job = get_object_or_404(visible_jobs(user).select_related("submission__case"), pk=pk)
    try:
        new = rerun_job(user, submitting_team(user), job)
    except SubmissionError as error:
        return render(request, "400.html", {"reason": str(error)}, status=400)
    return redirect("job-detail", pk=new.pk)
