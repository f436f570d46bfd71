"""A facade call's job: waiting for it, and its run as OpenAI shapes, served only from the ledgered record."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User

from audit_app.models import AccessEvent, Job
from audit_app.services.access_events import record_access
from audit_app.services.evidence import job_evidence
from audit_app.web.api.openai_request import OpenAIError

# Why the run ended (the run record's finish_reason) in OpenAI's terms: an answer cut at its budget is
# "length"; a run the model ended itself is "stop", also when its thinking was cut (by budget or loop)
# before the answer, which then ended on its own.
FINISH = {"eos": "stop", "thinking_budget": "stop", "loop_detected": "stop", "answer_budget": "length"}


def poll_seconds() -> float:
    """Half the worker's progress interval (so no update waits long), kept between 0.05 and 0.5 s."""
    return min(0.5, max(0.05, float(settings.GLASSBOX["PROGRESS_INTERVAL"]) / 2))


def timeout_seconds() -> float:
    return float(settings.GLASSBOX["OPENAI_TIMEOUT_SECONDS"])


def wait_until_finished(job_id: int, deadline: float) -> bool:
    """True once the job has finished; False at ``deadline`` (``time.monotonic``). One small query per poll."""
    while True:
        status = Job.objects.filter(pk=job_id).values_list("status", flat=True).first()
        if status in Job.FINISHED:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll_seconds())


def timed_out(job_id: int) -> OpenAIError:
    return OpenAIError(
        504,
        f"Job {job_id} did not finish within {timeout_seconds():g} s (GLASSBOX_OPENAI_TIMEOUT_SECONDS); it goes on "
        f"running: follow it at /api/v1/jobs/{job_id}/ and read its run at /api/v1/jobs/{job_id}/run/.",
        code="job_timeout",
        kind="timeout_error",
        job_id=job_id,
    )


def ledgered_run(user: User, job_id: int) -> tuple[dict[str, Any], str]:
    """The finished job's run record as ledgered, and its record hash; a failed or cancelled job, or a run
    that does not match its ledger entry, is an ``OpenAIError`` naming the job. Serving it is a ledgered view."""
    job = Job.objects.select_related("submission__case__team", "run").get(pk=job_id)
    if job.status == Job.FAILED:
        raise OpenAIError(
            500, f"Job {job.pk} failed: {job.error}", code="job_failed", kind="server_error", job_id=job.pk
        )
    if job.status == Job.CANCELLED:
        raise OpenAIError(
            409,
            f"Job {job.pk} was cancelled before it finished; what it produced is at /api/v1/jobs/{job.pk}/.",
            code="job_cancelled",
            kind="cancelled_error",
            job_id=job.pk,
        )
    evidence = job_evidence(job)
    if evidence.run is None:
        raise OpenAIError(
            500,
            f"Job {job.pk}'s run record does not match the ledger, so it is not served as evidence: "
            f"{evidence.run_problem or evidence.submission_problem}",
            code="evidence_unverified",
            kind="server_error",
            job_id=job.pk,
        )
    record_access(user, AccessEvent.VIEW, f"job:{job.pk}")
    return evidence.run, evidence.run_hashes["record"]


def usage(run: dict[str, Any]) -> dict[str, Any]:
    """Counts from the run record: the prompt's tokens, every generated token (control tokens included),
    of which the thinking tokens are the reasoning tokens."""
    prompt, generated = run["prompt_token_count"], run["generated_tokens"]
    return {
        "prompt_tokens": prompt,
        "completion_tokens": generated,
        "total_tokens": prompt + generated,
        "completion_tokens_details": {"reasoning_tokens": run["thinking_tokens"]},
    }


def glassbox_fields(job: Job, run: dict[str, Any] | None = None, record_sha256: str | None = None) -> dict[str, Any]:
    fields: dict[str, Any] = {"glassbox_job_id": job.pk}
    if run is not None:
        fields |= {
            "glassbox_record_sha256": record_sha256,
            "glassbox_finish_reason": run["finish_reason"],
            "glassbox_test_model": run["is_test_model"],
        }
    return fields


def completion(model: str, job: Job, run: dict[str, Any], record_sha256: str) -> dict[str, Any]:
    """A ``chat.completion``: the answer as ``content``, the thinking as ``reasoning_content`` (vLLM's name)."""
    return {
        "id": f"chatcmpl-glassbox-{job.pk}",
        "object": "chat.completion",
        "created": int(job.created_at.timestamp()),
        "model": model,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": run["answer"],
                    "reasoning_content": run["thinking"],
                    "refusal": None,
                },
                "finish_reason": FINISH.get(run["finish_reason"], "stop"),
                "logprobs": None,
            }
        ],
        "usage": usage(run),
        **glassbox_fields(job, run, record_sha256),
    }
