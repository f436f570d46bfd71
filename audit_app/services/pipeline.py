"""The worker's side of a job: claim, stream progress, record the run or the failure, sweep the stragglers.

Every write after the claim is conditional on the claim token, so a worker that lost its job
(presumed dead, then superseded) can never overwrite the attempt that replaced it.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Q, QuerySet, Value, When
from django.utils import timezone

from audit_app.ledger import derived
from audit_app.models import Document, Job, RunRecord
from audit_app.services import notifications, webhooks
from audit_app.services.killswitch import current_suspension
from audit_app.services.queueing import send_missing_messages
from audit_app.services.store import store_evidence
from inference import Document as PromptDocument
from inference import GenerationSettings, Progress, ReasoningRequest, ReasoningResult

logger = logging.getLogger(__name__)
CANCELLED_WORKER_LOST = "Cancelled as asked; the worker stopped before it could store the partial run."


def storable(text: str) -> str:
    """PostgreSQL text and jsonb cannot hold NUL; store U+FFFD instead (``output_token_ids`` stay exact)."""
    return text.replace("\x00", "\ufffd")


def claim_job(job_id: int, token: uuid.UUID, task_id: str = "") -> Job | None:
    """Take the job if it is queued, or running with a heartbeat gone stale; None if someone else has it."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.GLASSBOX["STALE_AFTER_SECONDS"])
    claimable = Q(status=Job.QUEUED) | Q(status=Job.RUNNING, heartbeat_at__lt=stale)
    claimed = Job.objects.filter(claimable, pk=job_id, cancel_requested=False).update(
        status=Job.RUNNING,
        claim_token=token,
        task_id=task_id,
        attempts=F("attempts") + 1,
        started_at=now,
        heartbeat_at=now,
        thinking_tokens=0,
        answer_tokens=0,
        partial_thinking="",
        partial_answer="",
        error="",
        queue_position=None,
    )
    return Job.objects.select_related("submission").get(pk=job_id) if claimed else None


def reasoning_request(job: Job) -> ReasoningRequest:
    """Rebuild the engine's request from the stored, frozen submission."""
    submission = job.submission
    documents = Document.objects.filter(submission=submission).only("name", "text")
    return ReasoningRequest(
        domain=submission.domain,
        question=submission.question,
        documents=tuple(PromptDocument(d.name, d.text) for d in documents),
        settings=GenerationSettings(**submission.settings),
    )


class ProgressWriter:
    """Writes the growing trace to the job row (throttled by the engine) and reads back a cancel request.

    While the job waits for GPU memory (``waiting``) no progress comes, so the writer keeps the job's
    heartbeat fresh itself (or the sweep would take a waiting job for a lost one) and keeps reading the
    cancel request; the first progress clears the queue position.
    """

    def __init__(self, job_id: int, token: uuid.UUID) -> None:
        self.job_id = job_id
        self.token = token
        self.thinking = ""
        self.answer = ""
        self.cancelled = False
        self.queued_for_memory = False
        self._beaten = 0.0

    def __call__(self, progress: Progress) -> None:
        self.thinking += storable(progress.thinking_delta)
        self.answer += storable(progress.answer_delta)
        self.queued_for_memory = False
        self._write(
            partial_thinking=self.thinking,
            partial_answer=self.answer,
            thinking_tokens=progress.thinking_tokens,
            answer_tokens=progress.answer_tokens,
            queue_position=None,
        )

    def waiting(self, position: int) -> None:
        """The engine's ``on_wait``: the job's 1-based place in the queue for GPU memory, shown to the analyst."""
        self.queued_for_memory = True
        self._write(queue_position=position)

    def should_cancel(self) -> bool:
        if self.queued_for_memory and time.monotonic() - self._beaten >= self.wait_beat_seconds():
            self._write()
        return self.cancelled

    @staticmethod
    def wait_beat_seconds() -> float:
        """How often a job waiting for memory renews its heartbeat: well inside the sweep's stale limit."""
        return min(5.0, settings.GLASSBOX["STALE_AFTER_SECONDS"] / 4)

    def _write(self, **fields: object) -> None:
        self._beaten = time.monotonic()
        still_ours = Job.objects.filter(pk=self.job_id, claim_token=self.token).update(
            heartbeat_at=timezone.now(), **fields
        )
        requested = Job.objects.filter(pk=self.job_id).values_list("cancel_requested", flat=True).first()
        self.cancelled = not still_ours or bool(requested)


class Deadline:
    """A job's soft time limit, checked with its cancel request after every token and while it waits for memory.

    Once passed, the job stops as if cancelled and the task fails it with the limit's sentence instead of
    storing a run. A job whose engine stops producing tokens is never checked: its heartbeat stops, and the
    sweep treats it as lost (``GLASSBOX_STALE_AFTER_SECONDS``).
    """

    def __init__(self, seconds: float, writer: ProgressWriter) -> None:
        self.seconds = seconds
        self.writer = writer
        self.ends_at = time.monotonic() + seconds
        self.passed = False

    def should_stop(self) -> bool:
        if not self.passed and not self.writer.should_cancel() and time.monotonic() >= self.ends_at:
            self.passed = True
        return self.passed or self.writer.should_cancel()


