"""GLASSBOX_ENGINE=openai: a documented inference worker generates through an OpenAI-compatible server."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from audit_app import worker
from audit_app.ledger.signer import public_verifier_key
from audit_app.ledger.verify import verify_ledger
from audit_app.models import Job, RunRecord, Team
from audit_app.services import prompts
from audit_app.services.submission import submit_job
from inference import Engine, GenerationSettings, InferenceError, ModelDirectoryError
from inference.tiny_model import TEST_MODEL_ID
from tests.inference.openai_server import TinyModelServer
from tests.service.processes import start_celery, stop, wait_for


def test_a_job_runs_on_the_server_and_is_recorded_and_verifies(
    tmp_path: Path, settings, analyst: User, team: Team, transactional_db
):
    server = TinyModelServer(Engine.load(settings.GLASSBOX["MODEL_PATH"], "bf16"))
    env = {"GLASSBOX_ENGINE": "openai", "GLASSBOX_OPENAI_BASE_URL": server.url, "GLASSBOX_OPENAI_MODEL": TEST_MODEL_ID}
    process = start_celery("inference", tmp_path / "inference.log", env=env)
    try:
        generation = GenerationSettings(thinking_budget=16, answer_budget=16, seed=0)
        job = submit_job(analyst, team, "C-1", "legal", "Is a verbal contract binding?", generation=generation)
        wait_for(lambda: (job.refresh_from_db(), job.status == Job.SUCCEEDED)[1], timeout=90, what="the remote job")
    finally:
        stop(process)
        server.close()
    run = RunRecord.objects.get(job=job)
    assert run.provenance["backend"] == "openai-compatible"
    assert run.provenance["server"]["base_url"] == server.url
    assert run.provenance["engine"]["segments"] == 2
    assert run.is_test_model
    assert len(server.served) == 2  # the thinking segment, then the answer after the forced [/THINK]
    assert verify_ledger(public_verifier_key()).ok


@pytest.mark.parametrize("missing", ["OPENAI_BASE_URL", "OPENAI_MODEL"])
def test_the_openai_engine_without_its_server_or_model_is_refused(settings, monkeypatch, missing: str):
    given = {"ENGINE": "openai", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "OPENAI_MODEL": TEST_MODEL_ID}
    settings.GLASSBOX = settings.GLASSBOX | given | {missing: ""}
    monkeypatch.setattr(worker, "_engine", None)  # this process's engine state is restored afterwards
    monkeypatch.setattr(worker, "_load_error", None)
    with pytest.raises(InferenceError, match="GLASSBOX_ENGINE=openai needs GLASSBOX_OPENAI_BASE_URL"):
        worker.get_engine()


def test_the_web_takes_a_tokenizer_only_directory_with_the_openai_engine_alone(tmp_path: Path, settings):
    tokenizer_only = tmp_path / "tokenizer"
    shutil.copytree(
        settings.GLASSBOX["MODEL_PATH"], tokenizer_only, ignore=shutil.ignore_patterns("model.safetensors*")
    )
    prompts._open.cache_clear()
    try:
        settings.GLASSBOX = settings.GLASSBOX | {"MODEL_PATH": str(tokenizer_only), "ENGINE": "local"}
        with pytest.raises(ModelDirectoryError, match="has no weights"):
            prompts.prompt_builder()
        settings.GLASSBOX = settings.GLASSBOX | {"ENGINE": "openai"}
        assert prompts.prompt_builder().files.weight_files == ()
    finally:
        prompts._open.cache_clear()  # the next test opens the configured directory again
