"""One inference worker process, one engine, many jobs at once: the documented worker (thread pool, one
thread per engine slot) runs sixteen jobs side by side, each recorded with its own control and evidence,
and jobs lost with a killed process are requeued and finish exactly once on a new one."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
from celery.concurrency import get_implementation
from django.contrib.auth.models import User
from django.core.management import call_command

from audit_app import worker
from audit_app.celery import app
from audit_app.models import Job, RunRecord, Team, WorkerStatus
from audit_app.services.pipeline import cancel_job
from audit_app.services.submission import submit_job
from inference import GenerationSettings
from tests.service.processes import pool_children, start_celery, stop, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
# Greedy with room to think: the tiny model repeats itself and loop detection forces [/THINK].
LOOPING = GenerationSettings(temperature=0, thinking_budget=2000, answer_budget=8)
# Long enough that it is still running when cancelled (each token is read 0.02 s apart, below).
TO_CANCEL = GenerationSettings(temperature=0, thinking_budget=16, answer_budget=3000)
# The job's own thread reads each token 0.02 s apart, so the jobs overlap however fast this machine is.
PACED = {"GLASSBOX_TEST_STEP_DELAY_SECONDS": "0.02"}


def budgets(i: int) -> GenerationSettings:
    return GenerationSettings(thinking_budget=8 + 4 * i, answer_budget=8 + 3 * i, seed=i)


def finished(jobs: list[Job]) -> bool:
    return Job.objects.filter(pk__in=[job.pk for job in jobs], status__in=Job.FINISHED).count() == len(jobs)


def running_with_tokens(job: Job, tokens: int) -> bool:
    job.refresh_from_db()
    return job.status == Job.RUNNING and job.thinking_tokens + job.answer_tokens > tokens


def overlapped(run: RunRecord, others: list[RunRecord]) -> bool:
    """Whether another job was generating while this one was, by the runs' own recorded times."""

    def span(r: RunRecord) -> tuple[float, float]:
        start = r.timings["started_at_unix"]
        return start, start + r.timings["generation_seconds"]

    start, end = span(run)
    return any(min(end, span(o)[1]) - max(start, span(o)[0]) > 0.05 for o in others if o.pk != run.pk)


def test_sixteen_jobs_with_different_budgets_run_in_one_process_and_are_each_recorded(
    tmp_path: Path, analyst: User, team: Team
):
    app.control.purge()
    log = tmp_path / "inference.log"
    process = start_celery("inference", log, env=PACED)
    started = time.monotonic()
    try:
        plain = [budgets(i) for i in range(14)]
        jobs = [
            submit_job(analyst, team, f"C-{i}", "legal", "Is a verbal contract binding?", generation=generation)
            for i, generation in enumerate([*plain, LOOPING, TO_CANCEL])
        ]
        looping, to_cancel = jobs[14], jobs[15]
        wait_for(lambda: running_with_tokens(to_cancel, 20), timeout=120, what="the job to cancel to be mid-run")
        cancel_job(to_cancel)
        wait_for(lambda: finished(jobs), timeout=180, what="all sixteen jobs to finish")
        children = pool_children(process)
        status = WorkerStatus.objects.get()
    finally:
        stop(process)
    print(f"sixteen jobs through one worker: {time.monotonic() - started:.1f} s")
    assert children == []  # no pool processes: the worker process itself holds the one engine
    assert status.pid == process.pid
    assert log.read_text().count("Model loaded") == 1
    runs = {run.job_id: run for run in RunRecord.objects.all()}
    assert sorted(runs) == sorted(job.pk for job in jobs)  # exactly one run each (job is the run's key)
    for job, generation in zip(jobs[:14], plain, strict=True):
        run = runs[job.pk]
        job.refresh_from_db()
        assert job.status == Job.SUCCEEDED
        assert run.finish_reason in ("eos", "thinking_budget", "answer_budget", "loop_detected")
        assert run.thinking_tokens <= generation.thinking_budget
        assert run.answer_tokens <= generation.answer_budget
        assert run.forced_tokens[0] == {"position": 0, "token": "[THINK]", "reason": "think_start"}
        assert run.provenance["engine"]["slots"] == 16
    loop = runs[looping.pk]
    assert loop.thinking_end == "loop_detected"
    assert loop.thinking_tokens < LOOPING.thinking_budget
    (forced_end,) = [f for f in loop.forced_tokens if f["reason"] == "loop_detected"]
    assert forced_end["token"] == "[/THINK]"
    assert forced_end["position"] == 1 + loop.thinking_tokens  # after [THINK] and the trace
    cancelled = runs[to_cancel.pk]
    to_cancel.refresh_from_db()
    assert to_cancel.status == Job.CANCELLED
    assert cancelled.finish_reason == "cancelled"
    assert 0 < cancelled.answer_tokens < TO_CANCEL.answer_budget
    every = list(runs.values())
    overlapping = [run for run in every if overlapped(run, every)]
    assert len(overlapping) >= 12  # the jobs really ran side by side in the one process
    assert all(run.provenance["engine"]["shared_batches"] for run in overlapping)
    call_command("verify_ledger")  # exits non-zero (CommandError) on any problem


