"""Review state of finished jobs, read from ledgered evidence only, and who may review what.

A sign-off or conclusion row that is not evidence (no entry, edited, or bound to a record other than the
job's run) never counts: it is listed as a problem. Signing (``review.py``) and notifications
(``notifications.py``) both read the state from here.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.db.models import Model, Q, QuerySet

from audit_app.models import Job, ReviewerAssignment, ReviewerConclusion, RunRecord, SignOff
from audit_app.models.organisation import REVIEWER
from audit_app.models.review import APPROVED, CHANGES_REQUESTED, MEANINGS, REJECTED
from audit_app.services.evidence import Ledgered, check_rows, ledgered_time

NOT_REVIEWABLE, AWAITING_REVIEW = "not_reviewable", "awaiting_review"
STATE_LABELS = {
    NOT_REVIEWABLE: "not reviewable",
    AWAITING_REVIEW: "awaiting review",
    APPROVED: "approved",
    REJECTED: "rejected",
    CHANGES_REQUESTED: "changes requested",
}
MEANING_LABELS = dict(MEANINGS)


@dataclasses.dataclass(frozen=True)
class Signature:
    """A ledgered sign-off as pages show it (its 11.50 manifestation)."""

    signer_name: str
    signer_username: str
    signed_at: datetime.datetime
    meaning: str
    reason: str
    statement: str
    run_record_sha256: str
    approvals_required: int

    @property
    def meaning_label(self) -> str:
        return MEANING_LABELS.get(self.meaning, self.meaning)


@dataclasses.dataclass(frozen=True)
class Conclusion:
    """A ledgered reviewer's conclusion: human-written, beside the model's answer."""

    author_name: str
    written_at: datetime.datetime
    text: str


@dataclasses.dataclass(frozen=True)
class Review:
    state: str
    required: int
    signatures: list[Signature]
    conclusions: list[Conclusion]
    problems: list[str]  # sign-offs or conclusions that are not evidence, one sentence each
    version: int  # sign-off rows the job has: the sign-off form's optimistic check
    run_record_sha256: str | None = None  # the job's run record hash as ledgered, if the run checks out

    @property
    def label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def approvals(self) -> list[Signature]:
        return [s for s in self.signatures if s.meaning == APPROVED]

    @property
    def remaining(self) -> int:
        """Approvals still needed (0 once decided either way)."""
        return max(0, self.required - len(self.approvals)) if self.state == AWAITING_REVIEW else 0

    @property
    def decisive(self) -> Signature | None:
        """The signature that settled the state: the last approval that met the policy, or the rejection."""
        if self.state == APPROVED:
            return self.approvals[self.required - 1]
        return next((s for s in self.signatures if s.meaning == self.state), None)


def approvals_required(domain: str) -> int:
    return settings.GLASSBOX["REVIEW_APPROVALS"].get(domain, 1)


def reviews(jobs: Sequence[Job]) -> dict[int, Review]:
    """Each job's review from ledgered evidence, in a few queries for all of them."""
    ids = [job.pk for job in jobs]
    held = _tables_holding(ids)
    signoffs = list(SignOff.objects.filter(job_id__in=ids).order_by("id")) if SignOff in held else []
    conclusions = (
        list(ReviewerConclusion.objects.filter(job_id__in=ids).order_by("id")) if ReviewerConclusion in held else []
    )
    runs = list(RunRecord.objects.filter(job_id__in=ids)) if RunRecord in held else []
    signed = check_rows("signoff", signoffs)
    concluded = check_rows("conclusion", conclusions)
    ran = check_rows("run", runs)
    run_hash = {run.job_id: ran[run.pk].body.get("record_sha256") for run in runs if ran[run.pk].verified}
    result = {}
    for job in jobs:
        bound = run_hash.get(job.pk)
        signed_here = _bound_records("Sign-off", [signed[s.pk] for s in signoffs if s.job_id == job.pk], job, bound)
        concluded_here = _given_with(
            signed_here[0],
            _bound_records("Conclusion", [concluded[c.pk] for c in conclusions if c.job_id == job.pk], job, bound),
        )
        problems = [*signed_here[1], *concluded_here[1]]
        texts = [Conclusion(r["author_name"], ledgered_time(r["written_at"]), r["text"]) for r in concluded_here[0]]
        signatures = [_signature(record) for record in signed_here[0]]
        version = sum(1 for s in signoffs if s.job_id == job.pk)
        result[job.pk] = _review(job, bound, signatures, texts, problems, version)
    return result


