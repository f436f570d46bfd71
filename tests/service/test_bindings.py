"""check_bindings: mutable rows that evidence points through are checked against the ledgered content."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import connection

from audit_app.ledger.bindings import check_bindings
from audit_app.ledger.signer import public_verifier_key
from audit_app.ledger.verify import verify_ledger
from audit_app.models import Job, Team
from audit_app.services.submission import submit_job
from tests.factories import FinishedJobFactory

pytestmark = pytest.mark.django_db


def finished_job(user: User, team: Team, reference: str = "C-1", question: str = "Q?", title: str = "") -> Job:
    """A job that went through submit_job, claim_job and record_run like a worker's."""
    return FinishedJobFactory(submitter=user, team=team, case_reference=reference, question=question, case_title=title)


def as_superuser(sql: str, *params: object) -> None:
    """What a database superuser could do: switch the write-once triggers off, then edit."""
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(sql, params)
        cursor.execute("SET session_replication_role = DEFAULT")


def as_app_role(sql: str, *params: object) -> None:
    """What the application's own role may do: plain SQL, triggers on."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_odd_but_valid_input_binds_cleanly(analyst: User, team: Team, django_assert_num_queries):
    finished_job(analyst, team, reference="Az. 7 Ü-Λ/九 ½", title="The \"quoted\" case 'n' \\ back")
    submit_job(analyst, team, "Az. 7 Ü-Λ/九 ½", "legal", "Again?", case_title='Another "title"')
    with django_assert_num_queries(9):  # one per binding (3 for review, 1 scope, 1 API keys), whatever the rows
        assert list(check_bindings()) == []
    verify_ledger(public_verifier_key())


def test_renamed_case_is_named(analyst: User, team: Team):
    job = submit_job(analyst, team, "C-1", "legal", "Q?")
    as_app_role("UPDATE audit_app_case SET reference = 'C-666' WHERE id = %s", job.submission.case_id)
    [problem] = check_bindings()
    assert (problem.table, problem.row_id) == ("audit_app_case", str(job.submission.case_id))
    assert "'C-666'" in problem.message
    assert "'C-1'" in problem.message


def test_case_moved_to_another_team_is_named(analyst: User, team: Team, other_team: Team):
    job = submit_job(analyst, team, "C-1", "legal", "Q?")
    as_app_role("UPDATE audit_app_case SET team_id = %s WHERE id = %s", other_team.pk, job.submission.case_id)
    [problem] = check_bindings()
    assert (problem.table, problem.row_id) == ("audit_app_case", str(job.submission.case_id))
    assert "'Tax'" in problem.message
    assert "'Litigation'" in problem.message


def test_repointed_job_with_a_run_is_named(analyst: User, team: Team):
    answered = finished_job(analyst, team, question="Answered?")
    other = submit_job(analyst, team, "C-1", "legal", "Other?")
    # The schema owner can drop the one-job-per-submission constraint; then any job may point anywhere.
    as_superuser(
        "SET CONSTRAINTS ALL IMMEDIATE; ALTER TABLE audit_app_job DROP CONSTRAINT audit_app_job_submission_id_key"
    )
    as_app_role("UPDATE audit_app_job SET submission_id = %s WHERE id = %s", other.submission_id, answered.pk)
    repointed, orphan = check_bindings()
    assert (repointed.table, repointed.row_id) == ("audit_app_job", str(answered.pk))
    assert f"run record {answered.run.pk} answers submission {answered.submission_id}" in repointed.message
    assert (orphan.table, orphan.row_id) == ("audit_app_submission", str(answered.submission_id))


def test_repointed_job_without_a_run_is_named(analyst: User, team: Team):
    first = submit_job(analyst, team, "C-1", "legal", "First?")
    second = submit_job(analyst, team, "C-1", "legal", "Second?")
    Job.objects.filter(pk=second.pk).delete()  # jobs are operational rows: the app role may delete them
    as_app_role("UPDATE audit_app_job SET submission_id = %s WHERE id = %s", second.submission_id, first.pk)
    orphan, repointed = check_bindings()
    assert (orphan.table, orphan.row_id) == ("audit_app_submission", str(first.submission_id))
    assert f"ledgered for job {first.pk}, but no job points at it" in orphan.message
    assert (repointed.table, repointed.row_id) == ("audit_app_job", str(first.pk))
    assert f"ledgered for job {second.pk}" in repointed.message


def test_deleted_job_is_named_by_its_submission(analyst: User, team: Team):
    job = submit_job(analyst, team, "C-1", "legal", "Q?")
    Job.objects.filter(pk=job.pk).delete()  # hides the submission from every page
    [problem] = check_bindings()
    assert (problem.table, problem.row_id) == ("audit_app_submission", str(job.submission_id))


def test_run_bound_to_no_submission_is_named(analyst: User, team: Team):
    job = finished_job(analyst, team)
    as_superuser("UPDATE audit_app_runrecord SET submission_record_sha256 = %s WHERE id = %s", "f" * 64, job.run.pk)
    [problem] = check_bindings()
    assert (problem.table, problem.row_id) == ("audit_app_runrecord", str(job.run.pk))
    assert "f" * 64 in problem.message


def test_run_records_the_hash_of_the_submission_it_answers(analyst: User, team: Team):
    job = finished_job(analyst, team, reference="C-7", title="Smith v Jones")
    assert job.run.submission_record_sha256 == job.submission.record_sha256
    submission = job.submission
    assert (submission.case_reference, submission.case_title, submission.team_name) == (
        "C-7",
        "Smith v Jones",
        "Litigation",
    )


def test_migration_0008_refuses_a_database_that_already_holds_evidence(analyst: User, team: Team):
    import importlib
    from types import SimpleNamespace

    migration = importlib.import_module("audit_app.migrations.0008_content_bindings")
    migration.refuse_existing_evidence(None, SimpleNamespace(connection=connection))  # empty: nothing to refuse
    submit_job(analyst, team, "C-1", "legal", "Q?")
    with pytest.raises(RuntimeError, match="already holds 1 submissions and run records ledgered without them"):
        migration.refuse_existing_evidence(None, SimpleNamespace(connection=connection))
