"""The review queue: the jobs a reviewer may sign that await a signature, oldest first, with counts.

Built on ``review_state.reviews`` so a page needs a few queries, not one per row; a job the reviewer submitted or
already signed is left out (someone else must act on it), so the queue is the reviewer's own work list.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections import Counter

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import Case, Count, Exists, F, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from audit_app.models import Job, SignOff
from audit_app.models.review import APPROVED
from audit_app.services.evidence import Ledgered, job_rows
from audit_app.services.review_state import AWAITING_REVIEW, Review, reviewable_by, reviews


@dataclasses.dataclass(frozen=True)
class QueueRow:
    job: Job
    submission: Ledgered  # the ledgered submission: case, domain and submitter as recorded
    review: Review
    age: datetime.timedelta

    @property
    def overdue(self) -> bool:
        return self.age > datetime.timedelta(hours=settings.GLASSBOX["REVIEW_OVERDUE_HOURS"])

    @property
    def age_hours(self) -> float:
        return self.age.total_seconds() / 3600


@dataclasses.dataclass(frozen=True)
class Queue:
    rows: list[QueueRow]  # after the filters
    total: int  # awaiting this reviewer, before the filters
    per_domain: dict[str, int]  # the same, by domain
    teams: list[str]  # teams with awaiting jobs, for the filter


def _candidates(user: User) -> QuerySet[Job]:
    """Finished jobs in scope that ``user`` neither submitted nor signed and that the sign-off rows leave undecided,
    oldest first.

    The rows only narrow the candidates, so that the queue and the navigation's count do not read every job ever
    decided; each candidate's state is then read from ledgered evidence (``reviews``). A forged decisive row could
    hide a job from the queue, never show one as decided: ``verify_ledger`` names such a row.
    """
    policy = settings.GLASSBOX["REVIEW_APPROVALS"]
    by_domain = Case(*(When(submission__domain=d, then=Value(n)) for d, n in policy.items()), default=Value(1))
    first = SignOff.objects.filter(job=OuterRef("pk")).order_by("id").values("approvals_required")[:1]
    decided = SignOff.objects.filter(job=OuterRef("pk")).exclude(meaning=APPROVED)
    return (
        reviewable_by(user)
        .filter(status=Job.SUCCEEDED)
        .exclude(submission__submitted_by=user)
        .exclude(signoffs__signer=user)
        .exclude(Exists(decided))
        .annotate(
            approvals=Count("signoffs", filter=Q(signoffs__meaning=APPROVED)),
            required=Coalesce(Subquery(first), by_domain),
        )
        .filter(approvals__lt=F("required"))
        .select_related("submission__case__team")
        .order_by("finished_at", "pk")
    )


def review_queue(user: User, domain: str = "", team: str = "", older_than_hours: float | None = None) -> Queue:
    now = timezone.now()
    jobs = list(_candidates(user))
    states = reviews(jobs)
    awaiting = [job for job in jobs if states[job.pk].state == AWAITING_REVIEW]
    submissions = dict(job_rows(awaiting))
    rows = [QueueRow(job, submissions[job], states[job.pk], now - (job.finished_at or now)) for job in awaiting]
    per_domain = Counter(row.job.submission.domain for row in rows)
    teams = sorted({row.job.submission.case.team.name for row in rows})
    if domain:
        rows = [row for row in rows if row.job.submission.domain == domain]
    if team:
        rows = [row for row in rows if row.job.submission.case.team.name == team]
    if older_than_hours is not None:
        rows = [row for row in rows if row.age_hours > older_than_hours]
    return Queue(rows, len(awaiting), dict(sorted(per_domain.items())), teams)


def awaiting_count(user: User) -> int:
    """How many jobs await ``user``'s signature (the navigation's count)."""
    jobs = list(_candidates(user).select_related(None).select_related("submission"))
    states = reviews(jobs)
    return sum(1 for job in jobs if states[job.pk].state == AWAITING_REVIEW)
