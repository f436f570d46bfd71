"""Webhooks: which jobs send which events, signed in the Standard Webhooks scheme (checked here by an
independent implementation), never a redirect followed, every attempt stored and shown to operators.

Most tests run the delivery task eagerly in this process against a local receiver (a thread on port 0,
allow-listed); the last ones start the real control worker (retries with backoff, the final ERROR) and the
real inference worker with the tiny model (a job submitted through the API, end to end).
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test import Client

from audit_app.celery import app
from audit_app.models import ApiKey, Job, Team, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from audit_app.services.api_keys import create_key, revoke_key
from audit_app.services.pipeline import cancel_job, claim_job, fail_job, reasoning_request, record_run, sweep_jobs
from audit_app.services.review import sign_off
from audit_app.services.webhook_guard import UrlRefused
from audit_app.services.webhooks import set_webhook
from tests.factories import FinishedJobFactory, JobFactory, engine, signoff_form
from tests.service.processes import start_celery, stop, wait_for
from tests.service.webhook_receiver import receiver, standard_webhooks_valid

pytestmark = pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
QUESTION = "Is the SECRET-QUESTION-5512 clause enforceable?"
ANSWER = "SECRET-ANSWER-9931: it is."


@pytest.fixture
def eager(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The webhook task runs in this process when queued; loopback receivers allowed; no retries."""
    import audit_app.tasks  # noqa: F401  # registers glassbox.send_webhook in this process

    monkeypatch.setitem(settings.GLASSBOX, "WEBHOOK_ALLOW", ["127.0.0.1"])
    monkeypatch.setitem(settings.GLASSBOX, "WEBHOOK_RETRIES", 0)
    before = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = before


@pytest.fixture
def key(team: Team) -> ApiKey:
    return create_key("Matter system", team, "read submit", None, "test setup").key


def analysts_group() -> None:
    """Transactional tests flush the groups the migration made; a key's service account joins this one."""
    Group.objects.get_or_create(name="analyst")


def events(hook: Any) -> list[tuple[str, int]]:
    return [(json.loads(r.body)["type"], json.loads(r.body)["data"]["job_id"]) for r in hook.requests]


@pytest.mark.django_db
def test_a_finished_job_is_posted_signed_in_the_standard_webhooks_scheme(
    eager: None, key: ApiKey, django_capture_on_commit_callbacks: Any
) -> None:
    with receiver(200) as hook:
        secret = set_webhook(key, hook.url, "test setup").secret
        with django_capture_on_commit_callbacks(execute=True):
            job = FinishedJobFactory(submitter=key.user, question=QUESTION, answer=ANSWER)
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret[6:])) == 32
    [request] = hook.requests
    assert request.path == "/hooks/glassbox"
    assert standard_webhooks_valid(secret, request.headers, request.body)
    assert not standard_webhooks_valid(secret, request.headers, request.body.replace(b"succeeded", b"cancelled"))
    assert not standard_webhooks_valid("whsec_" + base64.b64encode(b"x" * 32).decode(), request.headers, request.body)
    assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 60
    event = json.loads(request.body)
    assert event["type"] == "job.succeeded"
    assert event["data"] | {"created_at": None, "finished_at": None} == {
        "job_id": job.pk,
        "status": "succeeded",
        "case_reference": "C-1",
        "domain": "legal",
        "submission_record_sha256": job.submission.record_sha256,
        "run_record_sha256": job.run.record_sha256,
        "created_at": None,
        "finished_at": None,
        "url": f"http://localhost:8000/api/v1/jobs/{job.pk}/",
    }
    for content in (b"SECRET-QUESTION", b"SECRET-ANSWER", job.run.thinking.strip().encode() or b"\0"):
        assert content not in request.body
    delivery = WebhookDelivery.objects.get(job=job)
    assert (delivery.status, delivery.event, request.headers["webhook-id"]) == (
        "delivered",
        "job.succeeded",
        delivery.message_id,
    )
    assert [(a.number, a.status_code, a.error) for a in delivery.attempts.all()] == [(1, 200, "")]
    stored = WebhookEndpoint.objects.get(key=key).secret_encrypted
    assert secret not in stored
    assert secret[6:] not in stored


