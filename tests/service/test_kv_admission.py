"""Admission by memory, the service's side: the engine's capacity on the Workers page, a job that could never
fit refused at submission on every path (nothing stored), and the analyst's place in the queue."""

from __future__ import annotations

import re
import threading
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit_app.models import Job, LedgerEntry, Submission, Team, WorkerStatus
from audit_app.services.api_keys import create_key
from audit_app.services.pipeline import ProgressWriter, cancel_job, claim_job
from audit_app.services.prompts import prompt_builder
from audit_app.services.submission import submit_job
from inference import Engine, GenerationSettings, Progress
from inference.kv import kv_bytes_per_token
from inference.tiny_model import TEST_MODEL_MARKER
from tests.service.processes import wait_for

LARGE = GenerationSettings(thinking_budget=600, answer_budget=600, seed=0)  # 1,208 tokens and the prompt
SMALL = GenerationSettings(thinking_budget=16, answer_budget=16, seed=0)


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def report_worker(kv_cache_tokens: int, beat_age: timedelta = timedelta(0), pid: int = 1) -> WorkerStatus:
    """A worker row as the heartbeat writes it: 16 slots, a cache of ``kv_cache_tokens`` at 256 bytes each."""
    now = timezone.now()
    return WorkerStatus.objects.create(
        hostname="gpu-1",
        pid=pid,
        queues="inference",
        model_id="glassbox/tiny-magistral-test-model",
        is_test_model=True,
        slots=16,
        kv_cache_tokens=kv_cache_tokens,
        kv_bytes_per_token=256,
        started_at=now - beat_age,
        heartbeat_at=now - beat_age,
    )


def stored() -> tuple[int, int, int]:
    return Submission.objects.count(), Job.objects.count(), LedgerEntry.objects.count()


@pytest.mark.django_db
def test_a_job_no_live_worker_could_hold_is_refused_on_every_path_and_nothing_is_stored(analyst: User, team: Team):
    report_worker(1_000)
    secret = create_key("Matter system", team, "read submit", None, "test setup").secret
    before = stored()
    sentence = "tokens of context (prompt plus thinking and answer budgets)"
    form = {"domain": "legal", "case_reference": "LIT-1", "question": "Is clause 12 met?", "temperature": 0.7}
    form |= {"top_p": 0.95, "seed": 0, "thinking_budget": 600, "answer_budget": 600}
    page = client_for(analyst).post("/jobs/new/", form)
    assert page.status_code == 200
    assert sentence in page.content.decode()
    assert "but the engine holds 1,000 tokens" in page.content.decode()

    bearer = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    body = {"domain": "legal", "question": "Is clause 12 met?", "settings": {"thinking_budget": 600}}
    api = Client().post("/api/v1/jobs/", body, content_type="application/json", **bearer)
    assert api.status_code == 400
    assert api["Content-Type"] == "application/problem+json"
    [message] = api.json()["errors"]["answer_budget"]
    assert sentence in message

    chat = {"model": "magistral-small-legal", "messages": [{"role": "user", "content": "Binding?"}], "max_tokens": 600}
    facade = Client().post(
        "/v1/chat/completions", chat, content_type="application/json", HTTP_X_GLASSBOX_THINKING_BUDGET="600", **bearer
    )
    assert facade.status_code == 400
    error = facade.json()["error"]
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", "max_tokens", "invalid_value")
    assert sentence in error["message"]
    assert stored() == before

    # The same question with budgets that fit is taken: the check measures, it does not refuse everything.
    assert submit_job(analyst, team, "LIT-1", "legal", "Is clause 12 met?", generation=SMALL).status == Job.QUEUED


@pytest.mark.django_db
def test_the_largest_live_worker_decides_and_without_one_the_configured_size(analyst: User, team: Team, settings):
    report_worker(1_000, pid=1)
    report_worker(1_000_000, beat_age=timedelta(hours=1), pid=2)  # stale: it no longer counts
    report_worker(4_000, pid=3)
    assert submit_job(analyst, team, "C-1", "legal", "Binding?", generation=LARGE).status == Job.QUEUED
    WorkerStatus.objects.filter(pid__in=(1, 3)).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    # No live worker: GLASSBOX_KV_CACHE_MEMORY with the model's own bytes per token.
    config = prompt_builder().files.config
    assert config.get(TEST_MODEL_MARKER)
    settings.GLASSBOX = settings.GLASSBOX | {"KV_CACHE_MEMORY": f"{1_000 * kv_bytes_per_token(config)}"}
    before = stored()
    with pytest.raises(Exception, match="but the engine holds 1,000 tokens") as refused:
        submit_job(analyst, team, "C-1", "legal", "Binding?", generation=LARGE)
    assert getattr(refused.value, "field", None) == "answer_budget"
    assert stored() == before
    settings.GLASSBOX = settings.GLASSBOX | {"KV_CACHE_MEMORY": ""}  # nothing known: accepted (the worker decides)
    assert submit_job(analyst, team, "C-1", "legal", "Binding?", generation=LARGE).status == Job.QUEUED


@pytest.mark.django_db
def test_the_workers_page_shows_each_engines_slots_and_kv_cache(operator: User):
    report_worker(131_072)
    page = client_for(operator).get(reverse("operator-workers")).content.decode()
    assert "16 slots, KV cache 131,072 tokens (32 MiB)" in page


