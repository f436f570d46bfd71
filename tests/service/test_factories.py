"""The test factories make evidence the way production does: every row ledgered, every hash real."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from audit_app.ledger.signer import public_verifier_key
from audit_app.ledger.verify import verify_ledger
from audit_app.models import Job, LedgerEntry, RunRecord
from audit_app.services.submission import Upload
from tests.factories import FinishedJobFactory, JobFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_a_queued_job_has_its_submission_and_documents_ledgered(analyst: User):
    job = JobFactory(submitter=analyst, uploads=[Upload("a.txt", b"Clause 1.")])
    assert (job.status, job.submission.submitted_by, job.submission.documents.get().text) == (
        Job.QUEUED,
        analyst,
        "Clause 1.",
    )
    assert list(LedgerEntry.objects.values_list("kind", flat=True)) == ["submission"]
    assert verify_ledger(public_verifier_key()).ok


def test_a_finished_job_has_a_run_the_pipeline_recorded(analyst: User):
    job = FinishedJobFactory(submitter=analyst, answer="**Yes.**")
    run = RunRecord.objects.get(job=job)
    assert (job.status, run.answer, run.is_test_model) == (Job.SUCCEEDED, "**Yes.**", True)
    assert run.submission_record_sha256 == job.submission.record_sha256
    assert list(LedgerEntry.objects.order_by("sequence").values_list("kind", flat=True)) == ["submission", "run"]
    assert verify_ledger(public_verifier_key()).ok
    client = Client()
    client.force_login(analyst)
    page = client.get(reverse("job-detail", args=[job.pk])).content.decode()
    assert "unverified" not in page.lower()
    assert run.thinking_sha256 in page


def test_users_get_their_role_and_team(team):
    auditor, analyst = UserFactory(role="auditor"), UserFactory(role="analyst", team=team)
    assert (list(auditor.groups.values_list("name", flat=True)), list(auditor.teams.all())) == (["auditor"], [])
    assert (list(analyst.groups.values_list("name", flat=True)), list(analyst.teams.all())) == (["analyst"], [team])
