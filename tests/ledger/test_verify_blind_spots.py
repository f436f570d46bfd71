"""Rows → entries, hash columns and every problem at once: what an insider adds or zeroes is named by table and id."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from audit_app.models import Document, Job
from tests.ledger.evidence import ZEROS, Evidence, make_evidence
from tests.ledger.insider import insert, named, superuser, verify

pytestmark = pytest.mark.django_db


@pytest.fixture
def evidence(db) -> Evidence:
    return make_evidence()


def forged_run(evidence: Evidence, job: Job) -> int:
    """A run record for ``job`` copied from a real one, with a forged answer and no ledger entry."""
    run = evidence.run
    columns = {f.column: getattr(run, f.attname) for f in run._meta.concrete_fields if not f.primary_key}
    return insert("audit_app_runrecord", **(columns | {"job_id": job.pk, "answer": "Forged.", "is_test_model": False}))


def test_every_kind_of_evidence_with_unicode_and_no_documents_verifies(evidence: Evidence):
    report = verify()
    assert (report.ok, report.problem_count, report.problems) == (True, 0, [])
    assert report.entries == 6
    assert evidence.bare.documents.count() == 0


def test_forged_rows_of_every_evidence_table_are_named_in_one_run(evidence: Evidence):
    now = timezone.now()
    run = forged_run(evidence, evidence.bare.job)
    submission = insert(
        "audit_app_submission",
        case_id=evidence.submission.case_id,
        submitted_by_id=evidence.user.pk,
        submitted_by_name="zoë",
        submitted_at=now,
        domain="legal",
        question="Forged?",
        template_id="t",
        settings={},
        question_sha256=ZEROS,
        record_sha256=ZEROS,
        case_reference="C-ß1",
        case_title="",
        team_name="Équipe 東京",
    )
    document = insert(
        "audit_app_document",
        submission_id=evidence.submission.pk,
        position=7,
        name="x.txt",
        content_type="text/plain",
        size=1,
        sha256=ZEROS,
        original=b"x",
        text="x",
    )
    resume = insert(
        "audit_app_killswitchevent",
        action="resume",
        actor_id=evidence.user.pk,
        actor_name="zoë",
        reason="",
        at=now.replace(year=2099),
        record_sha256=ZEROS,
    )
    access = insert(
        "audit_app_accessevent",
        action="view",
        actor_id=None,
        actor_name="x",
        subject="job:1",
        at=now,
        record_sha256=ZEROS,
    )
    report = verify()
    assert {
        ("audit_app_runrecord", str(run)),
        ("audit_app_submission", str(submission)),
        ("audit_app_document", str(document)),
        ("audit_app_killswitchevent", str(resume)),
        ("audit_app_accessevent", str(access)),
    } <= named(report)
    assert not report.ok


def test_documents_of_a_forged_submission_are_named(evidence: Evidence):
    submission = insert(
        "audit_app_submission",
        case_id=evidence.submission.case_id,
        submitted_by_id=evidence.user.pk,
        submitted_by_name="zoë",
        submitted_at=timezone.now(),
        domain="legal",
        question="Forged?",
        template_id="t",
        settings={},
        question_sha256=ZEROS,
        record_sha256=ZEROS,
        case_reference="C-ß1",
        case_title="",
        team_name="Équipe 東京",
    )
    document = insert(
        "audit_app_document",
        submission_id=submission,
        position=0,
        name="x.txt",
        content_type="text/plain",
        size=1,
        sha256=ZEROS,
        original=b"x",
        text="x",
    )
    assert {("audit_app_submission", str(submission)), ("audit_app_document", str(document))} <= named(verify())


@pytest.mark.parametrize(
    ("table", "column", "row"),
    [
        ("audit_app_submission", "question_sha256", "submission"),
        ("audit_app_runrecord", "prompt_sha256", "run"),
        ("audit_app_runrecord", "thinking_sha256", "run"),
        ("audit_app_runrecord", "answer_sha256", "run"),
        ("audit_app_runrecord", "record_sha256", "run"),
        ("audit_app_killswitchevent", "record_sha256", "suspend"),
        ("audit_app_accessevent", "record_sha256", "access"),
    ],
)
def test_a_zeroed_hash_column_is_named_by_table_id_and_column(evidence: Evidence, table: str, column: str, row: str):
    pk = getattr(evidence, row).pk
    superuser(table, f"UPDATE {table} SET {column} = %s WHERE id = %s", ZEROS, pk)
    report = verify()
    assert [(p.table, p.row_id) for p in report.problems] == [(table, str(pk))]
    assert report.problems[0].message.startswith(f"{column} is not ")


def test_an_edited_document_is_named(evidence: Evidence):
    document = Document.objects.get(submission=evidence.submission, position=1)
    superuser("audit_app_document", "UPDATE audit_app_document SET text = 'Edited' WHERE id = %s", document.pk)
    assert named(verify()) == {("audit_app_document", str(document.pk))}


def test_one_poisoned_entry_hides_nothing_after_it(evidence: Evidence):
    superuser(
        "audit_app_ledgerentry",
        "UPDATE audit_app_ledgerentry SET payload = convert_to("
        "replace(convert_from(payload, 'UTF8'), 'Was ist', 'Wie ist'), 'UTF8') WHERE sequence = 0",
    )
    superuser(
        "audit_app_accessevent", "UPDATE audit_app_accessevent SET actor_name = 'eve' WHERE id = %s", evidence.access.pk
    )
    report = verify()
    assert named(report) == {
        ("audit_app_ledgerentry", "0"),
        ("audit_app_submission", str(evidence.submission.pk)),
        ("audit_app_accessevent", str(evidence.access.pk)),
    }
    assert "differs from what was ledgered in actor_name" in str(report.problems[-1])


def test_an_entry_repointed_at_another_row_is_named(evidence: Evidence):
    superuser(
        "audit_app_ledgerentry",
        "UPDATE audit_app_ledgerentry SET subject = %s WHERE subject = %s",
        f"access:{evidence.access.pk + 1000}",
        f"access:{evidence.access.pk}",
    )
    report = verify()
    assert ("audit_app_accessevent", str(evidence.access.pk)) in named(report)
    assert any(p.table == "audit_app_ledgerentry" and "subject" in p.message for p in report.problems)


def test_problems_beyond_the_cap_are_counted(evidence: Evidence):
    ids = [
        insert(
            "audit_app_accessevent",
            action="view",
            actor_id=None,
            actor_name="x",
            subject="job:1",
            at=timezone.now(),
            record_sha256=ZEROS,
        )
        for _ in range(5)
    ]
    report = verify(max_problems=2)
    assert (len(report.problems), report.problem_count) == (2, 5)
    assert named(report) == {("audit_app_accessevent", str(ids[0])), ("audit_app_accessevent", str(ids[1]))}
    assert "5 problems (the first 2 listed)" in report.summary()


def test_command_prints_each_problem_and_exits_1(evidence: Evidence, capsys):
    superuser("audit_app_submission", "UPDATE audit_app_submission SET question_sha256 = %s", ZEROS)
    with pytest.raises(CommandError, match="Ledger verification failed: 2 problems") as error:
        call_command("verify_ledger")
    assert error.value.returncode == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert all(line.startswith("audit_app_submission ") and "question_sha256" in line for line in lines)


def test_command_refuses_a_cap_below_one(evidence: Evidence):
    with pytest.raises(CommandError, match=r"--max-problems must be at least 1\.") as error:
        call_command("verify_ledger", "--max-problems", "0")
    assert error.value.returncode == 2


def test_a_deleted_row_is_named_by_its_entry(evidence: Evidence):
    superuser("audit_app_accessevent", "DELETE FROM audit_app_accessevent WHERE id = %s", evidence.access.pk)
    report = verify()
    assert named(report) == {("audit_app_accessevent", str(evidence.access.pk))}
    assert "is missing from the database" in report.problems[0].message
