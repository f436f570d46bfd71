"""A requested verification while it runs: mutable progress beside the write-once result."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from audit_app.models.ledger import LedgerVerification


class VerificationRun(models.Model):
    """Operational state of one ``glassbox.verify_ledger`` task; never evidence (its result is)."""

    QUEUED, RUNNING, FINISHED, FAILED = "queued", "running", "finished", "failed"
    STATUSES = [(s, s.capitalize()) for s in (QUEUED, RUNNING, FINISHED, FAILED)]

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=10, choices=STATUSES, default=QUEUED)
    done = models.BigIntegerField(default=0)
    total = models.BigIntegerField(default=0)
    error = models.TextField(blank=True)
    result = models.OneToOneField(
        LedgerVerification, on_delete=models.PROTECT, null=True, blank=True, related_name="run"
    )

    class Meta:
        ordering = ["-requested_at", "-id"]

    def __str__(self) -> str:
        return f"verification run {self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.FINISHED, self.FAILED)

    @property
    def percent(self) -> int:
        return 100 if self.is_finished else int(100 * self.done / self.total) if self.total else 0
