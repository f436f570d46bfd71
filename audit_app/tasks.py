"""Celery tasks: thin wrappers that pass ids to the services.

Importing this module loads no model and reads no setting: time limits are read when a task is sent
(``services/queueing.time_limits``) or, for a message without them, when the worker runs it
(``LimitedTask``); the model is loaded by the inference worker's start-up step (``worker.py``).
"""

from __future__ import annotations

import logging
import smtplib
import uuid
from typing import Any

from celery import Task, shared_task
from django.conf import settings

from audit_app import worker
from audit_app.ledger.signer import SigningRefused, sign_now
from audit_app.services import idempotency, notifications, pipeline, report_exports, webhooks
from audit_app.services.killswitch import current_suspension
from audit_app.services.verification import run_verification
from inference import InferenceError

logger = logging.getLogger(__name__)


class LimitedTask(Task):  # type: ignore[type-arg]  # celery-types makes Task generic; Celery's base is not
    """A task whose time limits are the settings' values when it runs, not when this module was imported."""

    @property
    def soft_time_limit(self) -> int:  # type: ignore[override]  # a property where Celery has an attribute
        return int(settings.GLASSBOX["SOFT_TIME_LIMIT"])

    @property
    def time_limit(self) -> int:  # type: ignore[override]
        return int(settings.GLASSBOX["HARD_TIME_LIMIT"])


@shared_task(
    name="glassbox.run_job",
    base=LimitedTask,
    acks_late=True,  # safe: a second delivery cannot claim a job that is running or finished
    reject_on_worker_lost=True,
    bind=True,
)
def run_job(self: Task[Any, Any], job_id: int) -> str:
    if current_suspension() is not None:
        return "suspended"  # stays queued; resuming sends it again
    token = uuid.uuid4()
    job = pipeline.claim_job(job_id, token, self.request.id or "")
    if job is None:
        return "not claimed"
    writer = pipeline.ProgressWriter(job_id, token)
    # The soft limit is the job's own check: the thread pool has no signal to interrupt a task with. The limit
    # that applies: the message's, else the settings' now.
    soft = (self.request.timelimit or (None, None))[1] or settings.GLASSBOX["SOFT_TIME_LIMIT"]
    deadline = pipeline.Deadline(soft, writer)
    try:
        engine = worker.get_engine()
        result = engine.generate(
            pipeline.reasoning_request(job),
            on_progress=writer,
            should_cancel=worker.paced(deadline.should_stop),
            progress_interval=settings.GLASSBOX["PROGRESS_INTERVAL"],
            on_wait=writer.waiting,  # its place in the queue for GPU memory, on the job row for the analyst
        )
    except InferenceError as error:  # model missing, out of memory, bad stored request: one sentence each
        pipeline.fail_job(job_id, token, str(error))
        return "failed"
    except Exception as error:
        logger.exception("Job %s failed", job_id)
        pipeline.fail_job(job_id, token, f"Generation failed ({type(error).__name__}); the worker log has details.")
        return "failed"
    if deadline.passed:
        pipeline.fail_job(job_id, token, f"The job ran past its time limit of {deadline.seconds} seconds.")
        return "failed"
    return "recorded" if pipeline.record_run(job_id, token, result) else "superseded"


@shared_task(name="glassbox.sweep_jobs", ignore_result=True)
def sweep_jobs() -> dict[str, int]:
    return pipeline.sweep_jobs() | {"reports_failed": report_exports.sweep_reports()}


@shared_task(name="glassbox.sign_checkpoint", ignore_result=True)
def sign_checkpoint() -> int | None:
    try:
        checkpoint = sign_now()
    except SigningRefused:
        return None  # logged at ERROR and recorded as a LedgerAlert; beat tries again next interval
    return checkpoint.size if checkpoint else None


@shared_task(name="glassbox.prune_idempotency_keys", ignore_result=True)
def prune_idempotency_keys() -> int:
    """Forget API Idempotency-Keys older than 24 hours (the promise is 24 hours, not forever)."""
    return idempotency.prune()


@shared_task(name="glassbox.verify_ledger", base=LimitedTask, ignore_result=True)  # past the soft limit: failed
def verify_ledger(run_id: int) -> bool | None:
    """Whole-ledger verification for the auditor page (a run id, never the web request)."""
    result = run_verification(run_id)
    return None if result is None else result.ok


@shared_task(name="glassbox.send_notification", bind=True, ignore_result=True)
def send_notification(self: Task[Any, Any], event: str, job_id: int, user_id: int) -> str:
    """One e-mail (services/notifications.py); an unreachable or refusing mail server is retried with backoff."""
    try:
        sent = notifications.deliver(event, job_id, user_id)
    except (smtplib.SMTPException, OSError) as error:
        retries = settings.GLASSBOX["NOTIFICATION_RETRIES"]
        if self.request.retries >= retries:
            logger.error(
                "The %s e-mail for job %s to user %s was not sent after %s attempts: %s",
                event,
                job_id,
                user_id,
                retries + 1,
                error,
            )
            return "failed"
        delay = min(3600.0, settings.GLASSBOX["NOTIFICATION_RETRY_SECONDS"] * 2**self.request.retries)
        logger.warning("The %s e-mail for job %s failed (%s); retrying in %.0f s.", event, job_id, error, delay)
        raise self.retry(exc=error, countdown=delay, max_retries=retries) from None
    return "sent" if sent else "skipped"


@shared_task(name="glassbox.send_webhook", bind=True, ignore_result=True)
def send_webhook(self: Task[Any, Any], delivery_id: int) -> str:
    """One webhook attempt (services/webhooks.py); a failed one is retried with backoff up to the ceiling."""
    retries = settings.GLASSBOX["WEBHOOK_RETRIES"]
    outcome = webhooks.attempt(delivery_id, final=self.request.retries >= retries)
    if outcome == webhooks.RETRY:
        raise self.retry(countdown=webhooks.retry_delay(self.request.retries), max_retries=retries)
    return outcome


@shared_task(name="glassbox.render_report", base=LimitedTask, ignore_result=True)
def render_report(report_id: int) -> str:
    """One PDF report (services/report_exports.py): rendered, written atomically, ledgered, or failed."""
    report = report_exports.render_report(report_id)
    return "not claimed" if report is None else report.status
