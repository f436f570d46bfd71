"""PDF reports over the API: export a job's report, follow it, download the signed file.

Exporting needs only the ``read`` scope: it reads evidence out, it changes no job. Who may export and
download is who may read the job; another team's job or report is a 404, as a missing one. Each download
is ledgered as an export of the report's ledger entry (``report:<id>``).
"""

from __future__ import annotations

from typing import Any

from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit_app.models import Report
from audit_app.services.report_exports import NotReady, report_file, request_report
from audit_app.web.api.auth import ReadScope, account
from audit_app.web.api.idempotency import Conflict
from audit_app.web.api.schema import READING, with_problems
from audit_app.web.permissions import visible_jobs


class ReportOut(serializers.Serializer[Any]):
    """A PDF report: its render's state, and once ready the ledgered hashes and the download URL."""

    id = serializers.IntegerField()
    job = serializers.IntegerField(source="job_id")
    status = serializers.ChoiceField(choices=Report.STATUSES, help_text="queued, rendering, ready or failed")
    percent = serializers.IntegerField(help_text="How far the render is, 0 to 100.")
    step = serializers.CharField(help_text="What the renderer is doing, as a sentence.")
    error = serializers.CharField(help_text="Why it failed, in one sentence; empty otherwise.")
    requested_at = serializers.DateTimeField()
    requested_by = serializers.CharField(source="requested_by.username")
    finished_at = serializers.DateTimeField(allow_null=True)
    size = serializers.IntegerField(allow_null=True, help_text="Bytes of the PDF, once ready.")
    sha256 = serializers.SerializerMethodField(help_text="The PDF's SHA-256 as ledgered, once ready.")
    bundle_sha256 = serializers.SerializerMethodField(help_text="The embedded evidence bundle's SHA-256.")
    record_sha256 = serializers.SerializerMethodField(help_text="The record the report presents.")
    checkpoint_size = serializers.SerializerMethodField(help_text="The checkpoint the bundle is proven against.")
    ledger_subject = serializers.SerializerMethodField(help_text="The export's ledger entry, report:<id>.")
    download_url = serializers.SerializerMethodField(help_text="Where to GET the PDF, once ready.")

    def _export(self, report: Report, name: str) -> Any:
        return None if report.export is None else getattr(report.export, name)

    def get_sha256(self, report: Report) -> str | None:
        return self._export(report, "pdf_sha256")  # type: ignore[no-any-return]

    def get_bundle_sha256(self, report: Report) -> str | None:
        return self._export(report, "bundle_sha256")  # type: ignore[no-any-return]

    def get_record_sha256(self, report: Report) -> str | None:
        return self._export(report, "presented_record_sha256")  # type: ignore[no-any-return]

    def get_checkpoint_size(self, report: Report) -> int | None:
        return self._export(report, "checkpoint_size")  # type: ignore[no-any-return]

    def get_ledger_subject(self, report: Report) -> str | None:
        return None if report.export_id is None else f"report:{report.export_id}"

    def get_download_url(self, report: Report) -> str | None:
        return reverse("api-report-pdf", args=[report.pk]) if report.status == Report.READY else None


def _report(request: Request, pk: int) -> Report:
    reports = Report.objects.select_related("requested_by", "export").filter(job__in=visible_jobs(account(request)))
    return get_object_or_404(reports, pk=pk)  # another team's report is a 404, as a missing one


class JobReports(APIView):
    permission_classes = [ReadScope]

    @extend_schema(request=None, responses=with_problems({202: ReportOut}), operation_id="jobs_reports_create")
    def post(self, request: Request, pk: int) -> Response:
        job = get_object_or_404(visible_jobs(account(request)), pk=pk)  # another team's job: 404
        report = request_report(job, account(request))
        location = reverse("api-report", args=[report.pk])
        return Response(ReportOut(_report(request, report.pk)).data, status=202, headers={"Location": location})


class ReportDetail(APIView):
    @extend_schema(responses=with_problems({200: ReportOut}), operation_id="reports_retrieve")
    def get(self, request: Request, pk: int) -> Response:
        return Response(ReportOut(_report(request, pk)).data)


class ReportPdf(APIView):
    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # A client asking for application/pdf gets the PDF, or its problem as JSON: never a 406.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        responses=with_problems(
            {(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The signed PDF/A-3 file.")},
            (409, *READING),
        ),
        operation_id="reports_pdf_retrieve",
    )
    def get(self, request: Request, pk: int) -> FileResponse:
        report = _report(request, pk)
        try:
            path = report_file(report, account(request))  # ledgered as an export
        except NotReady as error:
            raise Conflict(str(error)) from None
        response = FileResponse(path.open("rb"), as_attachment=True, filename=report.file_name)
        response["Content-Type"] = "application/pdf"
        response["Cache-Control"] = "no-store"
        return response