def documented_verify() -> Callable[[str, dict[str, str], bytes], bool]:
    """The ``verify`` function of docs/api.md's "Webhooks" section, exactly as printed there."""
    section = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text().split("## Webhooks", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.S)
    assert block is not None, "docs/api.md's Webhooks section has no python block"
    namespace: dict[str, Any] = {}
    exec(block.group(1), namespace)
    return namespace["verify"]  # type: ignore[no-any-return]


@pytest.mark.django_db
def test_the_documented_verification_accepts_a_delivery_and_refuses_a_forgery(
    eager: None, key: ApiKey, django_capture_on_commit_callbacks: Any
) -> None:
    verify = documented_verify()
    with receiver(200) as hook:
        secret = set_webhook(key, hook.url, "test setup").secret
        with django_capture_on_commit_callbacks(execute=True):
            FinishedJobFactory(submitter=key.user)
    [request] = hook.requests
    assert verify(secret, request.headers, request.body)
    assert not verify(secret, request.headers, request.body + b" ")
    assert not verify(secret, request.headers | {"webhook-timestamp": str(int(time.time()) - 3600)}, request.body)


@pytest.mark.django_db
def test_each_ending_and_each_sign_off_of_a_keys_job_sends_its_event_and_nothing_else_does(
    eager: None, key: ApiKey, team: Team, analyst: User, reviewer: User, django_capture_on_commit_callbacks: Any
) -> None:
    silent = create_key("No hook", team, "read submit", None, "test setup").key
    with receiver(200) as hook, django_capture_on_commit_callbacks(execute=True):
        set_webhook(key, hook.url, "test setup")
        FinishedJobFactory(submitter=analyst)  # a person's job: no key, no event
        FinishedJobFactory(submitter=silent.user)  # a key without a webhook
        done = FinishedJobFactory(submitter=key.user)
        failed = JobFactory(submitter=key.user)
        fail_job(failed.pk, None, "The model could not be loaded.")
        cancelled = JobFactory(submitter=key.user)
        cancel_job(cancelled)  # queued: cancelled at once
        running = JobFactory(submitter=key.user)
        token = uuid.uuid4()
        claimed = claim_job(running.pk, token)
        assert claimed is not None
        cancel_job(running)  # running: nothing yet, the worker stops and stores the partial run
        assert not WebhookDelivery.objects.filter(job=running).exists()
        record_run(running.pk, token, engine().generate(reasoning_request(claimed), should_cancel=lambda: True))
        lost = JobFactory(submitter=key.user)
        Job.objects.filter(pk=lost.pk).update(status=Job.RUNNING, attempts=99, heartbeat_at="2000-01-01T00:00Z")
        sweep_jobs()
        sign_off(done.pk, reviewer, signoff_form(done))
    assert events(hook) == [
        ("job.succeeded", done.pk),
        ("job.failed", failed.pk),
        ("job.cancelled", cancelled.pk),
        ("job.cancelled", running.pk),
        ("job.failed", lost.pk),
        ("job.signed", done.pk),
    ]
    signed = json.loads(hook.requests[-1].body)["data"]
    assert signed["review_state"] == "approved"
    assert signed["signoff"]["meaning"] == "approved"
    assert signed["signoff"]["record_sha256"] == done.signoffs.get().record_sha256
    assert WebhookDelivery.objects.count() == 6


def fail_then_roll_back(job_id: int) -> None:
    """The job fails inside a transaction that fails after it: the ending and its event roll back."""
    with transaction.atomic():
        fail_job(job_id, None, "The model could not be loaded.")
        raise RuntimeError("the causing transaction rolls back")


@pytest.mark.django_db
def test_a_rolled_back_ending_sends_nothing_and_a_revoked_key_gets_no_events(
    eager: None, key: ApiKey, django_capture_on_commit_callbacks: Any
) -> None:
    with receiver(200) as hook:
        set_webhook(key, hook.url, "test setup")
        job = JobFactory(submitter=key.user)
        with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
            fail_then_roll_back(job.pk)
        revoke_key(key, None, "test setup")
        with django_capture_on_commit_callbacks(execute=True):
            fail_job(job.pk, None, "The model could not be loaded.")
    assert hook.requests == []
    assert not WebhookDelivery.objects.exists()


