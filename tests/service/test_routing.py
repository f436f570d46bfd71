"""Routing by model and quantization: a job goes to its domain's inference queue, a worker on that queue
loads the model and runs it, and a worker whose queue promises other weights refuses to start."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import redis
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from audit_app.celery import app
from audit_app.env import env_routes
from audit_app.models import Job, Team
from audit_app.services.queueing import queue_promise_refusal
from audit_app.services.submission import submit_job
from inference import GenerationSettings
from inference.loading import QUANTIZATION_MODES
from tests.service.processes import start_celery, stop, wait_for

SHORT = GenerationSettings(temperature=0, thinking_budget=8, answer_budget=8)


def messages(queue: str) -> int:
    return int(redis.Redis.from_url(os.environ["REDIS_URL"]).llen(queue))


@pytest.mark.django_db(transaction=True)
def test_a_routed_domain_goes_to_its_queue_and_a_worker_on_it_runs_the_job(
    tmp_path: Path, analyst: User, team: Team, settings
):
    app.control.purge()
    routed = dict(settings.GLASSBOX, INFERENCE_ROUTES={"clinical": "inference.bf16"})
    with override_settings(GLASSBOX=routed):
        clinical = submit_job(analyst, team, "C-1", "clinical", "Is this dose safe?", generation=SHORT)
        legal = submit_job(analyst, team, "C-2", "legal", "Is a verbal contract binding?", generation=SHORT)
    assert (messages("inference.bf16"), messages("inference")) == (1, 1)
    # The test model is loaded in bf16 (tests/services_plugin.py), so this worker keeps its queue's promise.
    worker = start_celery("inference", tmp_path / "bf16.log", "-Q", "inference.bf16")
    try:
        wait_for(lambda: Job.objects.get(pk=clinical.pk).status == Job.SUCCEEDED, timeout=120, what="the routed job")
        assert Job.objects.get(pk=legal.pk).status == Job.QUEUED  # nobody consumes the default queue here
    finally:
        stop(worker)
    app.control.purge()


def test_a_worker_whose_queue_promises_other_weights_refuses_to_start(tmp_path: Path):
    worker = start_celery("inference", tmp_path / "nf4.log", "-Q", "inference.nf4")  # loads bf16
    try:
        assert worker.wait(timeout=120) != 0
    except subprocess.TimeoutExpired:
        stop(worker)
        raise
    assert "promises nf4 weights, but GLASSBOX_QUANTIZATION is 'bf16'" in (tmp_path / "nf4.log").read_text()


def test_queue_promises_and_route_settings_are_checked(monkeypatch: pytest.MonkeyPatch):
    modes = tuple(QUANTIZATION_MODES)
    assert queue_promise_refusal(["inference.nf4", "control"], "nf4", modes) is None
    assert queue_promise_refusal(["inference", "inference.gpu-a"], "int8", modes) is None
    assert "promises bf16" in str(queue_promise_refusal(["inference.bf16"], "nf4", modes))
    monkeypatch.setenv("GLASSBOX_INFERENCE_ROUTES", "clinical=inference.bf16, legal=inference.nf4")
    assert env_routes("GLASSBOX_INFERENCE_ROUTES", ["legal", "clinical"]) == {
        "clinical": "inference.bf16",
        "legal": "inference.nf4",
    }
    for bad in ("medical=inference.bf16", "clinical=", "clinical=inference bf16"):
        monkeypatch.setenv("GLASSBOX_INFERENCE_ROUTES", bad)
        with pytest.raises(ImproperlyConfigured, match="domain=queue"):
            env_routes("GLASSBOX_INFERENCE_ROUTES", ["legal", "clinical"])
