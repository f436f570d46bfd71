"""Worker status for operators: each inference process upserts its ``WorkerStatus`` row from a heartbeat thread.

Why a thread in the worker process and not a beat-driven ping: an inference process runs as many jobs as its
engine has slots, each for minutes, and a ping task would wait behind them, so a busy, healthy worker would look
dead. One thread per process (started once the model has loaded or failed to), beside the task threads; it
lives and dies with the process that holds the model, so a silent row means that process is gone (or stuck
at the database), which is what an operator needs to see. Rows are operational and overwritten, never
evidence; rows silent for a day are pruned by the next heartbeat of any worker.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import Error, connection
from django.utils import timezone

from audit_app.models import WorkerStatus
from inference import Engine, InferenceError
from inference.kv import KvCapacity
from inference.remote import RemoteEngine

logger = logging.getLogger(__name__)
STALE_AFTER_BEATS = 3  # a row older than three intervals is shown as stale
PRUNE_AFTER = timedelta(days=1)


def heartbeat_seconds() -> float:
    """``GLASSBOX_WORKER_HEARTBEAT_SECONDS`` (default 15), at least 0.2 s so that a zero cannot spin the thread."""
    return max(0.2, settings.GLASSBOX["WORKER_HEARTBEAT_SECONDS"])


def model_facts(engine: Engine | RemoteEngine | None, error: Exception | None) -> dict[str, Any]:
    """What the row says about the loaded model, from the engine's provenance (the run records' source too)."""
    if engine is None:
        return {"load_error": str(error) if error else "The model has not loaded."}
    provenance = engine.provenance
    device = provenance.get("device", {})
    return {
        "device": f"{device.get('torch_device', '?')} ({device.get('name', 'unknown')})",
        "model_id": str(provenance.get("model_id", "")),
        "model_revision": str(provenance.get("revision", "")),
        "quantization": str(provenance.get("quantization", {}).get("mode", "")),
        "is_test_model": bool(provenance.get("is_test_model", False)),
        "load_error": "",
        **capacity_facts(engine),
    }


def capacity_facts(engine: Engine | RemoteEngine) -> dict[str, int]:
    """The batching engine's slots and the KV cache it really allocated (zeros, meaning unknown, if it could not
    start, or when a remote server generates and keeps its cache to itself)."""
    if isinstance(engine, RemoteEngine):
        return {"slots": 0, "kv_cache_tokens": 0, "kv_bytes_per_token": 0}
    try:
        batch = engine.batch_engine()  # already started at load (worker.py): this only reads it
    except InferenceError as error:
        logger.error("The batching engine did not start: %s", error)
        return {"slots": 0, "kv_cache_tokens": 0, "kv_bytes_per_token": 0}
    return {
        "slots": batch.settings.slots,
        "kv_cache_tokens": batch.capacity.tokens,
        "kv_bytes_per_token": batch.capacity.bytes_per_token,
    }


def beat(hostname: str, pid: int, queues: list[str], facts: dict[str, Any], started_at: datetime) -> None:
    """Write this process's row now (insert or overwrite), and prune rows silent for a day."""
    now = timezone.now()
    WorkerStatus.objects.update_or_create(
        hostname=hostname,
        pid=pid,
        defaults={"queues": ",".join(queues), "started_at": started_at, "heartbeat_at": now, **facts},
    )
    WorkerStatus.objects.filter(heartbeat_at__lt=now - PRUNE_AFTER).delete()


def start_heartbeat(
    engine: Engine | RemoteEngine | None, error: Exception | None, queues: list[str]
) -> threading.Thread:
    """Report this process once now (the model has loaded, or failed to) and then every interval."""
    hostname, pid, started_at = socket.gethostname(), os.getpid(), timezone.now()
    facts, interval = model_facts(engine, error), heartbeat_seconds()

    def loop() -> None:  # until the process ends (a daemon thread)
        while True:
            try:
                beat(hostname, pid, queues, facts, started_at)
            except Error:  # any database error (a closed connection is an InterfaceError, not a DatabaseError)
                logger.warning("Worker heartbeat not written; retrying in %s s", interval, exc_info=True)
                with contextlib.suppress(Error):
                    connection.close()  # a broken connection is reopened on the next beat
            time.sleep(interval)

    thread = threading.Thread(target=loop, name="glassbox-worker-heartbeat", daemon=True)
    thread.start()
    return thread


@dataclass(frozen=True)
class WorkerRow:
    status: WorkerStatus
    stale: bool

    @property
    def capacity(self) -> str:
        """Like "16 slots, KV cache 131,072 tokens (32 MiB)"; empty when the engine reported none."""
        row = self.status
        if not row.kv_cache_tokens:
            return ""
        size = row.kv_cache_tokens * row.kv_bytes_per_token
        memory = f"{size / 2**30:.1f} GiB" if size >= 2**30 else f"{size / 2**20:.0f} MiB"
        return f"{row.slots} slots, KV cache {row.kv_cache_tokens:,} tokens ({memory})"


def _stale_cutoff() -> datetime:
    return timezone.now() - timedelta(seconds=STALE_AFTER_BEATS * heartbeat_seconds())


def worker_rows() -> list[WorkerRow]:
    """Every reported worker, each marked stale when its heartbeat is older than three intervals."""
    cutoff = _stale_cutoff()
    return [WorkerRow(row, row.heartbeat_at < cutoff) for row in WorkerStatus.objects.all()]


def largest_live_capacity() -> KvCapacity | None:
    """The largest KV cache of any live (not stale) inference worker that reported one; None when none did."""
    row = (
        WorkerStatus.objects.filter(heartbeat_at__gte=_stale_cutoff(), kv_cache_tokens__gt=0, kv_bytes_per_token__gt=0)
        .order_by("-kv_cache_tokens")
        .first()
    )
    return None if row is None else KvCapacity(row.kv_cache_tokens, row.kv_bytes_per_token)
