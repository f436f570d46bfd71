"""The worker's side of a job: claim, stream progress, record the run or the failure, sweep the stragglers.

Every write after the claim is conditional on the claim token, so a worker that lost its job
(presumed dead, then superseded) can never overwrite the attempt that replaced it.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from audit_app.ledger import derived
from audit_app.ledger import log as ledger
from audit_app.ledger.records import evidence_hash
from audit_app.models import Document, Job, RunRecord
from inference import Document as PromptDocument
from inference import GenerationSettings, Progress, ReasoningRequest, ReasoningResult

logger = logging.getLogger(__name__)


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
    """Writes the growing trace to the job row (throttled by the engine) and reads back a cancel request."""

    def __init__(self, job_id: int, token: uuid.UUID) -> None:
        self.job_id = job_id
        self.token = token
        self.thinking = ""
        self.answer = ""
        self.cancelled = False

    def __call__(self, progress: Progress) -> None:
        self.thinking += storable(progress.thinking_delta)
        self.answer += storable(progress.answer_delta)
        still_ours = Job.objects.filter(pk=self.job_id, claim_token=self.token).update(
            partial_thinking=self.thinking,
            partial_answer=self.answer,
            thinking_tokens=progress.thinking_tokens,
            answer_tokens=progress.answer_tokens,
            heartbeat_at=timezone.now(),
        )
        requested = Job.objects.filter(pk=self.job_id).values_list("cancel_requested", flat=True).first()
        self.cancelled = not still_ours or bool(requested)

    def should_cancel(self) -> bool:
        return self.cancelled


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
        run.record_sha256 = evidence_hash(run)
        run.save()
        ledger.record_evidence("run", run)
        job.status = Job.CANCELLED if result.finish_reason == "cancelled" else Job.SUCCEEDED
        job.finished_at = timezone.now()
        job.thinking_tokens, job.answer_tokens = result.thinking_tokens, result.answer_tokens
        job.partial_thinking = job.partial_answer = ""
        job.save(update_fields=["status", "finished_at", "thinking_tokens", "answer_tokens",
                                "partial_thinking", "partial_answer"])  # fmt: skip
    return run


def fail_job(job_id: int, token: uuid.UUID | None, reason: str) -> None:
    """Mark the job failed with a sentence for the analyst (only if this attempt still owns it)."""
    owned = Job.objects.filter(pk=job_id).exclude(status__in=Job.FINISHED)
    if token is not None:
        owned = owned.filter(claim_token=token)
    owned.update(status=Job.FAILED, error=reason, finished_at=timezone.now())


def cancel_job(job: Job) -> None:
    """A queued job is cancelled at once; a running one is asked to stop and keeps its partial run."""
    Job.objects.filter(pk=job.pk, status=Job.QUEUED).update(
        status=Job.CANCELLED, cancel_requested=True, finished_at=timezone.now()
    )
    Job.objects.filter(pk=job.pk, status=Job.RUNNING).update(cancel_requested=True)


def sweep_jobs() -> dict[str, int]:
    """Re-send jobs queued too long, requeue jobs whose worker went silent, fail those out of attempts."""
    from audit_app.services.killswitch import current_suspension
    from audit_app.services.submission import enqueue_job

    limits = settings.GLASSBOX
    now = timezone.now()
    stale = now - timedelta(seconds=limits["STALE_AFTER_SECONDS"])
    lost = Job.objects.filter(status=Job.RUNNING, heartbeat_at__lt=stale)
    failed = lost.filter(attempts__gte=limits["MAX_ATTEMPTS"]).update(
        status=Job.FAILED,
        finished_at=now,
        error=f"The worker running this job stopped answering {limits['MAX_ATTEMPTS']} times "
        "(crash, out of memory or hard time limit); it was not retried again.",
    )
    requeued = lost.filter(attempts__lt=limits["MAX_ATTEMPTS"]).update(status=Job.QUEUED, claim_token=None)
    if current_suspension() is not None:
        return {"failed": failed, "requeued": requeued, "sent": 0}
    waiting = now - timedelta(seconds=limits["QUEUED_TOO_LONG_SECONDS"])
    overdue = Job.objects.filter(status=Job.QUEUED, cancel_requested=False).filter(
        Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=waiting) | Q(claim_token__isnull=True, attempts__gt=0)
    )
    sent = sum(enqueue_job(job_id) for job_id in overdue.values_list("pk", flat=True))
    return {"failed": failed, "requeued": requeued, "sent": sent}
