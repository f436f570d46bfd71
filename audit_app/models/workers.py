"""What each inference worker process reports about itself: operational, mutable, never evidence.

The run record's provenance is the evidence of which model answered; this row only tells operators
which workers are alive now and what they hold, and is overwritten by every heartbeat.
"""

from __future__ import annotations

from django.db import models


class WorkerStatus(models.Model):
    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    queues = models.CharField(max_length=200)
    device = models.CharField(max_length=200, blank=True)
    model_id = models.CharField(max_length=300, blank=True)
    model_revision = models.CharField(max_length=100, blank=True)
    quantization = models.CharField(max_length=20, blank=True)
    is_test_model = models.BooleanField(default=False)
    load_error = models.TextField(blank=True)  # the one sentence when the model did not load
    # The engine's capacity as allocated (0 when unknown): the web refuses a job that no live worker could hold.
    slots = models.PositiveIntegerField(default=0)
    kv_cache_tokens = models.PositiveBigIntegerField(default=0)
    kv_bytes_per_token = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField()
    heartbeat_at = models.DateTimeField()

    class Meta:
        ordering = ["hostname", "pid"]
        constraints = [models.UniqueConstraint(fields=["hostname", "pid"], name="worker_status_unique")]

    def __str__(self) -> str:
        return f"worker {self.hostname}:{self.pid}"
