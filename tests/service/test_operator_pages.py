"""The operator's pages: every job's metadata without content, and the inference workers with their model."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit_app.models import Job, LedgerEntry, Submission, WorkerStatus
from audit_app.services.errors import SubmissionError
from audit_app.services.pipeline import claim_job, fail_job
from audit_app.services.prompts import prompt_builder
from audit_app.services.submission import Upload, submit_job
from inference import GenerationSettings
from inference.kv import kv_bytes_per_token
from tests.ledger.evidence import run_job_inline
from tests.service.processes import pool_children, start_celery, stop, wait_for

SHORT = GenerationSettings(thinking_budget=16, answer_budget=16, seed=0)
QUESTION = "SECRET-QUESTION Was the lease extended orally?"
DOCUMENT = "SECRET-DOCUMENT-TEXT clause 12 says writing."


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_operator_sees_every_jobs_metadata_and_none_of_its_content(analyst, outsider, operator, team, other_team):
    done = submit_job(analyst, team, "C-1", "legal", QUESTION, [Upload("secret-name.txt", DOCUMENT.encode())], SHORT)
    run = run_job_inline(done)
    failed = submit_job(outsider, other_team, "T-9", "finance", QUESTION + " again", generation=SHORT)
    token = uuid.uuid4()
    claim_job(failed.pk, token)
    fail_job(failed.pk, token, "The model ran out of memory (test).")
    running = submit_job(analyst, team, "C-2", "clinical", QUESTION + " third", generation=SHORT)
    claim_job(running.pk, uuid.uuid4())
    Job.objects.filter(pk=running.pk).update(partial_thinking="SECRET-PARTIAL-THINKING", partial_answer="SECRET-PA")
    html = client_for(operator).get(reverse("operator-jobs")).content.decode()
    for job, team_name, domain, submitter in [
        (done, "Litigation", "legal", "alice"),
        (failed, "Tax", "finance", "olga"),
        (running, "Litigation", "clinical", "alice"),
    ]:
        row = html.split(f'data-job="{job.pk}"', 1)[1].split("</tr>", 1)[0]
        job.refresh_from_db()
        for fact in (team_name, domain, submitter, job.status, f"<td>{job.attempts}</td>"):
            assert fact in row, (job.pk, fact)
        assert job.created_at.strftime("%Y-%m-%d %H:%M:%S") in row
    assert "The model ran out of memory (test)." in html
    assert "No jobs" not in html
    # No question, document name or text, thinking or answer, finished or partial.
    for content in ("SECRET", "secret-name", "Was the lease", "clause 12", run.thinking.strip()[:40]):
        assert content not in html, content
    if len(run.answer.strip()) >= 12:
        assert run.answer.strip()[:40] not in html
    filtered = client_for(operator).get(reverse("operator-jobs"), {"status": "failed"}).content.decode()
    assert f'data-job="{failed.pk}"' in filtered
    assert f'data-job="{done.pk}"' not in filtered


@pytest.mark.django_db
def test_the_jobs_link_takes_an_operator_to_every_jobs_metadata(operator, analyst):
    # The team-scoped list would say "No jobs yet" to an operator, who belongs to no team, while jobs run.
    response = client_for(operator).get(reverse("job-list"))
    assert response.status_code == 302
    assert response["Location"] == reverse("operator-jobs")
    assert client_for(analyst).get(reverse("job-list")).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["operator-jobs", "operator-workers"])
def test_other_roles_are_refused_with_a_sentence(analyst, name):
    response = client_for(analyst).get(reverse(name))
    assert response.status_code == 403


def backend_pids() -> set[int]:
    """PostgreSQL backends connected to the test database, except this connection's own."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return {pid for (pid,) in cursor.fetchall()}


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_reports_its_model_and_kv_cache_refreshes_and_goes_stale(
    tmp_path: Path, operator, analyst, team, settings, monkeypatch
):
    # The page's stale mark: 3 beats. A context limit above the CPU engine's 131,072-token KV cache, so that a
    # job's budgets can pass it and still never fit the cache.
    settings.GLASSBOX = settings.GLASSBOX | {"WORKER_HEARTBEAT_SECONDS": 0.5, "CONTEXT_LIMIT": 300_000}
    monkeypatch.setattr(prompt_builder(), "context_limit", 300_000)  # the process's builder, opened once
    huge = GenerationSettings(thinking_budget=100_000, answer_budget=100_000, seed=0)
    # No worker has reported and GLASSBOX_KV_CACHE_MEMORY is unset: the web takes it, the worker refuses it.
    too_large = submit_job(analyst, team, "C-1", "legal", "Binding?", generation=huge)
    before = backend_pids()  # this session's other connections (the live server thread's) stay up below
    env = {"GLASSBOX_WORKER_HEARTBEAT_SECONDS": "0.5", "GLASSBOX_CONTEXT_LIMIT": "300000"}
    process = start_celery("inference", tmp_path / "w.log", env=env)
    try:
        # Its own row (an earlier test's worker may still beat once while it shuts down): the one worker process
        # itself holds the model and reports, and it has no pool children.
        row = wait_for(
            lambda: WorkerStatus.objects.filter(pid=process.pid).first(), timeout=90, what="the worker's status row"
        )
        assert isinstance(row, WorkerStatus)
        assert pool_children(process) == []
        assert row.model_id == "glassbox/tiny-magistral-test-model"
        assert row.is_test_model
        assert row.quantization
        assert row.model_revision
        assert row.queues == "inference"
        assert row.load_error == ""
        # The engine's capacity as allocated (the batching engine starts with the model).
        assert (row.slots, row.kv_bytes_per_token) == (16, kv_bytes_per_token(prompt_builder().files.config))
        assert row.kv_cache_tokens >= 100_000
        failed = wait_for(
            lambda: Job.objects.filter(pk=too_large.pk, status=Job.FAILED).first(), timeout=30, what="a quick failure"
        )
        assert isinstance(failed, Job)  # at once with the admission's sentence, naming the cache it reports
        assert "tokens of context (prompt plus thinking and answer budgets)" in failed.error
        assert f"but the engine holds {row.kv_cache_tokens:,} tokens" in failed.error
        stored = (Submission.objects.count(), Job.objects.count(), LedgerEntry.objects.count())
        with pytest.raises(SubmissionError, match=f"the engine holds {row.kv_cache_tokens:,} tokens"):
            submit_job(analyst, team, "C-1", "legal", "Binding?", generation=huge)  # now the web knows
        assert (Submission.objects.count(), Job.objects.count(), LedgerEntry.objects.count()) == stored
        first = row.heartbeat_at
        wait_for(lambda: WorkerStatus.objects.get(pk=row.pk).heartbeat_at > first, timeout=10, what="a heartbeat")
        # The database drops the worker's connection (a restart, a failover): the thread reconnects and goes on.
        # Only the worker's connections, those opened since it started: the session's live server thread keeps
        # one that later browser tests need.
        workers = sorted(backend_pids() - before)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", [workers])
            assert cursor.fetchall(), "no worker connection to drop"
        dropped = timezone.now()
        wait_for(lambda: WorkerStatus.objects.get(pk=row.pk).heartbeat_at > dropped, timeout=10, what="a reconnect")
        html = client_for(operator).get(reverse("operator-workers")).content.decode()
        line = html.split(f'data-worker="{row.hostname}:{row.pid}"', 1)[1].split("</tr>", 1)[0]
        assert "glassbox/tiny-magistral-test-model" in line
        assert "TEST MODEL" in line
        assert f"16 slots, KV cache {row.kv_cache_tokens:,} tokens" in line
        assert row.device.split(" ")[0] in line
        assert "stale" not in line
    finally:
        stop(process)
    wait_for(
        lambda: "data-stale" in client_for(operator).get(reverse("operator-workers")).content.decode(),
        timeout=10,
        what="the stopped worker marked stale",
    )


@pytest.mark.django_db(transaction=True)
def test_a_worker_whose_model_did_not_load_says_why(tmp_path: Path, operator):
    process = start_celery("inference", tmp_path / "w.log", env={"MAGISTRAL_MODEL_PATH": str(tmp_path / "missing")})
    try:
        row = wait_for(lambda: WorkerStatus.objects.first(), timeout=60, what="the worker's status row")
        assert isinstance(row, WorkerStatus)
        assert str(tmp_path / "missing") in row.load_error
        assert row.model_id == ""
        html = client_for(operator).get(reverse("operator-workers")).content.decode()
        assert "model not loaded" in html
        assert str(tmp_path / "missing") in html
    finally:
        stop(process)
