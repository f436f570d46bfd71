"""Re-running a finished job: same recorded inputs, a new job, and a link that is evidence (a record hash)."""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.test import Client

from audit_app.ledger.records import evidence_record
from audit_app.ledger.signer import public_verifier_key
from audit_app.ledger.verify import verify_ledger
from audit_app.models import Job, Team
from audit_app.services.errors import SubmissionError
from audit_app.services.pipeline import cancel_job, claim_job, reasoning_request, record_run
from audit_app.services.rerun import rerun_job
from audit_app.services.submission import Upload, submit_job
from audit_app.web.permissions import submitting_team
from inference import Engine, GenerationSettings
from tests.people import make_user
from tests.service.test_bindings import as_superuser

pytestmark = pytest.mark.django_db

_engines: list[Engine] = []
LEASE = Upload("lease.md", b"# Lease\n\nClause 12: Any extension must be agreed **in writing**.\n")


def engine() -> Engine:
    if not _engines:
        _engines.append(Engine.load(settings.GLASSBOX["MODEL_PATH"], quantization="bf16"))
    return _engines[0]


def finished_job(user: User, team: Team, question: str = "Is clause 12 met?") -> Job:
    """A job through submit_job, claim_job and record_run, as a worker runs it."""
    job = submit_job(
        user,
        team,
        "LIT-7",
        "legal",
        question,
        [LEASE],
        GenerationSettings(thinking_budget=8, answer_budget=8, seed=42, temperature=0.3),
        "Smith v Jones",
    )
    token = uuid.uuid4()
    claimed = claim_job(job.pk, token)
    assert claimed is not None
    assert record_run(job.pk, token, engine().generate(reasoning_request(claimed))) is not None
    return Job.objects.select_related("submission__case").get(pk=job.pk)


def test_rerun_repeats_the_recorded_inputs_and_links_by_record_hash(analyst: User, team: Team):
    old = finished_job(analyst, team)
    new = rerun_job(analyst, submitting_team(analyst), old)
    before, after = old.submission, new.submission
    assert new.pk != old.pk
    assert new.status == Job.QUEUED
    assert after.rerun_of_sha256 == before.record_sha256
    same = ("case_id", "case_reference", "case_title", "domain", "question", "settings", "template_id")
    assert {f: getattr(after, f) for f in same} == {f: getattr(before, f) for f in same}
    documents = [(d.name, d.sha256, d.text) for d in before.documents.all()]
    assert [(d.name, d.sha256, d.text) for d in after.documents.all()] == documents
    # A chain of re-runs (a re-run of a re-run) verifies cleanly.
    cancel_job(new)
    rerun_job(analyst, team, Job.objects.get(pk=new.pk))
    report = verify_ledger(public_verifier_key())
    assert report.ok, report.problems


def test_edited_link_is_named_by_verify_ledger(analyst: User, team: Team):
    old = finished_job(analyst, team)
    other = finished_job(analyst, team, question="Another question?")
    new = rerun_job(analyst, team, old)
    as_superuser(
        "UPDATE audit_app_submission SET rerun_of_sha256 = %s WHERE id = %s",
        other.submission.record_sha256,
        new.submission_id,
    )
    problems = verify_ledger(public_verifier_key()).problems
    assert any(
        p.table == "audit_app_submission" and p.row_id == str(new.submission_id) and "rerun_of_sha256" in p.message
        for p in problems
    ), problems


def test_link_to_no_submission_is_named_by_verify_ledger(analyst: User, team: Team):
    """A link forged before it was ledgered (or to a submission later edited) still names no submission."""
    old = finished_job(analyst, team)
    new = rerun_job(analyst, team, old)
    # The old submission's hash column is edited: the link now points at a hash that no submission has.
    as_superuser("UPDATE audit_app_submission SET record_sha256 = %s WHERE id = %s", "e" * 64, old.submission_id)
    problems = verify_ledger(public_verifier_key()).problems
    assert any(
        p.table == "audit_app_submission" and p.row_id == str(new.submission_id) and "re-run" in p.message
        for p in problems
    ), problems


def test_submit_refuses_a_link_to_no_submission_of_the_team(analyst: User, team: Team):
    with pytest.raises(SubmissionError, match="re-run must name a submission of this team"):
        submit_job(analyst, team, "LIT-7", "legal", "Q?", rerun_of_sha256="a" * 64)
    assert not Job.objects.exists()


def test_only_the_teams_analysts_may_rerun_and_only_finished_jobs(
    analyst: User, team: Team, outsider: User, other_team: Team
):
    old = finished_job(analyst, team)
    with pytest.raises(PermissionDenied):
        rerun_job(outsider, other_team, old)
    reviewer = make_user("rita", "reviewer", team)
    client = Client()
    client.force_login(reviewer)
    refused = client.post(f"/jobs/{old.pk}/rerun/")
    assert refused.status_code == 403
    assert "Only an analyst of this job&#x27;s team can run it again." in refused.content.decode()
    running = submit_job(analyst, team, "LIT-7", "legal", "Still running?")
    client.force_login(analyst)
    response = client.post(f"/jobs/{running.pk}/rerun/")
    assert response.status_code == 400
    assert f"Job {running.pk} is still queued" in response.content.decode()
    assert Job.objects.count() == 2  # nothing stored by either refusal


def test_job_pages_show_the_link_both_ways(analyst: User, team: Team):
    old = finished_job(analyst, team)
    client = Client()
    client.force_login(analyst)
    response = client.post(f"/jobs/{old.pk}/rerun/")
    new = Job.objects.exclude(pk=old.pk).get()
    assert response.status_code == 302
    assert response["Location"] == f"/jobs/{new.pk}/"
    page = client.get(f"/jobs/{new.pk}/").content.decode()
    assert f"re-run of #{old.pk}" in page
    assert old.submission.record_sha256 in page
    page = client.get(f"/jobs/{old.pk}/").content.decode()
    assert f'href="/jobs/{new.pk}/">#{new.pk}</a>' in page
    assert "Run again" in page


def test_a_first_run_records_no_link_so_records_ledgered_before_the_column_still_verify(analyst: User, team: Team):
    old = finished_job(analyst, team)
    new = rerun_job(analyst, team, old)
    assert "rerun_of_sha256" not in evidence_record(old.submission)  # as every record ledgered before 0011
    assert evidence_record(new.submission)["rerun_of_sha256"] == old.submission.record_sha256
    # A link added afterwards to a first run, or removed from a re-run, is named either way.
    as_superuser("UPDATE audit_app_submission SET rerun_of_sha256 = %s WHERE id = %s", "", new.submission_id)
    as_superuser(
        "UPDATE audit_app_submission SET rerun_of_sha256 = %s WHERE id = %s",
        new.submission.record_sha256,
        old.submission_id,
    )
    named = {p.row_id for p in verify_ledger(public_verifier_key()).problems if "rerun_of_sha256" in p.message}
    assert named == {str(old.submission_id), str(new.submission_id)}
