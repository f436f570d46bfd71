"""Electronic sign-off of finished jobs, with reviewers' conclusions (the state is read in ``review_state.py``).

Signing follows 21 CFR Part 11: the signer re-enters the password on the form itself (and the user id at the first
signing of a session, §11.200), sees the statement that gives the signature its meaning (§11.50), and the
signature carries the record hash of the run it signs (§11.70). Wrong passwords are ledgered, and enough
of them lock signing for a while.
"""

from __future__ import annotations

import dataclasses
import datetime

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit_app.models import Job, ReviewerConclusion, RunRecord, SigningFailure, SignOff
from audit_app.models.review import APPROVED, CHANGES_REQUESTED, REJECTED
from audit_app.services import notifications, webhooks
from audit_app.services.review_state import AWAITING_REVIEW, MEANING_LABELS, NOT_REVIEWABLE, may_review, review_of
from audit_app.services.store import store_evidence

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


def printed_name(user: User) -> str:
    return user.get_full_name() or user.get_username()


def statement(meaning: str, run_record_sha256: str) -> str:
    return STATEMENTS[meaning].format(record=run_record_sha256)


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
    # An empty field is a slip, not an attempt at someone else's signature: refused, not recorded as a failure.
    if form.username is not None and not form.username.strip():
        raise SignOffRefused(
            "Enter your user id: the first signing of a session needs it as well as the password.", "username"
        )
    if not form.password:
        raise SignOffRefused("Enter your password to sign; nothing was signed.", "password")
    if form.username is not None and form.username != signer.get_username():
        message = "The user id is not yours; nothing was signed."
        _refuse_identification(signer, job_id, "wrong user id", message, "username")
    if not signer.check_password(form.password):
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
    # Only the job row: FOR UPDATE on the joined submission would need an UPDATE grant the app role lacks.
    job = Job.objects.select_for_update(of=("self",)).select_related("submission").filter(pk=job_id).first()
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
    webhooks.job_signed(job, signature)  # and the submitting key's webhook, likewise
    return signature
