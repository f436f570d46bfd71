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


def is_inference_queue(name: str) -> bool:
    """``inference`` or ``inference.<name>``: a worker consuming one holds a model (``worker.serves_inference``)."""
    return name == INFERENCE_QUEUE or name.startswith(INFERENCE_QUEUE + ".")


def inference_queues() -> list[str]:
    """Every queue this site sends jobs to: the default and each domain's route."""
    config = settings.GLASSBOX
    return list(dict.fromkeys([config["INFERENCE_QUEUE"], *config["INFERENCE_ROUTES"].values()]))


def queue_for(domain: str) -> str:
    """The queue a job of ``domain`` goes to (``GLASSBOX_INFERENCE_ROUTES``, else ``GLASSBOX_INFERENCE_QUEUE``)."""
    config = settings.GLASSBOX
    return config["INFERENCE_ROUTES"].get(domain, config["INFERENCE_QUEUE"])


def queue_promise_refusal(queues: list[str], quantization: str, modes: tuple[str, ...]) -> str | None:
    """The sentence refusing a worker whose inference queue names a quantization other than the one it loads
    (``-Q inference.bf16`` with ``GLASSBOX_QUANTIZATION=nf4``), or None."""
    for queue in queues:
        if not is_inference_queue(queue):
            continue
        promised = [part for part in queue.split(".")[1:] if part in modes]
        if promised and promised != [quantization]:
            return (
                f"This worker consumes {queue!r}, which promises {' and '.join(promised)} weights, but "
                f"GLASSBOX_QUANTIZATION is {quantization!r}; start it on a queue that names its quantization."
            )
    return None


def enqueue_job(job_id: int) -> bool:
    """Send the job to its domain's inference queue; with the broker down it stays queued for the sweep."""
    try:
        domain = Job.objects.filter(pk=job_id).values_list("submission__domain", flat=True).first() or ""
        result = send_by_name(RUN_JOB, job_id, retry=False, queue=queue_for(domain))
    except Exception:  # kombu raises several types for an unreachable broker
        logger.warning("Broker unreachable: job %s stays queued until the sweep re-sends it.", job_id, exc_info=True)
        return False
    Job.objects.filter(pk=job_id, status=Job.QUEUED).update(task_id=result.id, enqueued_at=timezone.now())
    return True


def send_by_name(task: str, argument: int, retry: bool = True, queue: str | None = None) -> AsyncResult[Any]:
    """Send ``task`` with the time limits configured now (Celery would send the task's, cached in this process);
    ``queue`` overrides the task's route."""
    limits = settings.GLASSBOX
    routing: dict[str, Any] = {} if queue is None else {"queue": queue}
    return app.send_task(
        task,
        args=(argument,),
        retry=retry,
        **routing,
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
            pending = set().union(*(pending_task_ids(queue) for queue in inference_queues()))
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
