"""Pages show evidence only from rows that check out against their ledger entries and bindings."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from audit_app.ledger.canonical import canonical_json, sha256_hex
from audit_app.models import Job, RunRecord, Submission, Team
from audit_app.services.submission import submit_job
from tests.forging import insert_unledgered
from tests.service.test_bindings import as_app_role, as_superuser, finished_job

pytestmark = pytest.mark.django_db


def page_of(user: User, name: str, *args: object) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(reverse(name, args=args))
    assert response.status_code == 200
    return response.content.decode()


def test_inserted_run_record_is_not_the_jobs_answer(analyst: User, team: Team):
    job = submit_job(analyst, team, "C-1", "legal", "Q?")
    forged = insert_unledgered(  # the app role's INSERT grant: a row with no ledger entry
        RunRecord(
            job=job,
            submission_record_sha256=job.submission.record_sha256,
            prompt_text="p",
            prompt_token_ids=[1],
            prompt_token_count=1,
            template_id="legal/v1",
            system_prompt_source="built-in",
            system_prompt_sha256="0" * 64,
            settings={},
            thinking="Careful reasoning.",
            answer="FORGED: liable.",
            thinking_blocks=[],
            raw_output="",
            output_token_ids=[],
            finish_reason="eos",
            thinking_end="model",
            forced_tokens=[],
            thinking_tokens=2,
            answer_tokens=3,
            generated_tokens=6,
            timings={},
            provenance={"model_id": "mistralai/Magistral-Small-2507"},
            is_test_model=False,
            prompt_sha256="a" * 64,
            thinking_sha256="b" * 64,
            answer_sha256="c" * 64,
            record_sha256="d" * 64,
        )
    )
    Job.objects.filter(pk=job.pk).update(status=Job.SUCCEEDED)
    page = page_of(analyst, "job-detail", job.pk)
    assert "FORGED" not in page
    assert "Careful reasoning." not in page
    assert "Magistral-Small-2507" not in page
    assert f"Unverified: Run record {forged.pk} has no ledger entry" in page
    assert "treat it as from a TEST MODEL" in page
    assert "Q?" in page  # the genuine submission is still shown


def test_zeroed_hash_columns_never_reach_the_page(analyst: User, team: Team):
    job = finished_job(analyst, team)
    zeros = "0" * 64
    as_superuser(
        "UPDATE audit_app_runrecord SET prompt_sha256 = %s, thinking_sha256 = %s, answer_sha256 = %s WHERE id = %s",
        zeros,
        zeros,
        zeros,
        job.run.pk,
    )
    as_superuser("UPDATE audit_app_submission SET question_sha256 = %s WHERE id = %s", zeros, job.submission_id)
    page = page_of(analyst, "job-detail", job.pk)
    assert zeros not in page
    run = RunRecord.objects.get(pk=job.run.pk)
    for value in (run.answer, run.thinking, job.submission.question):
        assert sha256_hex(value.encode()) in page
    assert sha256_hex(canonical_json(run.prompt_token_ids)) in page


def test_renamed_case_is_not_shown_as_the_case(analyst: User, team: Team):
    job = finished_job(analyst, team, reference="C-1")
    as_app_role("UPDATE audit_app_case SET reference = 'C-666' WHERE id = %s", job.submission.case_id)
    detail = page_of(analyst, "job-detail", job.pk)
    assert "C-666" not in detail
    assert "C-1" in detail
    assert "The case row has been changed" in detail
    listing = page_of(analyst, "job-list")
    assert "C-666" not in listing
    assert "C-1" in listing


def test_edited_question_is_unverified_on_both_pages(analyst: User, team: Team):
    job = submit_job(analyst, team, "C-1", "legal", "Is the clause binding?")
    as_superuser("UPDATE audit_app_submission SET question = 'Is the clause void?' WHERE id = %s", job.submission_id)
    for page in (page_of(analyst, "job-detail", job.pk), page_of(analyst, "job-list")):
        assert "Is the clause void?" not in page
        assert f"Submission {job.submission_id} differs from its ledger entry." in page
        assert 'class="unverified"' in page


def test_repointed_job_does_not_show_the_other_question(analyst: User, team: Team):
    answered = finished_job(analyst, team, question="Answered?")
    other = submit_job(analyst, team, "C-1", "legal", "Unrelated?")
    as_superuser(
        "SET CONSTRAINTS ALL IMMEDIATE; ALTER TABLE audit_app_job DROP CONSTRAINT audit_app_job_submission_id_key"
    )
    as_app_role("UPDATE audit_app_job SET submission_id = %s WHERE id = %s", other.submission_id, answered.pk)
    detail = page_of(analyst, "job-detail", answered.pk)
    assert "Unrelated?" not in detail
    assert f"Submission {other.submission_id} was recorded for job {other.pk}, not this one." in detail
    listing = page_of(analyst, "job-list")
    assert listing.count("Unrelated?") == 1  # on the other job's own row only


def test_job_list_query_count_does_not_grow_with_jobs(analyst: User, team: Team, django_assert_num_queries):
    client = Client()
    client.force_login(analyst)
    client.get(reverse("job-list"))  # the session exists before counting
    for number in range(2):
        submit_job(analyst, team, "C-1", "legal", f"Question {number}?")
    # 8 for the page, and 1 for the Review column (whether the page's jobs have sign-offs, conclusions or runs:
    # they have none, so reviews(jobs) reads none of those tables)
    with django_assert_num_queries(9) as two:
        client.get(reverse("job-list"))
    for number in range(2, 12):
        submit_job(analyst, team, "C-1", "legal", f"Question {number}?")
    with django_assert_num_queries(len(two.captured_queries)):
        assert "Question 11?" in client.get(reverse("job-list")).content.decode()


def test_inserted_submission_is_unverified_on_the_list(analyst: User, team: Team):
    genuine = submit_job(analyst, team, "C-1", "legal", "Genuine?")
    forged = insert_unledgered(  # the app role's INSERT grant: a submission and job with no entry
        Submission(
            case=genuine.submission.case,
            case_reference="C-1",
            team_name="Litigation",
            submitted_by=analyst,
            submitted_by_name="alice",
            domain="legal",
            question="Forged question?",
            template_id="legal/v1",
            settings={},
            question_sha256="0" * 64,
            record_sha256="0" * 64,
        )
    )
    job = Job.objects.create(submission=forged)
    listing = page_of(analyst, "job-list")
    assert "Genuine?" in listing
    assert "Forged question?" not in listing
    assert f"Unverified: Submission {forged.pk} has no ledger entry" in listing
    detail = page_of(analyst, "job-detail", job.pk)
    assert "Forged question?" not in detail
    assert 'class="unverified"' in detail