@pytest.mark.django_db
def test_a_redirect_is_not_followed_and_counts_as_a_failed_attempt(
    eager: None, key: ApiKey, operator: User, analyst: User, django_capture_on_commit_callbacks: Any
) -> None:
    with receiver(200) as elsewhere, receiver(302, location=elsewhere.url) as hook:
        set_webhook(key, hook.url, "test setup")
        with django_capture_on_commit_callbacks(execute=True):
            job = FinishedJobFactory(submitter=key.user)
    assert len(hook.requests) == 1
    assert elsewhere.requests == []  # the redirect's target never heard from us
    delivery = WebhookDelivery.objects.get(job=job)
    assert delivery.status == "failed"
    assert [(a.status_code, a.url) for a in delivery.attempts.all()] == [(302, hook.url)]
    # The operators' page shows the delivery and its attempt; nobody else may see it.
    page = Client()
    page.force_login(operator)
    html = page.get("/operator/webhooks/").content.decode()
    assert f'data-delivery="{delivery.pk}"' in html
    assert "HTTP 302" in html
    assert delivery.message_id in html
    assert 'href="/operator/webhooks/"' in html  # the operator's navigation links to it
    page.force_login(analyst)
    assert page.get("/operator/webhooks/").status_code == 403


@pytest.mark.django_db
def test_the_guard_runs_again_at_send_time(
    eager: None, key: ApiKey, settings: Any, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    # Allowed when set, no longer allowed when sent (as a name rebound to an inner address would be): not sent.
    with receiver(200) as hook:
        set_webhook(key, hook.url, "test setup")
        monkeypatch.setitem(settings.GLASSBOX, "WEBHOOK_ALLOW", [])
        with django_capture_on_commit_callbacks(execute=True):
            job = FinishedJobFactory(submitter=key.user)
    assert hook.requests == []
    [attempt] = WebhookAttempt.objects.filter(delivery__job=job)
    assert attempt.status_code is None
    assert "127.0.0.1 is a loopback address" in attempt.error
    assert WebhookDelivery.objects.get(job=job).status == "failed"


BAD_URLS = [
    ("ftp://203.0.113.7/hook", "must start with https:// or http://"),
    ("http://10.0.0.7/hook", "10.0.0.7 is a private address"),
    ("http://localhost:9/hook", "localhost resolves to"),
    ("https://203.0.113.7/hook\r\nX-Injected: 1", "control characters"),
    ("https://admin:pw@203.0.113.7/hook", "user name or password"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "sentence"), BAD_URLS)
def test_bad_webhook_urls_are_refused_by_the_command_and_the_service_and_nothing_is_stored(
    key: ApiKey, url: str, sentence: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(CommandError, match=sentence):
        call_command("api_key", "webhook", key.prefix, "--url", url)
    with pytest.raises(UrlRefused, match=sentence):
        set_webhook(key, url, "test")
    assert not WebhookEndpoint.objects.exists()
    assert "whsec_" not in capsys.readouterr().out


@pytest.mark.django_db
def test_the_command_sets_replaces_and_removes_a_webhook_printing_each_secret_once(
    key: ApiKey, settings: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(settings.GLASSBOX, "WEBHOOK_ALLOW", ["127.0.0.1"])
    call_command("api_key", "webhook", key.prefix, "--url", "http://127.0.0.1:9/first")
    first = capsys.readouterr().out.splitlines()[-1]
    call_command("api_key", "webhook", key.prefix, "--url", "http://127.0.0.1:9/second")
    second = capsys.readouterr().out.splitlines()[-1]
    assert first.startswith("whsec_")
    assert second.startswith("whsec_")
    assert first != second
    assert WebhookEndpoint.objects.get(key=key).url == "http://127.0.0.1:9/second"
    call_command("api_key", "webhook", key.prefix, "--remove")
    assert "Removed the webhook" in capsys.readouterr().out
    assert not WebhookEndpoint.objects.exists()
    with pytest.raises(CommandError, match="No key has the prefix"):
        call_command("api_key", "webhook", "gbx_00000000", "--url", "http://127.0.0.1:9/")
    revoke_key(key, None, "test")
    with pytest.raises(CommandError, match="revoked or expired"):
        call_command("api_key", "webhook", key.prefix, "--url", "http://127.0.0.1:9/")
    assert not WebhookEndpoint.objects.exists()


# --- the real control worker, and the real inference worker ------------------------------------------------


@pytest.fixture
def control(tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Path]]:
    """Starts the control worker as documented, with the webhook settings a test gives; stops it after.
    Loopback receivers are allowed there and here (where the URL is set)."""
    monkeypatch.setitem(settings.GLASSBOX, "WEBHOOK_ALLOW", ["127.0.0.1"])
    started: list[subprocess.Popen[bytes]] = []

    def start(**env: str) -> Path:
        app.control.purge()  # messages left by earlier tests name deliveries that no longer exist
        log = tmp_path / "control.log"
        started.append(start_celery("control", log, env={"GLASSBOX_WEBHOOK_ALLOW": "127.0.0.1"} | env))
        wait_for(lambda: "ready." in log.read_text(errors="replace"), 60, "the control worker")
        return log

    yield start
    for process in started:
        stop(process)


@pytest.mark.django_db(transaction=True)
def test_failed_attempts_are_retried_with_growing_waits_then_given_up_with_an_error(
    control: Callable[..., Path], team: Team
) -> None:
    log = control(GLASSBOX_WEBHOOK_RETRIES="2", GLASSBOX_WEBHOOK_RETRY_SECONDS="0.5")
    analysts_group()
    flaky_key = create_key("Flaky system", team, "read submit", None, "test setup").key
    down_key = create_key("Down system", team, "read submit", None, "test setup").key
    with receiver(500, 502, 204) as flaky, receiver(503) as down:
        flaky_secret = set_webhook(flaky_key, flaky.url, "test setup").secret
        set_webhook(down_key, down.url, "test setup")
        flaky_job = FinishedJobFactory(submitter=flaky_key.user)  # commits: the event is queued
        down_job = FinishedJobFactory(submitter=down_key.user)
        delivered = WebhookDelivery.objects.filter(job=flaky_job, status="delivered")
        wait_for(delivered.exists, 30, "the third attempt to be delivered")
        given_up = f"Webhook job.succeeded for job {down_job.pk} to key {down_key.prefix} failed after 3 attempts"
        wait_for(lambda: given_up in log.read_text(), 30, "the last attempt to fail")
    assert [a.status_code for a in WebhookAttempt.objects.filter(delivery__job=flaky_job)] == [500, 502, 204]
    assert len({r.headers["webhook-id"] for r in flaky.requests}) == 1  # one message, three attempts
    assert all(standard_webhooks_valid(flaky_secret, r.headers, r.body) for r in flaky.requests)
    first_wait, second_wait = (b.at - a.at for a, b in zip(flaky.requests, flaky.requests[1:], strict=False))
    assert first_wait >= 0.45, first_wait  # 0.5 s
    assert second_wait >= 0.95, second_wait  # then doubled
    assert len(down.requests) == 3
    assert WebhookDelivery.objects.get(job=down_job).status == "failed"
    assert "ERROR" in next(line for line in log.read_text().splitlines() if given_up in line)


@pytest.mark.django_db(transaction=True)
def test_a_job_submitted_through_the_api_and_run_by_the_worker_posts_job_succeeded(
    worker: subprocess.Popen[bytes], control: Callable[..., Path], team: Team
) -> None:
    control()
    analysts_group()
    new = create_key("Matter system", team, "read submit", None, "test setup")
    with receiver(200) as hook:
        secret = set_webhook(new.key, hook.url, "test setup").secret
        body = {"domain": "legal", "question": "Is clause 4 enforceable?", "case_reference": "M-7"}
        body |= {"settings": {"thinking_budget": 16, "answer_budget": 8}}
        response = Client().post(
            "/api/v1/jobs/", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {new.secret}"
        )
        assert response.status_code == 201, response.content
        job_id = response.json()["id"]
        wait_for(lambda: hook.requests, 120, "the job.succeeded webhook")
    [request] = hook.requests
    assert standard_webhooks_valid(secret, request.headers, request.body)
    event = json.loads(request.body)
    assert (event["type"], event["data"]["job_id"], event["data"]["case_reference"]) == ("job.succeeded", job_id, "M-7")
    assert event["data"]["run_record_sha256"] == Job.objects.get(pk=job_id).run.record_sha256