def test_jobs_of_a_killed_engine_process_are_requeued_and_each_finishes_once(
    tmp_path: Path, analyst: User, team: Team, beat: subprocess.Popen[bytes]
):
    app.control.purge()
    first = start_celery("inference", tmp_path / "first.log", env={"GLASSBOX_TEST_STEP_DELAY_SECONDS": "0.05"})
    try:
        generation = GenerationSettings(temperature=0, thinking_budget=16, answer_budget=160)
        jobs = [submit_job(analyst, team, f"C-{i}", "legal", "Q?", generation=generation) for i in range(4)]
        wait_for(lambda: all(running_with_tokens(job, 5) for job in jobs), timeout=120, what="all four mid-run")
    finally:
        stop(first, signal.SIGKILL)  # the whole process, engine and every job thread with it
    assert Job.objects.filter(status=Job.RUNNING).count() == 4, "a job finished before the kill"
    second = start_celery("inference", tmp_path / "second.log")
    try:
        wait_for(lambda: finished(jobs), timeout=180, what="the lost jobs to finish on the new worker")
    finally:
        stop(second)
    for job in jobs:
        job.refresh_from_db()
        assert job.status == Job.SUCCEEDED
        assert job.attempts == 2
        assert RunRecord.objects.filter(job=job).count() == 1
    call_command("verify_ledger")


@pytest.mark.parametrize(
    ("pool", "concurrency", "refusal"),
    [
        ("prefork", 16, "must use the thread pool: start it with -P threads"),
        ("threads", 4, "would run 4 task threads but its engine has 16 slots (GLASSBOX_ENGINE_SLOTS)"),
        ("threads", 16, None),
    ],
)
def test_an_inference_worker_refuses_a_pool_that_is_not_one_thread_per_slot(
    pool: str, concurrency: int, refusal: str | None, settings
):
    assert settings.GLASSBOX["ENGINE_SLOTS"] == 16
    found = worker.shape_refusal(get_implementation(pool), concurrency)
    if refusal is None:
        assert found is None
    else:
        assert found is not None
        assert refusal in found


def test_a_mismatched_worker_exits_at_start_with_the_sentence_and_reports_nothing(tmp_path: Path):
    log = tmp_path / "inference.log"
    process = start_celery("inference", log, "-c", "4")  # after the documented -c 16: the later one wins
    assert process.wait(timeout=120) != 0
    assert "start it with -c 16, or set GLASSBOX_ENGINE_SLOTS=4." in log.read_text()
    assert not WorkerStatus.objects.exists()


@pytest.mark.parametrize(
    ("memory", "expected"), [("", None), ("24GiB", 24 * 2**30), ("512 MiB", 512 * 2**20), ("lots", ValueError)]
)
def test_kv_cache_memory_is_parsed_or_refused_with_a_sentence(settings, memory: str, expected: object):
    settings.GLASSBOX = settings.GLASSBOX | {"KV_CACHE_MEMORY": memory, "ENGINE_SLOTS": 8}
    if expected is ValueError:
        with pytest.raises(ValueError, match="GLASSBOX_KV_CACHE_MEMORY: 'lots' is not a memory size"):
            worker.batch_settings()
        return
    batch = worker.batch_settings()
    assert (batch.slots, batch.kv_memory_bytes) == (8, expected)