def record_run(job_id: int, token: uuid.UUID, result: ReasoningResult) -> RunRecord | None:
    """Store the run record and finish the job in one transaction; None if the claim was lost meanwhile."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id, claim_token=token, status=Job.RUNNING).first()
        if job is None:
            logger.warning("Job %s was taken over by another attempt; this attempt's result is dropped.", job_id)
            return None
        prompt = result.prompt
        run = RunRecord(
            job=job,
            submission_record_sha256=job.submission.record_sha256,
            prompt_text=storable(prompt.text),
            prompt_token_ids=list(prompt.token_ids),
            prompt_token_count=len(prompt.token_ids),
            template_id=prompt.template_id,
            system_prompt_source=prompt.system_prompt_source,
            system_prompt_sha256=prompt.system_prompt_sha256,
            settings=result.settings.to_dict(),
            thinking=storable(result.thinking),
            answer=storable(result.answer),
            thinking_blocks=[storable(block) for block in result.thinking_blocks],
            raw_output=storable(result.raw_output),
            output_token_ids=list(result.output_token_ids),
            finish_reason=result.finish_reason,
            thinking_end=result.thinking_end,
            forced_tokens=list(result.forced_tokens),
            thinking_tokens=result.thinking_tokens,
            answer_tokens=result.answer_tokens,
            generated_tokens=result.generated_tokens,
            timings=result.timings,
            provenance=result.provenance,
            is_test_model=result.is_test_model,
            **derived.run_hashes(prompt.token_ids, storable(result.thinking), storable(result.answer)),
        )
        store_evidence(run)
        job.status = Job.CANCELLED if result.finish_reason == "cancelled" else Job.SUCCEEDED
        job.finished_at = timezone.now()
        job.thinking_tokens, job.answer_tokens = result.thinking_tokens, result.answer_tokens
        job.partial_thinking = job.partial_answer = ""
        job.queue_position = None
        job.save(
            update_fields=[
                "status",
                "finished_at",
                "thinking_tokens",
                "answer_tokens",
                "partial_thinking",
                "partial_answer",
                "queue_position",
            ]
        )
        notifications.run_recorded(job)  # reviewers are told once this transaction commits
        webhooks.job_finished([job.pk])  # and the submitting key's webhook, likewise
    return run


def fail_job(job_id: int, token: uuid.UUID | None, reason: str) -> None:
    """Mark the job failed with a sentence for the analyst (only if this attempt still owns it)."""
    owned = Job.objects.filter(pk=job_id).exclude(status__in=Job.FINISHED)
    if token is not None:
        owned = owned.filter(claim_token=token)
    with transaction.atomic():
        if owned.update(status=Job.FAILED, error=reason, finished_at=timezone.now(), queue_position=None):
            webhooks.job_finished([job_id])


def cancel_job(job: Job) -> None:
    """A queued job is cancelled at once; a running one is asked to stop and keeps its partial run.

    One UPDATE, so a sweep requeueing the job at the same moment cannot slip between "cancel if queued"
    and "ask to stop if running" and lose the request.
    """
    queued = Q(status=Job.QUEUED)
    with transaction.atomic():
        changed = Job.objects.filter(pk=job.pk, status__in=(Job.QUEUED, Job.RUNNING)).update(
            cancel_requested=True,
            status=Case(When(queued, then=Value(Job.CANCELLED)), default=F("status")),
            finished_at=Case(When(queued, then=Value(timezone.now())), default=F("finished_at")),
        )
        if changed:  # a running job's event follows when the worker stores the partial run (record_run)
            webhooks.job_finished(
                list(Job.objects.filter(pk=job.pk, status=Job.CANCELLED).values_list("pk", flat=True))
            )


def sweep_jobs() -> dict[str, int]:
    """Cancel lost jobs whose cancel was asked for, requeue (or fail) the other lost ones, send missing messages."""
    limits = settings.GLASSBOX
    now = timezone.now()
    stale = now - timedelta(seconds=limits["STALE_AFTER_SECONDS"])
    lost = Q(status=Job.RUNNING, heartbeat_at__lt=stale)
    # A cancel asked for before the worker died is honoured: there is nothing left to stop, and a job
    # requeued with its cancel pending would never be claimed again ("queued · cancelling…" forever).
    with transaction.atomic():  # the finished jobs' webhook events are recorded with them (ids locked first)
        to_cancel = _locked_ids(Job.objects.filter(lost | Q(status=Job.QUEUED), cancel_requested=True))
        cancelled = Job.objects.filter(pk__in=to_cancel).update(
            status=Job.CANCELLED, finished_at=now, error=CANCELLED_WORKER_LOST
        )
        to_fail = _locked_ids(Job.objects.filter(lost, cancel_requested=False, attempts__gte=limits["MAX_ATTEMPTS"]))
        failed = Job.objects.filter(pk__in=to_fail).update(
            status=Job.FAILED,
            finished_at=now,
            error=f"The worker running this job stopped answering {limits['MAX_ATTEMPTS']} times "
            "(crash, out of memory or hard time limit); it was not retried again.",
        )
        webhooks.job_finished(to_cancel + to_fail)
    # enqueued_at=None: the dead worker's message is unacknowledged and only returns after the
    # visibility timeout, so the job needs a new one now.
    requeued = Job.objects.filter(lost, cancel_requested=False, attempts__lt=limits["MAX_ATTEMPTS"]).update(
        status=Job.QUEUED, claim_token=None, enqueued_at=None, queue_position=None
    )
    counts = {"cancelled": cancelled, "failed": failed, "requeued": requeued, "sent": 0}
    if current_suspension() is None:
        counts["sent"] = send_missing_messages(now - timedelta(seconds=limits["QUEUED_TOO_LONG_SECONDS"]))
    return counts


def _locked_ids(jobs: QuerySet[Job]) -> list[int]:
    """The ids of ``jobs``, their rows locked until the transaction ends (waiting, as the UPDATE did)."""
    return list(jobs.select_for_update().values_list("pk", flat=True))
