"""Job-state races end cleanly: a cancel that met a dying worker, suspend against a finishing job, and a
backlog that the sweep must not flood with duplicate messages."""

from __future__ import annotations

import os
import signal
import threading
import uuid
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone

from audit_app.celery import INFERENCE_QUEUE, app
from audit_app.models import Job, KillSwitchEvent, RunRecord, Team
from audit_app.services.killswitch import resume_inference, suspend_inference
from audit_app.services.pipeline import (
    CANCELLED_WORKER_LOST,
    cancel_job,
    claim_job,
    reasoning_request,
    record_run,
    sweep_jobs,
)
from audit_app.services.submission import submit_job
from inference import Engine, GenerationSettings, ReasoningResult
from tests.service.processes import start_celery, stop, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
SHORT = GenerationSettings(temperature=0, thinking_budget=8, answer_budget=8)
MEDIUM = GenerationSettings(temperature=0, thinking_budget=16, answer_budget=400)
QUESTION = "Is a verbal contract binding?"


def status(job: Job) -> str:
    job.refresh_from_db()
    return job.status


def inference_messages() -> int:
    return int(redis.Redis.from_url(os.environ["REDIS_URL"]).llen(INFERENCE_QUEUE))


def test_a_job_cancelled_as_its_worker_died_ends_cancelled(tmp_path: Path, analyst: User, team: Team, beat):
    app.control.purge()
    # Paced, so the job is still running when the worker is killed, however fast this machine is.
    worker = start_celery("inference", tmp_path / "inference.log", env={"GLASSBOX_TEST_STEP_DELAY_SECONDS": "0.1"})
    try:
        job = submit_job(analyst, team, "C-1", "legal", QUESTION, generation=MEDIUM)
        wait_for(lambda: (job.refresh_from_db(), job.answer_tokens > 0)[1], what="the job to be mid-run")
    finally:
        stop(worker, signal.SIGKILL)  # dies before it sees the cancel below
    cancel_job(job)
    wait_for(lambda: status(job) == Job.CANCELLED, timeout=30, what="the sweep to end the job as cancelled")
    assert job.error == CANCELLED_WORKER_LOST
    assert job.finished_at is not None
    assert not RunRecord.objects.filter(job=job).exists()


def test_a_backlog_keeps_one_message_per_job_however_many_sweeps(analyst: User, team: Team):
    app.control.purge()
    jobs = [submit_job(analyst, team, "C-1", "legal", f"{QUESTION} {n}", generation=SHORT) for n in range(5)]
    backlog = Job.objects.filter(pk__in=[job.pk for job in jobs])

    def sweep_an_hour_later() -> None:  # no worker: each sweep finds them all waiting longer than allowed
        backlog.update(enqueued_at=timezone.now() - timedelta(hours=1))
        sweep_jobs()

    for _ in range(4):
        sweep_an_hour_later()
    assert inference_messages() == 5
    app.control.purge()  # the broker lost them (Redis restarted without its data): each is sent once more
    for _ in range(3):
        sweep_an_hour_later()
    assert inference_messages() == 5


def test_resuming_sends_only_the_jobs_whose_message_was_set_aside(analyst: User, operator: User, team: Team):
    app.control.purge()
    for n in range(3):
        submit_job(analyst, team, "C-1", "legal", f"{QUESTION} {n}", generation=SHORT)
    suspend_inference(operator, "Incident 8")
    resume_inference(operator, "Closed")
    assert inference_messages() == 3  # still waiting in Redis: not sent twice
    suspend_inference(operator, "Incident 9")
    app.control.purge()  # as a worker does while suspended: it takes each message and leaves the job queued
    resume_inference(operator, "Closed")
    assert inference_messages() == 3


@pytest.fixture
def result(analyst: User, team: Team) -> ReasoningResult:
    """What the tiny model really answers to QUESTION with SHORT (greedy: the same for every job asking it)."""
    engine = Engine.load(settings.GLASSBOX["MODEL_PATH"], quantization="bf16")
    job = submit_job(analyst, team, "C-1", "legal", QUESTION, generation=SHORT)
    claimed = claim_job(job.pk, uuid.uuid4())
    assert claimed is not None
    return engine.generate(reasoning_request(claimed))


def running_job(analyst: User, team: Team) -> tuple[Job, uuid.UUID]:
    job = submit_job(analyst, team, "C-1", "legal", QUESTION, generation=SHORT)
    token = uuid.uuid4()
    assert claim_job(job.pk, token) is not None
    return job, token


class Racer(threading.Thread):
    """Runs ``action`` on its own database connection and keeps any error for the test to report."""

    def __init__(self, action: Callable[[], object], start: threading.Barrier | None = None) -> None:
        super().__init__(daemon=True)
        self.action, self.barrier, self.error = action, start, None

    def run(self) -> None:
        try:
            if self.barrier is not None:
                self.barrier.wait(timeout=30)
            self.action()
        except Exception as error:
            self.error = error
        finally:
            connection.close()


def lock_waiters() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return int(cursor.fetchone()[0])


def hold_ledger_head(held: threading.Event, release: threading.Event) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM audit_app_ledgerhead WHERE id = 1 FOR UPDATE")
        held.set()
        release.wait(timeout=30)


def test_suspend_queued_on_the_ledger_head_before_a_finishing_job_does_not_deadlock(
    analyst: User, operator: User, team: Team, result: ReasoningResult
):
    """The worst order: suspend waits for the head first, then record_run (holding its job row) waits too."""
    job, token = running_job(analyst, team)
    held, release = threading.Event(), threading.Event()
    holder = Racer(lambda: hold_ledger_head(held, release))
    holder.start()
    held.wait(timeout=30)
    suspender = Racer(lambda: suspend_inference(operator, "Incident 7"))
    suspender.start()
    wait_for(lambda: lock_waiters() >= 1, timeout=10, what="suspend to wait for a lock")
    finisher = Racer(lambda: record_run(job.pk, token, result))
    finisher.start()
    wait_for(lambda: lock_waiters() >= 2, timeout=10, what="record_run to wait for a lock")
    release.set()
    for racer in (holder, suspender, finisher):
        racer.join(timeout=30)
    assert [r.error for r in (holder, suspender, finisher)] == [None, None, None]
    assert status(job) == Job.SUCCEEDED
    assert RunRecord.objects.filter(job=job).count() == 1
    assert KillSwitchEvent.objects.filter(action=KillSwitchEvent.SUSPEND).count() == 1


def test_suspend_racing_record_run_many_times_always_commits_both(
    analyst: User, operator: User, team: Team, result: ReasoningResult
):
    for round_ in range(15):
        job, token = running_job(analyst, team)
        barrier = threading.Barrier(2)
        suspender = Racer(partial(suspend_inference, operator, f"Drill {round_}"), barrier)
        finisher = Racer(partial(record_run, job.pk, token, result), barrier)
        for racer in (suspender, finisher):
            racer.start()
        for racer in (suspender, finisher):
            racer.join(timeout=30)
        assert (suspender.error, finisher.error) == (None, None), f"round {round_}"
        assert status(job) == Job.SUCCEEDED
        resume_inference(operator, "Drill over")
    assert KillSwitchEvent.objects.filter(action=KillSwitchEvent.SUSPEND).count() == 15
