"""Human oversight of finished jobs: review state, electronic sign-off, reviewers' conclusions.

Review state is read from ledgered sign-offs only: a sign-off row that is not evidence (no entry, edited,
or bound to a record other than the job's run) never counts and is shown as a problem. Signing follows
21 CFR Part 11: the signer re-enters the password on the form itself (and the user id at the first
signing of a session, §11.200), sees the statement that gives the signature its meaning (§11.50), and the
signature carries the record hash of the run it signs (§11.70). Wrong passwords are ledgered, and enough
of them lock signing for a while.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from audit_app.models import Job, ReviewerAssignment, ReviewerConclusion, RunRecord, SigningFailure, SignOff
from audit_app.models.organisation import REVIEWER
from audit_app.models.review import APPROVED, CHANGES_REQUESTED, MEANINGS, REJECTED
from audit_app.services import notifications
from audit_app.services.evidence import Ledgered, check_rows, ledgered_time
from audit_app.services.store import store_evidence

NOT_REVIEWABLE, AWAITING_REVIEW = "not_reviewable", "awaiting_review"
STATE_LABELS = {
    NOT_REVIEWABLE: "not reviewable",
    AWAITING_REVIEW: "awaiting review",
    APPROVED: "approved",
    REJECTED: "rejected",
    CHANGES_REQUESTED: "changes requested",
}
MEANING_LABELS = dict(MEANINGS)
# What the signer states by signing; shown on the form before signing and stored with the signature.
STATEMENTS = {
    APPROVED: "I have read the model's reasoning trace and answer in run record {record} and approve this "
    "record for reliance.",
    REJECTED: "I have read the model's reasoning trace and answer in run record {record} and reject this record: "
    "it must not be relied on.",
    CHANGES_REQUESTED: "I have read the model's reasoning trace and answer in run record {record} and request "
    "changes: the job must be run again before anyone relies on it.",
}


class SignOffRefused(Exception):
    """Nothing was signed; the message says why in one sentence. ``field``: the form field at fault, if any."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


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
    signoffs = list(SignOff.objects.filter(job_id__in=ids).order_by("id"))
    conclusions = list(ReviewerConclusion.objects.filter(job_id__in=ids).order_by("id"))
    runs = list(RunRecord.objects.filter(job_id__in=ids))
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
    return Review(state, required, signatures, conclusions, problems, version)


def printed_name(user: User) -> str:
    return user.get_full_name() or user.get_username()


def statement(meaning: str, run_record_sha256: str) -> str:
    return STATEMENTS[meaning].format(record=run_record_sha256)


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


def signing_locked_until(user: User) -> datetime.datetime | None:
    """When ``user`` may sign again, if enough wrong passwords within the lock period locked signing."""
    period = datetime.timedelta(minutes=settings.GLASSBOX["SIGNING_LOCK_MINUTES"])
    limit = settings.GLASSBOX["SIGNING_MAX_FAILURES"]
    recent = list(
        SigningFailure.objects.filter(user=user, at__gte=timezone.now() - period)
        .order_by("-at")
        .values_list("at", flat=True)[:limit]
    )
    return recent[0] + period if len(recent) >= limit else None


def _refuse_identification(user: User, job_id: int, reason: str, message: str, field: str) -> None:
    """Ledger the failed attempt (it must outlive the refusal, so it is committed on its own), then refuse."""
    store_evidence(SigningFailure(user=user, username=user.get_username(), job_id=job_id, reason=reason))
    locked = signing_locked_until(user)
    if locked is not None:
        message += f" Signing is now locked for your account until {locked:%H:%M} UTC."
    raise SignOffRefused(message, field)


@dataclasses.dataclass(frozen=True)
class SignOffForm:
    """What the signer gave: ``username`` is None when the session has already signed once (§11.200)."""

    meaning: str
    reason: str
    password: str
    run_record_sha256: str
    seen_version: int
    conclusion: str = ""
    username: str | None = None


