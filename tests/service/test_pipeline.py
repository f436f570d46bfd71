"""Submission to stored run through real Redis, real Celery processes and the tiny model."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from audit_app.models import Job, RunRecord, Team
from audit_app.services.killswitch import resume_inference, suspend_inference
from audit_app.services.pipeline import cancel_job
from audit_app.services.submission import submit_job
from audit_app.tasks import run_job
from inference import GenerationSettings
from tests.service.processes import start_celery, stop, wait_for

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "deploy"))
import localservices

from tests.services_plugin import REDIS_PORT, VAR

pytestmark = pytest.mark.django_db(transaction=True)
# Greedy: thinking loops and is cut early, then the answer runs its full budget (seconds on CPU).
LONG = GenerationSettings(temperature=0, thinking_budget=2000, answer_budget=6000)
SHORT = GenerationSettings(thinking_budget=32, answer_budget=32, seed=0)


def status(job: Job) -> str:
    job.refresh_from_db()
    return job.status


def test_job_runs_and_its_run_record_holds_thinking_and_answer(worker, analyst: User, team: Team):
    job = submit_job(analyst, team, "C-1", "legal", "Is a verbal contract binding?", generation=SHORT)
    wait_for(lambda: status(job) == Job.SUCCEEDED, what="the job to succeed")
    run = RunRecord.objects.get(job=job)
    assert run.thinking
    assert run.answer
    assert run.is_test_model
    assert run.provenance["model_id"] == "glassbox/tiny-magistral-test-model"
    assert job.attempts == 1


def test_cancel_mid_run_stores_the_partial_run(worker, analyst: User, team: Team):
    job = submit_job(analyst, team, "C-1", "legal", "Is a verbal contract binding?", generation=LONG)
    wait_for(lambda: (job.refresh_from_db(), job.answer_tokens > 50)[1], what="answer tokens to stream")
    cancel_job(job)
    wait_for(lambda: status(job) == Job.CANCELLED, timeout=5, what="cancellation within seconds")
    run = RunRecord.objects.get(job=job)
    assert run.finish_reason == "cancelled"
    assert 50 < run.answer_tokens < LONG.answer_budget


def test_broker_down_at_submission_job_is_kept_and_runs_when_it_returns(worker, beat, analyst: User, team: Team):
    localservices.stop_redis(VAR, REDIS_PORT)
    try:
        job = submit_job(analyst, team, "C-1", "legal", "Is a verbal contract binding?", generation=SHORT)
        assert status(job) == Job.QUEUED
        assert job.enqueued_at is None
    finally:
        localservices.start_redis(VAR, REDIS_PORT)
    wait_for(lambda: status(job) == Job.SUCCEEDED, timeout=90, what="the job to run after the broker returned")
    assert RunRecord.objects.filter(job=job).count() == 1


def test_kill_switch_cancels_running_jobs_and_holds_queued_ones(worker, analyst: User, operator: User, team: Team):
    running = submit_job(analyst, team, "C-1", "legal", "Is a verbal contract binding?", generation=LONG)
    wait_for(lambda: status(running) == Job.RUNNING, what="the job to start")
    suspend_inference(operator, "Incident 42")
    wait_for(lambda: status(running) == Job.CANCELLED, timeout=5, what="the running job to be cancelled")
    assert RunRecord.objects.get(job=running).finish_reason == "cancelled"
    resume_inference(operator, "Incident closed")
    job = submit_job(analyst, team, "C-2", "legal", "And now?", generation=SHORT)
    wait_for(lambda: status(job) == Job.SUCCEEDED, what="a job after resuming")


@pytest.mark.parametrize(
    ("environment", "reason"),
    [
        ({"MAGISTRAL_MODEL_PATH": "/srv/models/absent"}, "There is no model directory at /srv/models/absent"),
        ({"GLASSBOX_SOFT_TIME_LIMIT": "1"}, "The job ran past its time limit of 1 seconds."),
    ],
)
def test_failure_is_stored_with_a_clear_reason(
    tmp_path: Path, analyst: User, team: Team, environment: dict[str, str], reason: str, settings
):
    # The time limits travel with the message, read from the sender's settings when it sends.
    soft = int(environment.get("GLASSBOX_SOFT_TIME_LIMIT", "3600"))
    settings.GLASSBOX = settings.GLASSBOX | {"SOFT_TIME_LIMIT": soft}
    run_job.app.control.purge()
    failing = start_celery("inference", tmp_path / "worker.log", env=environment)
    try:
        job = submit_job(analyst, team, "C-1", "legal", "Is a verbal contract binding?", generation=LONG)
        wait_for(lambda: status(job) == Job.FAILED, timeout=60, what="the job to fail")
    finally:
        stop(failing)
    assert reason in job.error
    assert not RunRecord.objects.filter(job=job).exists()
