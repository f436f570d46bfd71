"""Reviewer pages: the review queue and the review screen with its sign-off form (thin: the rules are the service's)."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_safe

from audit_app.models import AccessEvent, Job, SignOff
from audit_app.models.organisation import DOMAINS
from audit_app.services.access_events import record_access
from audit_app.services.evidence import job_evidence
from audit_app.services.review import (
    STATEMENTS,
    SignOffForm,
    SignOffRefused,
    printed_name,
    sign_off,
    signing_locked_until,
    statement,
)
from audit_app.services.review_queue import review_queue
from audit_app.services.review_state import (
    AWAITING_REVIEW,
    MEANING_LABELS,
    NOT_REVIEWABLE,
    Review,
    review_of,
    reviewable_by,
)
from audit_app.web.permissions import REVIEWER, require_role

# Set after a signature succeeds: later signings of this session ask for the password only (21 CFR 11.200).
SIGNED_IN_SESSION = "glassbox_signed_in_session"
NOT_A_REVIEWER = "Only reviewers may use the review queue and sign jobs; your role does not include review."


@login_required
@require_safe
def queue(request: HttpRequest) -> HttpResponse:
    user = require_role(request, REVIEWER, NOT_A_REVIEWER)
    domain, team, age = (request.GET.get(name, "").strip() for name in ("domain", "team", "age"))
    older_than, age_error = None, ""
    if age:
        try:
            older_than = float(age)
        except ValueError:
            age_error = f"Age must be a number of hours, like 24; {age!r} is not one."
        else:
            if older_than < 0 or older_than != older_than or older_than == float("inf"):
                older_than, age_error = None, "Age must be a number of hours from 0 upwards."
    found = review_queue(user, domain, team, older_than)
    context = {
        "queue": found,
        "domain": domain,
        "team": team,
        "age": age,
        "age_error": age_error,
        "domains": DOMAINS,
        "overdue_hours": settings.GLASSBOX["REVIEW_OVERDUE_HOURS"],
    }
    return render(request, "review/queue.html", context, status=400 if age_error else 200)


def _why_no_form(user: User, job: Job, review: Review) -> str:
    """Why this reviewer is offered no sign-off form, or "" when they may sign (the service still decides)."""
    if job.submission.submitted_by_id == user.pk:
        return "You submitted this job; someone else must review it (four eyes)."
    if job.status != Job.SUCCEEDED:
        return f"This job is {job.status}: it is not reviewable. It can be run again."
    if review.state == NOT_REVIEWABLE:
        return "This job's run record is not verified evidence, so it is not reviewable."
    mine = SignOff.objects.filter(job=job, signer=user).first()
    if mine is not None:
        return (
            f"You signed this job as {MEANING_LABELS[mine.meaning].lower()} at {mine.signed_at:%Y-%m-%d %H:%M} UTC; "
            "a reviewer signs a record once."
        )
    if review.state != AWAITING_REVIEW:
        return f"This job is {review.label}; it takes no more signatures."
    return ""


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def job_review(request: HttpRequest, pk: int) -> HttpResponse:
    user = require_role(request, REVIEWER, NOT_A_REVIEWER)
    job = get_object_or_404(reviewable_by(user).select_related("submission__case__team", "run"), pk=pk)
    errors: dict[str, str] = {}
    posted = {"meaning": "", "reason": "", "conclusion": "", "username": ""}
    first_signing = not request.session.get(SIGNED_IN_SESSION, False)
    status = 200
    if request.method == "POST":
        posted = {name: request.POST.get(name, "") for name in posted}
        try:
            seen_version = int(request.POST.get("seen_version", ""))
        except ValueError:
            seen_version = -1  # the service refuses it as a stale form
        form = SignOffForm(
            meaning=posted["meaning"],
            reason=posted["reason"],
            password=request.POST.get("password", ""),
            run_record_sha256=request.POST.get("run_record_sha256", ""),
            seen_version=seen_version,
            conclusion=posted["conclusion"],
            username=posted["username"].strip() if first_signing else None,
        )
        try:
            signature = sign_off(job.pk, user, form)
        except SignOffRefused as refusal:
            errors[refusal.field or "form"] = str(refusal)
            status = 400
        else:
            request.session[SIGNED_IN_SESSION] = True
            messages.success(
                request,
                f"You signed job {job.pk} as {signature.get_meaning_display().lower()} at "
                f"{signature.signed_at:%Y-%m-%d %H:%M} UTC.",
            )
            return redirect("job-detail", pk=job.pk)
    record_access(user, AccessEvent.VIEW, f"job:{job.pk}")
    evidence = job_evidence(job)
    review = review_of(job)
    run_hash = evidence.run_hashes.get("record", "")
    documents = [
        {**d, "text_sha256": hashlib.sha256(str(d.get("text", "")).encode()).hexdigest()} for d in evidence.documents
    ]
    locked = signing_locked_until(user)
    context = {
        "job": job,
        "evidence": evidence,
        "documents": documents,
        "review": review,
        "why_no_form": _why_no_form(user, job, review),
        "locked_until": locked,
        "meanings": [(m, MEANING_LABELS[m], statement(m, run_hash)) for m in STATEMENTS] if run_hash else [],
        "run_hash": run_hash,
        "first_signing": first_signing,
        "printed_name": printed_name(user),
        "errors": errors,
        "posted": posted,
        "context_limit": f"{settings.GLASSBOX['CONTEXT_LIMIT']:,}",
    }
    return render(request, "review/review.html", context, status=status)
