"""The production deployment exactly as docs/operations.md documents it: inference workers, a control worker
and beat, with a worker killed mid-job and a worker that loads its model slowly."""

from __future__ import annotations

import json
import shlex
import shutil
import signal
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from audit_app import worker
from audit_app.celery import app
from audit_app.models import Checkpoint, Job, RunRecord, Team
from audit_app.services.submission import submit_job
from inference import GenerationSettings, InferenceError
from inference.tiny_model import TEST_MODEL_MARKER
from tests.service.processes import documented_commands, pool_children, start_celery, start_documented, stop, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
# Long enough to be killed mid-run, short enough to run again within seconds on a busy CPU.
MEDIUM = GenerationSettings(temperature=0, thinking_budget=16, answer_budget=160)
SHORT = GenerationSettings(thinking_budget=32, answer_budget=32, seed=0)


def status(job: Job) -> str:
    job.refresh_from_db()
    return job.status


def test_the_documented_parts_are_an_inference_worker_a_control_worker_and_beat():
    commands = documented_commands()
    assert " worker -Q inference " in commands["inference"]
    assert " worker -Q control " in commands["control"]
    assert commands["beat"] == "celery -A audit_app beat"


def test_the_demo_runs_the_documented_parts_with_the_documented_options():
    import demo  # deploy/ is on the path (tests/services_plugin.py)

    for part, command in demo.service_commands().items():
        assert command[:2] == [sys.executable, "-m"]
        words = command[2:]
        if part == "beat":
            words = words[: words.index("--schedule")]  # the demo keeps its schedule file under var/demo
        documented = [word for word in shlex.split(documented_commands()[part]) if "=" not in word]
        assert [word for word in words if word != "--loglevel=INFO"] == documented, part


def test_documented_deployment_recovers_a_killed_workers_job_and_signs_checkpoints(
    tmp_path: Path, analyst: User, team: Team
):
    app.control.purge()
    fast = {"GLASSBOX_CHECKPOINT_INTERVAL_SECONDS": "1"}
    parts = [start_documented(part, tmp_path / f"{part}.log", env=fast) for part in ("control", "beat")]
    # Paced, so the job is still running when the worker is killed, however fast this machine is.
    first = start_documented("inference", tmp_path / "first.log", env={"GLASSBOX_TEST_STEP_DELAY_SECONDS": "0.1"})
    try:
        job = submit_job(analyst, team, "C-1", "legal", "Is a verbal contract binding?", generation=MEDIUM)
        wait_for(lambda: (job.refresh_from_db(), job.answer_tokens > 10)[1], what="the job to be mid-run")
        stop(first, signal.SIGKILL)  # the whole worker: its message stays unacknowledged in Redis
        parts.append(start_documented("inference", tmp_path / "second.log"))
        wait_for(lambda: status(job) == Job.SUCCEEDED, timeout=120, what="the lost job to finish on a new worker")
        size = wait_for(
            lambda: Checkpoint.objects.order_by("-size").values_list("size", flat=True).first(),
            timeout=30,
            what="beat's checkpoint, signed on the control worker",
        )
    finally:
        for process in parts:
            stop(process)
    assert job.attempts == 2
    assert RunRecord.objects.filter(job=job).count() == 1
    assert size > 0


def test_the_control_worker_runs_the_sweep_and_never_loads_the_model(
    tmp_path: Path, analyst: User, team: Team, control_worker
):
    job = submit_job(analyst, team, "C-1", "legal", "Q?", generation=SHORT)
    silent = timezone.now() - timedelta(minutes=5)
    Job.objects.filter(pk=job.pk).update(status=Job.RUNNING, attempts=1, heartbeat_at=silent)
    app.send_task("glassbox.sweep_jobs")  # routed to the control queue
    wait_for(lambda: status(job) == Job.QUEUED, timeout=30, what="the sweep on the control worker")
    log = (tmp_path / "control.log").read_text()
    assert "glassbox.sweep_jobs" in log
    assert "Model" not in log  # neither "Model loaded" nor "Model not loaded"


def test_an_inference_worker_loads_the_model_once_in_its_own_process_before_it_takes_a_job(
    tmp_path: Path, analyst: User, team: Team
):
    # A job already waiting when the worker starts is taken only once the (slow) load is done: a job claimed
    # during a minutes-long load would sit with a silent heartbeat and be presumed lost by the sweep.
    app.control.purge()
    log = tmp_path / "inference.log"
    jobs = [submit_job(analyst, team, f"C-{i}", "legal", "Q?", generation=SHORT) for i in range(2)]
    worker = start_celery("inference", log, env={"GLASSBOX_TEST_LOAD_DELAY_SECONDS": "3"})
    try:
        wait_for(lambda: all(status(job) == Job.SUCCEEDED for job in jobs), timeout=90, what="both jobs")
        children = pool_children(worker)
    finally:
        stop(worker)
    text = log.read_text()
    assert children == []  # the thread pool: no child process ever loads a model
    assert text.count("Model loaded") == 1
    assert text.index("Model loaded") < text.index("Task glassbox.run_job")


@pytest.mark.parametrize("name", ["TEST_LOAD_DELAY_SECONDS", "TEST_STEP_DELAY_SECONDS"])
def test_each_test_only_delay_is_refused_with_a_real_model(tmp_path: Path, settings, monkeypatch, name: str):
    real = tmp_path / "model"
    shutil.copytree(settings.GLASSBOX["MODEL_PATH"], real)
    config = json.loads((real / "config.json").read_text())
    del config[TEST_MODEL_MARKER]
    (real / "config.json").write_text(json.dumps(config))
    settings.GLASSBOX = settings.GLASSBOX | {"MODEL_PATH": str(real), name: 60.0}
    monkeypatch.setattr(worker, "_engine", None)  # this process's engine state is restored afterwards
    monkeypatch.setattr(worker, "_load_error", None)
    started = time.monotonic()
    with pytest.raises(InferenceError, match=f"GLASSBOX_{name} is a test-only setting"):
        worker.get_engine()
    assert time.monotonic() - started < 30  # refused before sleeping or loading weights