def sign_off(job_id: int, signer: User, form: SignOffForm) -> SignOff:
    """Store ``signer``'s signature (and conclusion, if any) on job ``job_id``'s run record, or refuse with a sentence.

    Every refusal stores nothing, except that a wrong user id or password is itself ledgered.
    """
    if not signer.is_active:  # a deactivated account signs nothing, whatever session it still holds
        raise SignOffRefused("Your account is deactivated; nothing was signed.")
    locked = signing_locked_until(signer)
    if locked is not None:
        raise SignOffRefused(
            f"Signing is locked for your account until {locked:%H:%M} UTC after repeated wrong passwords; "
            "nothing was signed. If these attempts were not yours, tell your administrator."
        )
    if form.username is not None and form.username != signer.get_username():
        message = "The user id is not yours; nothing was signed."
        _refuse_identification(signer, job_id, "wrong user id", message, "username")
    if not form.password or not signer.check_password(form.password):
        message = "The password is not correct; nothing was signed."
        _refuse_identification(signer, job_id, "wrong password", message, "password")
    if form.meaning not in STATEMENTS:
        raise SignOffRefused("Choose what your signature means: approved, rejected or changes requested.", "meaning")
    reason, conclusion = form.reason.strip(), form.conclusion.strip()
    if form.meaning != APPROVED and not reason:
        meaning = MEANING_LABELS[form.meaning].lower()
        raise SignOffRefused(f"Give a reason: a signature meaning {meaning} needs one.", "reason")
    try:
        with transaction.atomic():
            return _store(job_id, signer, form, reason, conclusion)
    except IntegrityError:  # the unique constraint: a concurrent request of the same reviewer signed first
        raise SignOffRefused("You have already signed this job; a reviewer signs a record once.") from None


def _store(job_id: int, signer: User, form: SignOffForm, reason: str, conclusion: str) -> SignOff:
    # The job row is locked so that concurrent signatures of one job are checked one after the other.
    job = Job.objects.select_for_update().select_related("submission").filter(pk=job_id).first()
    if job is None:
        raise SignOffRefused(f"There is no job {job_id}.")
    if not may_review(signer, job):
        raise SignOffRefused("You may sign only jobs of the teams and domains assigned to you as a reviewer.")
    if job.submission.submitted_by_id == signer.pk:
        raise SignOffRefused("You submitted this job; someone else must review it (four eyes).")
    review = review_of(job)
    if job.status != Job.SUCCEEDED:
        raise SignOffRefused(f"Job {job.pk} is {job.status}; only a job that finished with an answer can be signed.")
    if review.state == NOT_REVIEWABLE:
        raise SignOffRefused(f"Job {job.pk}'s run record is not verified evidence, so it cannot be signed.")
    bound = RunRecord.objects.get(job=job).record_sha256  # equal to its entry's: review_of checked it
    if form.run_record_sha256 != bound:
        raise SignOffRefused(
            f"The form names run record {form.run_record_sha256[:12]}…, not this job's run record {bound[:12]}…; "
            "nothing was signed. Reload the job and sign what it shows."
        )
    mine = SignOff.objects.filter(job=job, signer=signer).first()
    if mine is not None:
        raise SignOffRefused(
            f"You already signed this job as {MEANING_LABELS[mine.meaning].lower()} at "
            f"{mine.signed_at:%Y-%m-%d %H:%M} UTC; a reviewer signs a record once."
        )
    if review.version != form.seen_version:
        raise SignOffRefused(
            f"Someone signed this job after you opened the form; it is now {review.label}. "
            "Nothing was signed: read the new state and sign again if you still want to."
        )
    if review.state != AWAITING_REVIEW:
        raise SignOffRefused(f"This job is already {review.label}; it takes no more signatures.")
    signature = store_evidence(
        SignOff(
            job=job,
            run_record_sha256=bound,
            signer=signer,
            signer_username=signer.get_username(),
            signer_name=printed_name(signer),
            signed_at=timezone.now(),
            meaning=form.meaning,
            statement=statement(form.meaning, bound),
            reason=reason,
            approvals_required=review.required,
        )
    )
    if conclusion:
        store_evidence(
            ReviewerConclusion(
                job=job,
                run_record_sha256=bound,
                signoff_record_sha256=signature.record_sha256,
                author=signer,
                author_name=printed_name(signer),
                text=conclusion,
            )
        )
    notifications.signed(job)  # the submitter or the other reviewers are told once this transaction commits
    return signature