def _tables_holding(ids: list[int]) -> set[type[Model]]:
    """Which of sign-offs, conclusions and run records hold rows of these jobs, in one query: a job that is
    queued or has no review yet costs one query here, not three."""
    if not ids:
        return set()
    tables = (SignOff, ReviewerConclusion, RunRecord)
    probes = ", ".join(f"EXISTS (SELECT 1 FROM {table._meta.db_table} WHERE job_id = ANY(%s))" for table in tables)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {probes}", [ids] * len(tables))
        row = cursor.fetchone()
    return {table for table, holds in zip(tables, row, strict=True) if holds}


def _bound_records(
    name: str, checked: list[Ledgered], job: Job, bound: str | None
) -> tuple[list[dict[str, Any]], list[str]]:
    """The ledgered records bound to ``job``'s run record (each with its ``record_sha256``), and a sentence for each
    row that is not."""
    records, problems = [], []
    for ledgered in checked:
        record = ledgered.record
        if not ledgered.verified:
            problems.append(ledgered.problem)
        elif record["run_record_sha256"] != bound or record["job_id"] != job.pk:
            problems.append(
                f"{name} {ledgered.subject.partition(':')[2]} is bound to run record "
                f"{record['run_record_sha256']}, not to this job's."
            )
        else:  # with its ledgered hash, which conclusions name
            records.append(record | {"record_sha256": ledgered.body.get("record_sha256")})
    return records, problems


def _given_with(
    signatures: list[dict[str, Any]], concluded: tuple[list[dict[str, Any]], list[str]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Conclusions given with one of the job's ledgered signatures by their own author; a sentence for the rest."""
    given = {(record["record_sha256"], record["signer_id"]) for record in signatures}
    records, problems = [], list(concluded[1])
    for record in concluded[0]:
        if (record["signoff_record_sha256"], record["author_id"]) in given:
            records.append(record)
        else:
            problems.append(
                f"A conclusion by {record['author_name']} names sign-off {record['signoff_record_sha256']}, "
                "which is not a signature of its author on this job."
            )
    return records, problems


def review_of(job: Job) -> Review:
    return reviews([job])[job.pk]


def _signature(record: dict[str, Any]) -> Signature:
    return Signature(
        signer_name=str(record["signer_name"]),
        signer_username=str(record["signer_username"]),
        signed_at=ledgered_time(str(record["signed_at"])),
        meaning=str(record["meaning"]),
        reason=str(record["reason"]),
        statement=str(record["statement"]),
        run_record_sha256=str(record["run_record_sha256"]),
        approvals_required=int(record["approvals_required"]),
    )


def _review(
    job: Job,
    bound: str | None,
    signatures: list[Signature],
    conclusions: list[Conclusion],
    problems: list[str],
    version: int,
) -> Review:
    # The policy is the one the first signature was given under: a later change does not re-open a decision.
    required = signatures[0].approvals_required if signatures else approvals_required(job.submission.domain)
    decisive = next((s for s in signatures if s.meaning != APPROVED), None)
    if job.status != Job.SUCCEEDED or bound is None:
        state = NOT_REVIEWABLE
    elif decisive is not None:
        state = decisive.meaning
    elif sum(s.meaning == APPROVED for s in signatures) >= required:
        state = APPROVED
    else:
        state = AWAITING_REVIEW
    return Review(state, required, signatures, conclusions, problems, version, bound)


def reviewable_by(user: User) -> QuerySet[Job]:
    """Jobs in ``user``'s review scope: the teams and domains assigned to them, if they are an active reviewer."""
    if not user.is_active or not user.groups.filter(name=REVIEWER).exists():
        return Job.objects.none()
    scope = Q(pk__in=[])
    for team_id, domain in ReviewerAssignment.objects.filter(user=user).values_list("team_id", "domain"):
        scope |= Q(submission__case__team_id=team_id, submission__domain=domain)
    return Job.objects.filter(scope)


def may_review(user: User, job: Job) -> bool:
    return reviewable_by(user).filter(pk=job.pk).exists()