@pytest.mark.django_db
def test_the_analyst_sees_how_many_queued_jobs_are_ahead_then_the_place_in_the_memory_queue(analyst: User, team: Team):
    first, second, third = (submit_job(analyst, team, "C-1", "legal", f"Question {n}?") for n in range(3))
    client = client_for(analyst)
    secret = create_key("Matter system", team, "read", None, "test setup").secret
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}

    def shown(job: Job) -> tuple[str, object]:
        fragment = client.get(f"/jobs/{job.pk}/live/").content.decode()
        line = re.search(r'class="queue-position"[^>]*>([^<]*)</p>', fragment)
        return line[1] if line else "", Client().get(f"/api/v1/jobs/{job.pk}/", **bearer).json()["queue_position"]

    assert shown(third) == ("Queued: 2 jobs ahead", 3)
    assert shown(first) == ("Queued: next in line", 1)
    assert "Queued: 2 jobs ahead" in client.get(f"/jobs/{third.pk}/").content.decode()
    cancel_job(first)
    assert shown(third) == ("Queued: 1 job ahead", 2)
    listed = Client().get("/api/v1/jobs/", **bearer).json()["results"]
    assert {row["id"]: row["queue_position"] for row in listed} == {first.pk: None, second.pk: 1, third.pk: 2}

    token = uuid.uuid4()
    assert claim_job(second.pk, token) is not None  # a worker took it; its engine has no room yet
    writer = ProgressWriter(second.pk, token)
    writer.waiting(2)
    assert shown(second) == ("Waiting for GPU memory: position 2", 2)
    assert shown(third) == ("Queued: next in line", 1)
    writer(Progress("thinking", "Reading", "", 1, 0, generated_tokens=1, elapsed_seconds=0.1))
    assert shown(second) == ("", None)  # generating: no longer waiting


@pytest.mark.django_db
def test_a_job_waiting_for_memory_keeps_its_heartbeat_and_can_be_cancelled(analyst: User, team: Team, settings):
    settings.GLASSBOX = settings.GLASSBOX | {"STALE_AFTER_SECONDS": 0.2}  # a beat every 0.05 s while waiting
    job = submit_job(analyst, team, "C-1", "legal", "Binding?")
    token = uuid.uuid4()
    assert claim_job(job.pk, token) is not None
    writer = ProgressWriter(job.pk, token)
    writer.waiting(3)
    claimed_beat = Job.objects.get(pk=job.pk).heartbeat_at
    wait_for(
        lambda: not writer.should_cancel() and Job.objects.get(pk=job.pk).heartbeat_at > claimed_beat,
        timeout=5,
        what="the waiting job's heartbeat",
    )
    Job.objects.filter(pk=job.pk).update(cancel_requested=True)
    assert wait_for(writer.should_cancel, timeout=5, what="the cancel read while waiting")
    row = Job.objects.get(pk=job.pk)
    assert (row.status, row.queue_position) == (Job.RUNNING, 3)


@pytest.mark.django_db(transaction=True)
def test_a_job_that_does_not_fit_beside_another_waits_shows_its_place_then_runs(
    analyst: User, team: Team, settings, monkeypatch: pytest.MonkeyPatch
):
    """run_job itself, twice at once, in this process, on a real engine whose KV cache holds one job only."""
    from audit_app import tasks, worker
    from inference.batching import BatchSettings

    builder = prompt_builder()
    per_token = kv_bytes_per_token(builder.files.config)
    one_job = BatchSettings(slots=4, kv_memory_bytes=3 * 256 * per_token)  # 768 tokens: a ~650-token job, not two
    engine = Engine.from_prompts(builder, "bf16", batch=one_job)
    monkeypatch.setattr(worker, "_engine", engine)
    settings.GLASSBOX = settings.GLASSBOX | {"TEST_STEP_DELAY_SECONDS": 0.05, "PROGRESS_INTERVAL": 0.1}
    first, second = (submit_job(analyst, team, "C-1", "legal", f"Question {n}?", generation=SMALL) for n in range(2))
    outcomes: dict[int, str] = {}

    def run(job: Job) -> None:
        try:
            outcomes[job.pk] = tasks.run_job(job.pk)
        finally:
            connection.close()

    runs = [threading.Thread(target=run, args=(first,))]
    runs[0].start()
    try:
        wait_for(lambda: Job.objects.get(pk=first.pk).thinking_tokens > 0, timeout=60, what="the first job to run")
        runs.append(threading.Thread(target=run, args=(second,)))
        runs[1].start()
        waiting = wait_for(lambda: Job.objects.filter(pk=second.pk, queue_position=1).first(), timeout=10, what="wait")
        assert isinstance(waiting, Job)
        assert waiting.status == Job.RUNNING  # claimed, holding no memory yet
    finally:
        for thread in runs:
            thread.join(timeout=120)
        engine.batch_engine().stop()
    assert outcomes == {first.pk: "recorded", second.pk: "recorded"}
    second.refresh_from_db()
    assert (second.status, second.queue_position) == (Job.SUCCEEDED, None)
    recorded = second.run.provenance["engine"]
    assert recorded["queued_for_memory_seconds"] > 0
    assert recorded["shared_batches"] is False  # it ran after the first, alone
