"""Webhooks of case systems: one callback URL per API key, and every delivery and attempt (operational).

None of this is evidence: an event body is composed from ledgered ids and hashes, and a receiver checks
what it is told against the API. The rows are kept so operators can see what was sent, when, and what the
receiver answered.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from audit_app.models.api import ApiKey
from audit_app.models.jobs import Job


class WebhookEndpoint(models.Model):
    """Where a key's events go, and the signing secret, encrypted at rest (``services/webhook_secrets``)."""

    key = models.OneToOneField(ApiKey, on_delete=models.CASCADE, related_name="webhook")
    url = models.CharField(max_length=2000)
    secret_encrypted = models.TextField()  # Fernet token; the key is derived from DJANGO_SECRET_KEY
    set_at = models.DateTimeField(default=timezone.now)
    set_by_name = models.CharField(max_length=200)

    def __str__(self) -> str:
        return f"{self.key.prefix} → {self.url}"


class WebhookDelivery(models.Model):
    """One event for one key: the same ``message_id`` (``webhook-id``) and body on every attempt."""

    PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
    STATES = [(PENDING, "Pending"), (DELIVERED, "Delivered"), (FAILED, "Failed")]

    key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="webhook_deliveries")
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=30)
    message_id = models.CharField(max_length=40, unique=True)
    body = models.TextField()  # JSON of ids, hashes and timestamps only: never case content
    status = models.CharField(max_length=10, choices=STATES, default=PENDING)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.event} for job {self.job_id} ({self.status})"


class WebhookAttempt(models.Model):
    """One POST: when, to where, what came back (a status code or an error sentence), how long it took."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    url = models.CharField(max_length=2000)
    at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}"

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
