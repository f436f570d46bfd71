"""Jobs over the API: submit, list, get, cancel, and the run record and bundle as evidence."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit_app.models import AccessEvent, Job
from audit_app.models.organisation import ANALYST
from audit_app.services.access_events import record_access
from audit_app.services.errors import SubmissionError
from audit_app.services.evidence import job_evidence, job_rows
from audit_app.services.exports import ExportRefused, export_job
from audit_app.services.pipeline import cancel_job
from audit_app.services.queueing import queue_positions
from audit_app.services.review_state import reviews
from audit_app.services.submission import Upload, submit_job
from audit_app.web.api import idempotency
from audit_app.web.api.auth import account, api_key
from audit_app.web.api.listing import JobFilter, page_of
from audit_app.web.api.schema import READING, WRITING, with_problems
from audit_app.web.api.serializers import BundleOut, JobOut, JobPage, RunRecordOut, SubmitIn
from audit_app.web.permissions import has_role, submitting_team, visible_jobs
from inference import GenerationSettings


def _jobs(request: Request) -> QuerySet[Job]:
    return visible_jobs(account(request)).select_related("submission")


def _job(request: Request, pk: int) -> Job:
    return get_object_or_404(_jobs(request), pk=pk)  # another team's job is a 404, as a missing one


def job_context(jobs: list[Job]) -> dict[str, Any]:
    """What ``JobOut`` shows beside the job rows: ledgered submissions and reviews, a few queries for all."""
    return {
        "ledgered": {job.pk: ledgered for job, ledgered in job_rows(jobs)},
        "reviews": reviews(jobs),
        "queue_positions": queue_positions(jobs),
    }


def job_data(job: Job) -> dict[str, Any]:
    return dict(JobOut(job, context=job_context([job])).data)


class Unavailable(exceptions.APIException):
    status_code = 503
    default_code = "unavailable"


class JobList(APIView):
    @extend_schema(
        parameters=JobFilter.parameters(),
        responses=with_problems({200: JobPage}, (400, *READING)),
        operation_id="jobs_list",
    )
    def get(self, request: Request) -> Response:
        page, next_cursor = page_of(_jobs(request), JobFilter.from_query(request.query_params))
        data = JobOut(page, many=True, context=job_context(page)).data
        return Response({"results": data, "next": next_cursor})

    @extend_schema(
        request=SubmitIn,
        responses=with_problems({201: JobOut, 200: JobOut}, WRITING),
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False)],
        operation_id="jobs_create",
    )
    def post(self, request: Request) -> Response:
        incoming = SubmitIn(data=request.data)
        incoming.is_valid(raise_exception=True)
        team = submitting_team(account(request))
        if team is None:
            raise exceptions.PermissionDenied("Only analysts and API keys with the 'submit' scope submit jobs.")
        values = incoming.validated_data

        def create() -> Job:
            try:
                return submit_job(
                    account(request),
                    team,
                    values["case_reference"],
                    values["domain"],
                    values["question"],
                    uploads=[Upload(d["name"], d["data"]) for d in values["documents"]],
                    generation=GenerationSettings(**values.get("settings", {})) if "settings" in values else None,
                    case_title=values["case_title"],
                )
            except SubmissionError as error:
                field = "non_field_errors" if error.field == "__all__" else error.field
                raise exceptions.ValidationError({field: [str(error)]}) from None

        job, created = idempotency.once(api_key(request), request.META.get(idempotency.HEADER), request.data, create)
        job = _job(request, job.pk)
        return Response(job_data(job), status=201 if created else 200, headers={"Location": f"/api/v1/jobs/{job.pk}/"})


class JobDetail(APIView):
    @extend_schema(responses=with_problems({200: JobOut}), operation_id="jobs_retrieve")
    def get(self, request: Request, pk: int) -> Response:
        job = _job(request, pk)
        record_access(account(request), AccessEvent.VIEW, f"job:{job.pk}")
        return Response(job_data(job))


class JobCancel(APIView):
    @extend_schema(request=None, responses=with_problems({200: JobOut}, (409, *READING)), operation_id="jobs_cancel")
    def post(self, request: Request, pk: int) -> Response:
        job = _job(request, pk)
        user = account(request)
        if not has_role(user, ANALYST) or not user.teams.filter(pk=job.submission.case.team_id).exists():
            raise exceptions.PermissionDenied("Only analysts and submit keys of the job's own team may cancel it.")
        if job.is_finished:
            raise idempotency.Conflict(
                f"Job {job.pk} is already {job.status}; only queued or running jobs can be cancelled."
            )
        cancel_job(job)
        return Response(job_data(_job(request, pk)))


class JobRun(APIView):
    @extend_schema(responses=with_problems({200: RunRecordOut}, (409, *READING)), operation_id="jobs_run_retrieve")
    def get(self, request: Request, pk: int) -> Response:
        job = _job(request, pk)
        if getattr(job, "run", None) is None:
            raise exceptions.NotFound(f"Job {job.pk} has no run record yet (it is {job.status}).")
        record_access(account(request), AccessEvent.VIEW, f"job:{job.pk}")
        evidence = job_evidence(job)
        if evidence.run is None:
            raise idempotency.Conflict(
                f"Job {job.pk}'s run record does not match the ledger, so it is not served as evidence: "
                f"{evidence.run_problem or evidence.submission_problem}"
            )
        return Response(
            {
                "record": evidence.run,
                "record_sha256": evidence.run_hashes.get("record", ""),
                "hashes": evidence.run_hashes,
                "submission_record_sha256": evidence.submission_hashes.get("record", ""),
            }
        )


class JobBundle(APIView):
    @extend_schema(
        responses=with_problems({(200, "application/json"): BundleOut}, (503, *READING)),
        operation_id="jobs_bundle_retrieve",
    )
    def get(self, request: Request, pk: int) -> HttpResponse:
        job = _job(request, pk)
        try:
            data = export_job(job, account(request))  # ledgered as an export
        except ExportRefused as error:  # no signing key, or a log the signer refuses: nothing exported
            raise Unavailable(str(error)) from None
        response = HttpResponse(data, content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="glassbox-job-{job.pk}-bundle.json"'
        return response
