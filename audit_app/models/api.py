"""API keys of case systems: the key itself (operational), its lifecycle (ledgered), and idempotent POSTs."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone

from audit_app.models.jobs import Job
from audit_app.models.organisation import Team
from audit_app.models.write_once import WriteOnceModel

READ, SUBMIT = "read", "submit"
SCOPES = (READ, SUBMIT)


class ApiKey(models.Model):
    """One case system's credential, bound to one team.

    Only the SHA-256 of the secret is kept: the secret is shown once, at creation. A key acts as its own
    service account (``user``, with no usable password), so every job and access it causes names the key
    the same way a person's would name the person.
    """

    name = models.CharField(max_length=100)  # the case system, as the operator calls it
    prefix = models.CharField(max_length=16, unique=True)  # shown everywhere the key must be recognised
    secret_sha256 = models.CharField(max_length=64)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="api_keys")
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_key")
    scopes = models.CharField(max_length=30)  # "read" or "read submit"
    created_at = models.DateTimeField(default=timezone.now)
    created_by_name = models.CharField(max_length=200)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.prefix} ({self.name})"

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()

    def is_usable(self, now: datetime.datetime | None = None) -> bool:
        moment = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > moment)

    def state(self, now: datetime.datetime | None = None) -> str:
        """What operators see: revoked, expired, deactivated (its service account is) or active."""
        if self.revoked_at is not None:
            return "revoked"
        if not self.is_usable(now):
            return "expired"
        return "active" if self.user.is_active else "deactivated"


class ApiKeyEvent(WriteOnceModel):
    """A key created or revoked, or its webhook set or removed, and by whom: an auditor can tell which systems
    could act, and where their jobs' events were sent, and when."""

    evidence_kind = "api_key"

    CREATE, REVOKE, WEBHOOK_SET, WEBHOOK_REMOVE = "create", "revoke", "webhook_set", "webhook_remove"
    ACTIONS = [(CREATE, "Create"), (REVOKE, "Revoke"), (WEBHOOK_SET, "Set webhook"), (WEBHOOK_REMOVE, "Remove webhook")]
    action = models.CharField(max_length=20, choices=ACTIONS)
    key = models.ForeignKey(ApiKey, on_delete=models.PROTECT, related_name="+")
    prefix = models.CharField(max_length=16)
    name = models.CharField(max_length=100)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="+")
    team_name = models.CharField(max_length=100)
    scopes = models.CharField(max_length=30)
    expires_at = models.DateTimeField(null=True, blank=True)
    secret_sha256 = models.CharField(max_length=64)  # ties the event to the one secret it concerns
    # Where the key's job events go from now on (webhook_set); empty for the other actions.
    webhook_url = models.CharField(max_length=2000, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True)
    actor_name = models.CharField(max_length=200)  # the operator, or the command line's account
    at = models.DateTimeField(default=timezone.now)
    record_sha256 = models.CharField(max_length=64)


class IdempotentRequest(models.Model):
    """A POST made with an ``Idempotency-Key``: the same key and body give the same job for 24 hours."""

    key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    idempotency_key = models.CharField(max_length=255)
    body_sha256 = models.CharField(max_length=64)
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "idempotency_key"], name="idempotency_key_unique_per_api_key")
        ]

    def __str__(self) -> str:
        return f"{self.idempotency_key} → job {self.job_id}"
