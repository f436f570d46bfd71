"""E-mail notifications: reviewers learn that a job awaits them, the submitter learns the review's outcome.

Mail leaves the evidence store, so a message names the job, its case reference, domain and team, and who
signed what, when and why; never the question, the documents, the reasoning or the answer. Every message
links to the job, where the reader logs in to see the rest.

A message is queued only when the transaction that caused it commits (a rolled-back run or sign-off sends
nothing), one task per recipient on the control queue. The task carries ids only and composes the text
when it runs, from ledgered evidence; it retries with backoff while the mail server cannot be reached
(``tasks.send_notification``), so an outage neither fails the run or the sign-off nor loses the message
without an ERROR line naming the job.
"""

from __future__ import annotations

import datetime
import functools
import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.db import transaction

from audit_app.celery import app
from audit_app.models import Job
from audit_app.models.organisation import REVIEWER
from audit_app.models.review import APPROVED, CHANGES_REQUESTED, REJECTED
from audit_app.services import review_state

logger = logging.getLogger(__name__)
SEND_NOTIFICATION = "glassbox.send_notification"
AWAITING_REVIEW, MORE_APPROVALS, OUTCOME = "awaiting_review", "more_approvals", "outcome"
EVENTS = (AWAITING_REVIEW, MORE_APPROVALS, OUTCOME)
DECIDED = (APPROVED, REJECTED, CHANGES_REQUESTED)
NO_CONTENT = (
    "This message leaves out the question, the documents and the model's answer on purpose: "
    "e-mail leaves the evidence store. Log in to read them."
)


@dataclass(frozen=True)
class Message:
    subject: str
    body: str


def run_recorded(job: Job) -> None:
    """A run was stored: when the job succeeded, every reviewer in its scope but the submitter is told."""
    if job.status == Job.SUCCEEDED:
        _after_commit(AWAITING_REVIEW, job, reviewers_of(job))


def signed(job: Job) -> None:
    """A signature was stored: a decision goes to the submitter; an approval that leaves approvals still
    needed goes to the reviewers in scope who have not signed."""
    current = review_state.review_of(job)
    if current.state in DECIDED:
        _after_commit(OUTCOME, job, [job.submission.submitted_by])
    elif current.state == review_state.AWAITING_REVIEW and current.approvals:
        signers = {signature.signer_username for signature in current.signatures}
        _after_commit(MORE_APPROVALS, job, [u for u in reviewers_of(job) if u.get_username() not in signers])


def reviewers_of(job: Job) -> list[User]:
    """Active reviewers assigned the job's team and domain (``review_state.reviewable_by``), but not its submitter."""
    submission = job.submission
    return list(
        User.objects.filter(
            is_active=True,
            groups__name=REVIEWER,
            review_assignments__team_id=submission.case.team_id,
            review_assignments__domain=submission.domain,
        )
        .exclude(pk=submission.submitted_by_id)
        .distinct()
        .order_by("pk")
    )


def _after_commit(event: str, job: Job, users: list[User]) -> None:
    for user in users:
        if not user.is_active:  # a deactivated account reads no mail from us (and could not open the link)
            logger.info("User %s is deactivated: no %s e-mail for job %s.", user.get_username(), event, job.pk)
            continue
        if not user.email:
            logger.info("User %s has no e-mail address: no %s e-mail for job %s.", user.get_username(), event, job.pk)
            continue
        transaction.on_commit(functools.partial(_queue, event, job.pk, user.pk))


def _queue(event: str, job_id: int, user_id: int) -> None:
    # By signature, not by import (services never import tasks): a process that has the task registered and
    # runs tasks eagerly (tests) runs it here; every other one sends it to the control queue.
    try:
        app.signature(SEND_NOTIFICATION, args=(event, job_id, user_id)).apply_async(retry=False)
    except Exception:  # the broker is unreachable; what was committed stays committed
        logger.error("The %s e-mail for job %s to user %s could not be queued.", event, job_id, user_id, exc_info=True)


def deliver(event: str, job_id: int, user_id: int) -> bool:
    """Compose and send one message; False when there is nothing to say any more. Mail errors propagate."""
    job = Job.objects.select_related("submission").get(pk=job_id)
    user = User.objects.get(pk=user_id)
    message = compose(event, job, user)
    if message is None or not user.email or not user.is_active:
        logger.info("The %s e-mail for job %s to user %s no longer applies; not sent.", event, job_id, user_id)
        return False
    send_mail(message.subject, message.body, None, [user.email])
    logger.info("Sent the %s e-mail for job %s to user %s.", event, job_id, user_id)
    return True


def compose(event: str, job: Job, user: User) -> Message | None:
    """The message, from the job's ledgered review as it is now; None when it no longer applies (the job was
    decided before a reviewer's message went out, or the reviewer lost the scope)."""
    current = review_state.review_of(job)
    if event == OUTCOME:
        return _outcome(job, current) if current.state in DECIDED else None
    if current.state != review_state.AWAITING_REVIEW or not user.is_active or not review_state.may_review(user, job):
        return None
    if event == AWAITING_REVIEW:
        return Message(f"Job {job.pk} awaits your review", _about(job, f"Job {job.pk} awaits your review.", "review/"))
    if event == MORE_APPROVALS:
        if user.get_username() in {s.signer_username for s in current.signatures}:
            return None
        more = "one more approval" if current.remaining == 1 else f"{current.remaining} more approvals"
        lines = [f"Job {job.pk} needs {more} ({len(current.approvals)} of {current.required} given)."]
        lines += [_signed_line(signature) for signature in current.signatures]
        return Message(f"Job {job.pk} needs {more}", _about(job, "\n".join(lines), "review/"))
    raise ValueError(f"Unknown notification event {event!r}; expected one of {', '.join(EVENTS)}.")


def _outcome(job: Job, current: review_state.Review) -> Message:
    label = current.label
    if current.state == APPROVED:
        signatures = current.approvals[: current.required]
        headline = f"Job {job.pk} was approved ({len(signatures)} of {current.required} approvals)."
    else:
        signatures = [current.decisive] if current.decisive is not None else []
        headline = f"Job {job.pk} was marked {label}."
        if current.state == CHANGES_REQUESTED:
            headline += " You can run it again from its page; this job stays as it is."
    lines = [headline, *(_signed_line(signature) for signature in signatures)]
    return Message(f"Job {job.pk}: {label}", _about(job, "\n".join(lines), ""))


def _signed_line(signature: review_state.Signature) -> str:
    at = signature.signed_at.astimezone(datetime.UTC)
    line = f"{signature.meaning_label} by {signature.signer_name} at {at:%Y-%m-%d %H:%M:%S} UTC."
    return line + (f" Reason: {signature.reason}" if signature.reason else "")


def _about(job: Job, what: str, page: str) -> str:
    submission = job.submission
    link = f"{settings.GLASSBOX['BASE_URL']}/jobs/{job.pk}/{page}"
    return (
        f"{what}\n\n"
        f"Case reference: {submission.case_reference}\n"
        f"Domain: {submission.domain}\n"
        f"Team: {submission.team_name}\n\n"
        f"{link}\n\n"
        f"{NO_CONTENT}\n"
    )
