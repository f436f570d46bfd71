"""The jobs API serves what the ledger holds, as the pages do: a submission edited or inserted by an insider
is shown as unverified (null fields and a sentence), never as the question, case or hashes it now claims."""

from __future__ import annotations

import pytest
from django.test import Client

from audit_app.models import Job, Team
from audit_app.services.api_keys import create_key
from tests.ledger.test_verify import tamper

pytestmark = pytest.mark.django_db


@pytest.fixture
def key(team: Team) -> str:
    return create_key("Matter system", team, "read submit", None, "test setup").secret


def submit(client: Client, key: str) -> int:
    body = {"domain": "legal", "question": "Is clause 4 enforceable?", "case_reference": "M-1"}
    response = client.post("/api/v1/jobs/", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")
    return int(response.json()["id"])


def shown(client: Client, key: str, job_id: int) -> dict[str, object]:
    one = client.get(f"/api/v1/jobs/{job_id}/", HTTP_AUTHORIZATION=f"Bearer {key}").json()
    listed = client.get("/api/v1/jobs/", HTTP_AUTHORIZATION=f"Bearer {key}").json()["results"]
    assert [job for job in listed if job["id"] == job_id] == [one]  # the list shows the same
    return dict(one)


def test_an_intact_job_shows_its_ledgered_submission(client: Client, key: str) -> None:
    job = shown(client, key, submit(client, key))
    assert job["question"] == "Is clause 4 enforceable?"
    assert job["evidence_problem"] == ""
    assert job["submission_record_sha256"] == Job.objects.get().submission.record_sha256


def test_an_edited_question_is_not_served(client: Client, key: str) -> None:
    job_id = submit(client, key)
    tamper("UPDATE audit_app_submission SET question = 'Forged?', case_reference = 'M-2'")
    job = shown(client, key, job_id)
    assert job["question"] is None
    assert job["case_reference"] is None
    assert job["submission_record_sha256"] is None
    assert "differs from its ledger entry" in str(job["evidence_problem"])


def test_a_job_re_pointed_at_another_submission_is_not_served(client: Client, key: str) -> None:
    first, second = submit(client, key), submit(client, key)
    other = Job.objects.get(pk=second).submission_id
    # The schema owner drops the one-to-one constraint; then the job row (mutable) points at another submission.
    tamper("SET CONSTRAINTS ALL IMMEDIATE; ALTER TABLE audit_app_job DROP CONSTRAINT audit_app_job_submission_id_key")
    tamper("UPDATE audit_app_job SET submission_id = %s WHERE id = %s", other, first)
    job = shown(client, key, first)
    assert job["question"] is None
    assert f"recorded for job {second}" in str(job["evidence_problem"])
