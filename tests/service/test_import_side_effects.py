"""Importing the tasks loads nothing and freezes nothing: time limits are read when a task is sent or run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from celery.signals import before_task_publish

from audit_app.models import Team
from audit_app.services.queueing import enqueue_job
from audit_app.services.submission import submit_job
from audit_app.tasks import run_job, verify_ledger

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import sys
import django
django.setup()
import audit_app.tasks
from audit_app import worker
print(sorted(name for name in ("torch", "transformers", "bitsandbytes") if name in sys.modules))
print(worker._engine is None, worker._load_error is None)
"""


def test_importing_the_tasks_in_a_fresh_process_loads_nothing():
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="audit_app.settings",
        DJANGO_SECRET_KEY="probe",
        DATABASE_URL="postgresql://probe@127.0.0.1:1/probe",  # never connected to: importing must not query
        MAGISTRAL_MODEL_PATH="/nonexistent/model",
    )
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    libraries, hooks = done.stdout.splitlines()
    assert libraries == "[]"  # no torch, transformers or bitsandbytes: a web process stays light
    assert hooks == "True True"  # no engine and no load attempted: only a starting worker's step loads it


def test_time_limits_follow_the_settings_after_import(settings):
    settings.GLASSBOX = settings.GLASSBOX | {"SOFT_TIME_LIMIT": 7, "HARD_TIME_LIMIT": 9}
    for task in (run_job, verify_ledger):
        assert (task.soft_time_limit, task.time_limit) == (7, 9)
    settings.GLASSBOX = settings.GLASSBOX | {"SOFT_TIME_LIMIT": 70, "HARD_TIME_LIMIT": 90}
    assert (run_job.soft_time_limit, run_job.time_limit) == (70, 90)


@pytest.mark.django_db
def test_a_sent_job_carries_the_limits_configured_when_it_is_sent(settings, analyst, team: Team):
    job = submit_job(analyst, team, "C-1", "legal", "Q?")  # sent on commit: never in this test's transaction
    sent: list[Any] = []

    def capture(headers: dict[str, Any] | None = None, **_: Any) -> None:
        sent.append((headers or {}).get("timelimit"))

    before_task_publish.connect(capture, weak=False)
    try:
        settings.GLASSBOX = settings.GLASSBOX | {"SOFT_TIME_LIMIT": 11, "HARD_TIME_LIMIT": 13}
        assert enqueue_job(job.pk)
        settings.GLASSBOX = settings.GLASSBOX | {"SOFT_TIME_LIMIT": 21, "HARD_TIME_LIMIT": 23}
        assert enqueue_job(job.pk)
    finally:
        before_task_publish.disconnect(capture)
        run_job.app.control.purge()
    assert [list(limits) for limits in sent] == [[13, 11], [23, 21]]
