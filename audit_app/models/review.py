"""Human oversight: sign-offs, reviewers' conclusions and failed signing attempts (evidence), and who may review.

A sign-off is an electronic signature in the sense of 21 CFR 11.50 and 11.70: it carries the signer's
printed name, the UTC time, its meaning and the statement shown before signing, and it is bound to the
exact run record it signs by that record's hash, so it cannot be copied onto another record.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from audit_app.models.organisation import DOMAINS, Team
from audit_app.models.write_once import WriteOnceModel

APPROVED, REJECTED, CHANGES_REQUESTED = "approved", "rejected", "changes_requested"
MEANINGS = [(APPROVED, "Approved"), (REJECTED, "Rejected"), (CHANGES_REQUESTED, "Changes requested")]


class SignOff(WriteOnceModel):
    """One reviewer's signature on one run record; at most one per reviewer and job."""

    evidence_kind = "signoff"

    job = models.ForeignKey("audit_app.Job", on_delete=models.PROTECT, related_name="signoffs")
    run_record_sha256 = models.CharField(max_length=64)  # the record signed: the binding of 11.70
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signer_username = models.CharField(max_length=150)
    signer_name = models.CharField(max_length=300)  # the printed name shown with the signature (11.50)
    signed_at = models.DateTimeField(default=timezone.now)
    meaning = models.CharField(max_length=20, choices=MEANINGS)
    statement = models.TextField()  # the words the signer saw before signing
    reason = models.TextField(blank=True)
    # The domain's policy when the first sign-off was given: later policy changes do not re-open a decision.
    approvals_required = models.PositiveSmallIntegerField()
    record_sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["signed_at", "id"]
        # The backstop for two concurrent sign-offs by one reviewer: the database stores exactly one.
        constraints = [models.UniqueConstraint(fields=["job", "signer"], name="signoff_once_per_reviewer")]


class ReviewerConclusion(WriteOnceModel):
    """A reviewer's own conclusion, given with a sign-off; shown beside the model's answer, never instead of it."""

    evidence_kind = "conclusion"

    job = models.ForeignKey("audit_app.Job", on_delete=models.PROTECT, related_name="conclusions")
    run_record_sha256 = models.CharField(max_length=64)
    signoff_record_sha256 = models.CharField(max_length=64)  # the signature it was given with
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    author_name = models.CharField(max_length=300)
    written_at = models.DateTimeField(default=timezone.now)
    text = models.TextField()
    record_sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["written_at", "id"]


class SigningFailure(WriteOnceModel):
    """A signing attempt refused for a wrong password or user id; enough of them lock signing for a while."""

    evidence_kind = "signing_failure"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    username = models.CharField(max_length=150)
    job = models.ForeignKey("audit_app.Job", on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    reason = models.CharField(max_length=100)
    record_sha256 = models.CharField(max_length=64)

    class Meta:
        indexes = [models.Index(fields=["user", "at"], name="signing_failure_user_at")]


class ReviewerAssignment(models.Model):
    """A reviewer may review one team's jobs in one domain. Configuration, kept by administrators."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="review_assignments")
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="review_assignments")
    domain = models.CharField(max_length=20, choices=DOMAINS)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "team", "domain"], name="reviewer_assignment_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} reviews {self.team} {self.domain}"


class AccountEvent(WriteOnceModel):
    """A change to who may act: an account deactivated or reactivated, review scope given or taken away.

    Ledgered, so an auditor can tell who could sign what, and when, from evidence rather than from the mutable
    ``auth_user`` and ``ReviewerAssignment`` rows.
    """

    evidence_kind = "account"

    DEACTIVATE, REACTIVATE, ASSIGN, UNASSIGN = "deactivate", "reactivate", "assign", "unassign"
    ACTIONS = [(a, a.capitalize()) for a in (DEACTIVATE, REACTIVATE, ASSIGN, UNASSIGN)]
    action = models.CharField(max_length=20, choices=ACTIONS)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    username = models.CharField(max_length=150)
    # For scope changes: the team by id (what the assignment row names; a rename changes nothing) and by name.
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="+", null=True)
    team_name = models.CharField(max_length=100, blank=True)
    domain = models.CharField(max_length=20, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True)
    actor_name = models.CharField(max_length=200)  # the operator, or the command line's account
    at = models.DateTimeField(default=timezone.now)
    record_sha256 = models.CharField(max_length=64)
