"""The API's request and response shapes; the services still decide (``submit_job`` refuses with a field)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from rest_framework import serializers

from audit_app.models import Job
from audit_app.models.organisation import DOMAINS
from audit_app.services.evidence import Ledgered
from audit_app.services.review_state import Review
from inference.limits import SEED_MAX, TEMPERATURE_MAX, TOP_P_MAX
from inference.types import DEFAULT_ANSWER_BUDGET, DEFAULT_TEMPERATURE, DEFAULT_THINKING_BUDGET, DEFAULT_TOP_P

UNFILED = "unfiled"  # the case reference of a job submitted without one


class DocumentIn(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=255, help_text="File name; its suffix (.txt, .md, .pdf) sets the type.")
    text = serializers.CharField(required=False, trim_whitespace=False, help_text="The document as text.")
    content_base64 = serializers.CharField(required=False, help_text="The file's bytes, base64 (for PDFs).")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("text" in attrs) == ("content_base64" in attrs):
            raise serializers.ValidationError(
                "Give each document either 'text' or 'content_base64', not both or neither."
            )
        if "text" in attrs:
            attrs["data"] = attrs.pop("text").encode("utf-8")
        else:
            try:
                attrs["data"] = base64.b64decode(attrs.pop("content_base64"), validate=True)
            except (binascii.Error, ValueError):
                raise serializers.ValidationError(
                    f"{attrs['name']}: content_base64 is not valid base64 (RFC 4648, standard alphabet)."
                ) from None
        return attrs


class SettingsIn(serializers.Serializer[Any]):
    thinking_budget = serializers.IntegerField(default=DEFAULT_THINKING_BUDGET, min_value=1)
    answer_budget = serializers.IntegerField(default=DEFAULT_ANSWER_BUDGET, min_value=1)
    temperature = serializers.FloatField(default=DEFAULT_TEMPERATURE, min_value=0, max_value=TEMPERATURE_MAX)
    top_p = serializers.FloatField(default=DEFAULT_TOP_P, min_value=0, max_value=TOP_P_MAX)
    seed = serializers.IntegerField(default=0, min_value=0, max_value=SEED_MAX)


class SubmitIn(serializers.Serializer[Any]):
    domain = serializers.ChoiceField(choices=DOMAINS)
    question = serializers.CharField(max_length=20_000, trim_whitespace=False)
    case_reference = serializers.CharField(max_length=100, required=False, default=UNFILED)
    case_title = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
    documents = DocumentIn(many=True, required=False, default=list)
    settings = SettingsIn(required=False)


class SignatureOut(serializers.Serializer[Any]):
    signer_name = serializers.CharField()
    signer_username = serializers.CharField()
    signed_at = serializers.DateTimeField()
    meaning = serializers.CharField()
    reason = serializers.CharField()
    run_record_sha256 = serializers.CharField()


class ReviewOut(serializers.Serializer[Any]):
    state = serializers.CharField()
    approvals_required = serializers.IntegerField(source="required")
    signatures = SignatureOut(many=True)
    problems = serializers.ListField(child=serializers.CharField())


class JobOut(serializers.Serializer[Any]):
    """A job: its state from the job row, everything about its question from the ledgered submission.

    The submission's fields come from its ledger entry, checked against the row and bound to this job
    (``services.evidence.job_rows``), as the pages show them; when that check fails they are null and
    ``evidence_problem`` says why. Hashes are the ledgered ones.
    """

    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Job.STATUSES)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    thinking_tokens = serializers.IntegerField(help_text="Live while running; the recorded count once finished.")
    answer_tokens = serializers.IntegerField()
    cancel_requested = serializers.BooleanField()
    error = serializers.CharField()
    queue_position = serializers.SerializerMethodField(
        help_text="Where the job waits, 1-based; null when it is not waiting. While queued: its place among the "
        "site's queued jobs in submission order (1 is next). While running: its place in its engine's queue "
        "for GPU memory (KV cache), until its first tokens arrive. Operational, not evidence."
    )
    domain = serializers.SerializerMethodField()
    case_reference = serializers.SerializerMethodField()
    case_title = serializers.SerializerMethodField()
    team = serializers.SerializerMethodField()
    submitted_by = serializers.SerializerMethodField()
    question = serializers.SerializerMethodField()
    submission_record_sha256 = serializers.SerializerMethodField()
    run_record_sha256 = serializers.SerializerMethodField()
    evidence_problem = serializers.SerializerMethodField()
    review = serializers.SerializerMethodField()

    def _ledgered(self, job: Job) -> Ledgered:
        ledgered: Ledgered = self.context["ledgered"][job.pk]
        return ledgered

    def _field(self, job: Job, name: str) -> str | None:
        ledgered = self._ledgered(job)
        return str(ledgered.record[name]) if ledgered.verified else None

    def get_queue_position(self, job: Job) -> int | None:
        positions: dict[int, int | None] = self.context.get("queue_positions", {})
        return positions.get(job.pk)

    def get_domain(self, job: Job) -> str | None:
        return self._field(job, "domain")

    def get_case_reference(self, job: Job) -> str | None:
        return self._field(job, "case_reference")

    def get_case_title(self, job: Job) -> str | None:
        return self._field(job, "case_title")

    def get_team(self, job: Job) -> str | None:
        return self._field(job, "team_name")

    def get_submitted_by(self, job: Job) -> str | None:
        return self._field(job, "submitted_by_name")

    def get_question(self, job: Job) -> str | None:
        return self._field(job, "question")

    def get_submission_record_sha256(self, job: Job) -> str | None:
        ledgered = self._ledgered(job)
        return str(ledgered.body["record_sha256"]) if ledgered.verified else None

    def get_run_record_sha256(self, job: Job) -> str | None:
        review: Review | None = self.context["reviews"].get(job.pk)
        return review.run_record_sha256 if review is not None else None

    def get_evidence_problem(self, job: Job) -> str:
        """Empty when the submission is ledgered evidence of this job; else the sentence why not."""
        return self._ledgered(job).problem

    def get_review(self, job: Job) -> dict[str, Any] | None:
        reviews: dict[int, Review] = self.context.get("reviews", {})
        review = reviews.get(job.pk)
        return dict(ReviewOut(review).data) if review is not None else None


class JobPage(serializers.Serializer[Any]):
    results = JobOut(many=True)
    next = serializers.CharField(allow_null=True, help_text="The cursor of the next page; null on the last.")


class BundleOut(serializers.Serializer[Any]):
    """An evidence bundle, format 2 (docs/verification.md); verify it with the standalone verifier."""

    format = serializers.CharField(help_text="glassbox-evidence-bundle/2")


class RunRecordOut(serializers.Serializer[Any]):
    record = serializers.DictField()
    record_sha256 = serializers.CharField()
    hashes = serializers.DictField(child=serializers.CharField())
    submission_record_sha256 = serializers.CharField()
