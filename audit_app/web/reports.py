"""PDF reports in the web UI: export from the job page, follow the render, download the signed file.

Whoever may view a job may export and download its reports (analysts of its team, reviewers assigned to it,
auditors): the report holds what the job page shows, plus its ledger proofs. A job or report outside the
user's view is a 404, as a missing one. Every download is ledgered as an export of the report's entry.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import FileResponse, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST, require_safe

from audit_app.models import Report
from audit_app.services.report_exports import NotReady, report_file, reports_of, request_report
from audit_app.web.permissions import visible_jobs


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def visible_report(user: User, pk: int) -> Report:
    """A report of a job ``user`` may view; 404 otherwise (another team's report is not acknowledged)."""
    return get_object_or_404(
        Report.objects.select_related("job", "requested_by", "export").filter(job__in=visible_jobs(user)), pk=pk
    )


@login_required
@require_POST
def export_report(request: HttpRequest, pk: int) -> HttpResponse:
    """Queue a PDF export of the job and show its progress."""
    job = get_object_or_404(visible_jobs(_user(request)), pk=pk)
    report = request_report(job, _user(request))
    return redirect("report-detail", pk=report.pk)


@login_required
@require_safe
def report_detail(request: HttpRequest, pk: int) -> HttpResponse:
    report = visible_report(_user(request), pk)
    context = {"report": report, "job": report.job, "reports": reports_of(report.job)}
    return render(request, "reports/detail.html", context)


@login_required
@require_safe
def report_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The polled fragment; once the report is finished the page reloads to show the download or the error."""
    report = visible_report(_user(request), pk)
    response = render(request, "reports/_progress.html", {"report": report})
    if report.is_finished:
        response["HX-Refresh"] = "true"
    return response


@login_required
@require_GET  # not HEAD: every answer with the file is a ledgered download
def report_pdf(request: HttpRequest, pk: int) -> HttpResponseBase:
    """The signed PDF as an attachment (ledgered as an export); 409 while it is not ready."""
    report = visible_report(_user(request), pk)
    try:
        path = report_file(report, _user(request))
    except NotReady as error:
        return render(request, "409.html", {"reason": str(error)}, status=409)
    response = FileResponse(path.open("rb"), as_attachment=True, filename=report.file_name)
    response["Content-Type"] = "application/pdf"
    response["Cache-Control"] = "no-store"  # evidence is fetched, ledgered, each time: never from a cache
    return response
