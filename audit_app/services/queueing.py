"""Sending jobs to the inference queue: once per queued job, and again only when the broker lost its message.

Services send tasks by name (``send_task``) and never import the task module, so no import circle forms
between the services and the tasks that call them.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from celery.result import AsyncResult
from django.conf import settings
from django.utils import timezone

from audit_app.celery import INFERENCE_QUEUE, app
from audit_app.models import Job
from audit_app.services.broker import pending_task_ids

logger = logging.getLogger(__name__)
RUN_JOB = "glassbox.run_job"


def enqueue_job(job_id: int) -> bool:
    """Send the job to the inference queue; with the broker down it stays queued for the sweep."""
    try:
        result = send_by_name(RUN_JOB, job_id, retry=False)
    except Exception:  # kombu raises several types for an unreachable broker
        logger.warning("Broker unreachable: job %s stays queued until the sweep re-sends it.", job_id, exc_info=True)
        return False
    Job.objects.filter(pk=job_id, status=Job.QUEUED).update(task_id=result.id, enqueued_at=timezone.now())
    return True


def send_by_name(task: str, argument: int, retry: bool = True) -> AsyncResult[Any]:
    """Send ``task`` with the time limits configured now (Celery would send the task's, cached in this process)."""
    limits = settings.GLASSBOX
    return app.send_task(
        task,
        args=(argument,),
        retry=retry,
        soft_time_limit=limits["SOFT_TIME_LIMIT"],
        time_limit=limits["HARD_TIME_LIMIT"],
    )


def send_missing_messages(sent_before: datetime | None = None) -> int:
    """Send run_job for each queued job without a message: never sent, requeued, or lost by the broker.

    One message per job, however long the backlog waits: a job whose message (sent before ``sent_before``,
    any time when None) is still waiting or delivered in the broker is not sent again.
    """
    waiting = Job.objects.filter(status=Job.QUEUED, cancel_requested=False)
    unsent = list(waiting.filter(enqueued_at__isnull=True).values_list("pk", flat=True))
    older = waiting.filter(enqueued_at__isnull=False)
    if sent_before is not None:
        older = older.filter(enqueued_at__lt=sent_before)
    overdue = list(older.values_list("pk", "task_id"))
    if overdue:
        try:
            pending = pending_task_ids(INFERENCE_QUEUE)
        except Exception:  # broker unreachable: these jobs keep their stored state until the next sweep
            logger.warning("Broker unreachable: cannot check which queued jobs lost their message.", exc_info=True)
            overdue = []
        else:
            overdue = [(pk, task_id) for pk, task_id in overdue if task_id not in pending]
    return sum(enqueue_job(job_id) for job_id in unsent + [pk for pk, _ in overdue])


def queue_positions(jobs: Iterable[Job]) -> dict[int, int | None]:
    """Each job's 1-based place in line, by id; None for one running or finished.

    A queued job's place is among all queued jobs in submission order (the inference queue is site-wide and
    first in, first out; a requeued job keeps its place here though its new message waits at the back). A
    claimed job waiting for GPU memory has the place its worker wrote from the engine's memory queue.
    One query for any number of jobs.
    """
    jobs = list(jobs)
    positions = {job.pk: job.queue_position if job.status == Job.RUNNING else None for job in jobs}
    queued = [job.pk for job in jobs if job.status == Job.QUEUED]
    if queued:
        line = list(
            Job.objects.filter(status=Job.QUEUED, pk__lte=max(queued)).order_by("pk").values_list("pk", flat=True)
        )
        positions |= {pk: bisect.bisect_left(line, pk) + 1 for pk in queued}
    return positions
