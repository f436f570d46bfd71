"""E-mail notifications: who learns what, with which link, and that no case content leaves in a mail.

Most tests run the notification task eagerly in this process with Django's locmem backend (``mailoutbox``);
the last two start the real control worker as documented, which sends through the console backend (what the
demo uses) or fails against a mail server that is not there, retrying and then logging the job at ERROR.
"""

from __future__ import annotations

import dataclasses
import logging
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.db import transaction

from audit_app.celery import app
from audit_app.models import Job, SignOff
from audit_app.services.pipeline import claim_job, reasoning_request, record_run
from audit_app.services.review import SignOffRefused, sign_off
from audit_app.services.review_state import review_of
from tests.factories import FinishedJobFactory, JobFactory, engine, signoff_form
from tests.people import assign, make_user
from tests.service.processes import start_celery, stop, wait_for

# submit_job's own run_job message goes to the broker as always (send_task is never eager); only ours runs here.
pytestmark = pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
BASE = "https://glassbox.example.test"
QUESTION = "Is the SECRET-QUESTION-7781 clause enforceable?"
ANSWER = "SECRET-ANSWER-4409: it is."


@pytest.fixture(autouse=True)
def base_url(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(settings.GLASSBOX, "BASE_URL", BASE)


@pytest.fixture
def eager() -> Iterator[None]:
    """The notification task runs in this process when queued (it must be registered here to do so)."""
    import audit_app.tasks  # noqa: F401  # registers glassbox.send_notification in this process

    before = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = before


def with_email(user: User) -> User:
    user.email = f"{user.get_username()}@example.test"
    user.save()
    return user


def finish(analyst: User, capture: Any, domain: str = "legal") -> Job:
    """A job the tiny model ran, its run recorded with the commit callbacks (the notifications) executed."""
    with capture(execute=True):
        return FinishedJobFactory(submitter=analyst, domain=domain, question=QUESTION, answer=ANSWER)


def addressed(mailoutbox: list[Any]) -> dict[str, Any]:
    return {message.to[0]: message for message in mailoutbox}


def assert_no_content(message: Any, job: Job) -> None:
    body = message.body
    assert "SECRET-QUESTION" not in body
    assert "SECRET-ANSWER" not in body
    assert job.run.thinking.strip() == "" or job.run.thinking not in body


@pytest.mark.django_db
def test_a_finished_job_tells_each_reviewer_in_scope_but_not_its_submitter(
    eager, analyst, reviewer, second_reviewer, other_team, mailoutbox, django_capture_on_commit_callbacks, caplog
):
    with_email(reviewer), with_email(second_reviewer)
    # The submitter is a reviewer of their own team too: four eyes, so they are not asked.
    analyst.groups.add(reviewer.groups.get())
    team = analyst.teams.get()
    assign(with_email(analyst), team, "legal")
    assign(with_email(make_user("otto", "reviewer", None)), other_team, "legal")  # another team
    assign(with_email(make_user("cleo", "reviewer", None)), team, "clinical")  # another domain
    ana = assign(with_email(make_user("ana", "reviewer", team)), team, "legal")
    ana.groups.set([Group.objects.get(name="analyst")])  # no longer a reviewer: her stale scope must not count
    gone = assign(with_email(make_user("gus", "reviewer", None)), team, "legal")
    gone.is_active = False  # deactivated, not deleted
    gone.save()
    assign(make_user("nemo", "reviewer", None), team, "legal")  # no address
    with caplog.at_level(logging.INFO, logger="audit_app.services.notifications"):
        job = finish(analyst, django_capture_on_commit_callbacks)
    mails = addressed(mailoutbox)
    assert sorted(mails) == ["rita@example.test", "rolf@example.test"]
    message = mails["rita@example.test"]
    assert message.subject == f"Job {job.pk} awaits your review"
    assert f"{BASE}/jobs/{job.pk}/review/" in message.body
    assert "Case reference: C-1" in message.body
    assert "Domain: legal" in message.body
    assert "Team: Litigation" in message.body
    assert_no_content(message, job)
    assert "User nemo has no e-mail address" in caplog.text


@pytest.mark.django_db
def test_a_cancelled_run_asks_nobody_to_review(
    eager, analyst, reviewer, mailoutbox, django_capture_on_commit_callbacks
):
    with_email(reviewer)
    job = JobFactory(submitter=analyst)
    token = uuid.uuid4()
    claimed = claim_job(job.pk, token)
    assert claimed is not None
    result = dataclasses.replace(engine().generate(reasoning_request(claimed)), finish_reason="cancelled")
    with django_capture_on_commit_callbacks(execute=True):
        assert record_run(job.pk, token, result) is not None
    assert Job.objects.get(pk=job.pk).status == Job.CANCELLED
    assert mailoutbox == []


@pytest.mark.django_db
def test_an_approval_tells_the_submitter_who_approved_when(
    eager, analyst, reviewer, mailoutbox, django_capture_on_commit_callbacks
):
    with_email(analyst), with_email(reviewer)
    job = finish(analyst, django_capture_on_commit_callbacks)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        signature = sign_off(job.pk, reviewer, signoff_form(job))
    assert [message.to for message in mailoutbox] == [["alice@example.test"]]
    message = mailoutbox[0]
    assert message.subject == f"Job {job.pk}: approved"
    assert f"Job {job.pk} was approved (1 of 1 approvals)." in message.body
    assert f"Approved by Rita Reviewer at {signature.signed_at:%Y-%m-%d %H:%M:%S} UTC." in message.body
    assert f"{BASE}/jobs/{job.pk}/\n" in message.body
    assert_no_content(message, job)


@pytest.mark.django_db
@pytest.mark.parametrize(("meaning", "label"), [("rejected", "Rejected"), ("changes_requested", "Changes requested")])
def test_a_rejection_or_request_for_changes_tells_the_submitter_why(
    eager, analyst, reviewer, mailoutbox, django_capture_on_commit_callbacks, meaning, label
):
    with_email(analyst)
    job = finish(analyst, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        sign_off(job.pk, reviewer, signoff_form(job, meaning, reason="Clause 4 was misread."))
    assert [message.to for message in mailoutbox] == [["alice@example.test"]]
    message = mailoutbox[0]
    assert message.subject == f"Job {job.pk}: {label.lower()}"
    assert f"{label} by Rita Reviewer at " in message.body
    assert "Reason: Clause 4 was misread." in message.body
    assert f"{BASE}/jobs/{job.pk}/\n" in message.body
    assert ("run it again" in message.body) == (meaning == "changes_requested")


@pytest.mark.django_db
def test_a_clinical_first_approval_asks_the_other_reviewers_for_one_more(
    eager, analyst, reviewer, second_reviewer, mailoutbox, django_capture_on_commit_callbacks
):
    with_email(analyst), with_email(reviewer), with_email(second_reviewer)
    job = finish(analyst, django_capture_on_commit_callbacks, domain="clinical")
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        sign_off(job.pk, reviewer, signoff_form(job))
    assert [message.to for message in mailoutbox] == [["rolf@example.test"]]  # not Rita, not yet Alice
    message = mailoutbox[0]
    assert message.subject == f"Job {job.pk} needs one more approval"
    assert "(1 of 2 given)" in message.body
    assert "Approved by Rita Reviewer at " in message.body
    assert f"{BASE}/jobs/{job.pk}/review/" in message.body
    assert_no_content(message, job)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        sign_off(job.pk, second_reviewer, signoff_form(job, password="pw-rolf"))
    assert [message.to for message in mailoutbox] == [["alice@example.test"]]
    body = mailoutbox[0].body
    assert f"Job {job.pk} was approved (2 of 2 approvals)." in body
    assert "Approved by Rita Reviewer at " in body
    assert "Approved by rolf at " in body


def sign_off_then_fail(job: Job, reviewer: User) -> None:
    """A sign-off inside a request that fails after it: the request's transaction rolls the signature back."""
    with transaction.atomic():
        sign_off(job.pk, reviewer, signoff_form(job))
        raise RuntimeError("the request failed after signing")


@pytest.mark.django_db
def test_a_refused_or_rolled_back_sign_off_sends_nothing(
    eager, analyst, reviewer, mailoutbox, django_capture_on_commit_callbacks
):
    with_email(analyst)
    job = finish(analyst, django_capture_on_commit_callbacks)
    for refused in (signoff_form(job, password="wrong"), signoff_form(job, "rejected")):  # wrong password; no reason
        with django_capture_on_commit_callbacks(execute=True), pytest.raises(SignOffRefused):
            sign_off(job.pk, reviewer, refused)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        sign_off_then_fail(job, reviewer)
    assert not SignOff.objects.exists()
    assert mailoutbox == []
    with django_capture_on_commit_callbacks(execute=True):  # the same sign-off, committed, is told
        sign_off(job.pk, reviewer, signoff_form(job))
    assert [message.to for message in mailoutbox] == [["alice@example.test"]]


@pytest.fixture
def control_log(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    """The control worker as documented, with the mail settings the test gives as its parameter."""
    log = tmp_path / "control.log"
    process: subprocess.Popen[bytes] = start_celery("control", log, env=request.param)
    wait_for(lambda: "ready." in log.read_text(errors="replace"), 60, "the control worker")
    yield log
    stop(process)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "control_log", [{"DJANGO_EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}], indirect=True
)
def test_the_control_worker_sends_the_mails_as_the_demo_does(control_log: Path, analyst: User, reviewer: User):
    import audit_app.tasks  # noqa: F401  # registered here too: routing must still send it to the control queue

    with_email(analyst), with_email(reviewer)
    job = FinishedJobFactory(submitter=analyst, question=QUESTION, answer=ANSWER)  # commits: mail queued
    wait_for(lambda: f"Subject: Job {job.pk} awaits your review" in control_log.read_text(), 30, "the review mail")
    sign_off(job.pk, reviewer, signoff_form(job))
    wait_for(lambda: f"Subject: Job {job.pk}: approved" in control_log.read_text(), 30, "the outcome mail")
    log = control_log.read_text()
    assert "To: rita@example.test" in log
    assert "To: alice@example.test" in log
    assert f"/jobs/{job.pk}/review/" in log
    assert f"/jobs/{job.pk}/\n" in log
    assert "SECRET-QUESTION" not in log
    assert "SECRET-ANSWER" not in log


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "control_log",
    [
        {
            "DJANGO_EMAIL_HOST": "127.0.0.1",
            "DJANGO_EMAIL_PORT": str(free_port()),  # nothing listens: the mail server is down
            "GLASSBOX_NOTIFICATION_RETRIES": "2",
            "GLASSBOX_NOTIFICATION_RETRY_SECONDS": "0.2",
        }
    ],
    indirect=True,
)
def test_a_mail_server_outage_is_retried_then_logged_and_the_sign_off_stands(
    control_log: Path, analyst: User, reviewer: User
):
    with_email(analyst)
    job = FinishedJobFactory(submitter=analyst)
    sign_off(job.pk, reviewer, signoff_form(job))
    assert review_of(job).state == "approved"  # the outage did not fail the sign-off
    failed = f"The outcome e-mail for job {job.pk} to user {analyst.pk} was not sent after 3 attempts"
    wait_for(lambda: failed in control_log.read_text(), 30, "the final failure")
    log = control_log.read_text()
    assert log.count(f"The outcome e-mail for job {job.pk} failed") == 2  # two retries, then the ERROR
    assert "ERROR" in next(line for line in log.splitlines() if failed in line)


@pytest.mark.django_db
def test_a_deactivated_submitter_gets_no_outcome_mail(
    eager, analyst, reviewer, mailoutbox, django_capture_on_commit_callbacks
):
    with_email(analyst)
    job = finish(analyst, django_capture_on_commit_callbacks)
    analyst.is_active = False
    analyst.save()
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        sign_off(job.pk, reviewer, signoff_form(job))
    assert mailoutbox == []
