"""The ledger in PostgreSQL: entries beside their evidence, gap-free under concurrency, refused edits."""

from __future__ import annotations

import json
import threading

import pytest
from django.contrib.auth.models import User
from django.db import DatabaseError, connection, transaction

from audit_app.ledger import log as ledger
from audit_app.ledger import merkle
from audit_app.ledger.canonical import record_hash
from audit_app.ledger.records import evidence_record
from audit_app.models import LedgerEntry, Submission, Team
from audit_app.services.submission import Upload, submit_job
from tests.ledger.memory import MemoryTree


@pytest.fixture
def analyst(db) -> User:
    user = User.objects.create_user("alice")
    Team.objects.create(name="T").members.add(user)
    return user


def submit(user: User, question: str = "Q?"):
    from django.contrib.auth.models import Group

    from audit_app.web.permissions import submitting_team

    user.groups.add(Group.objects.get_or_create(name="analyst")[0])
    return submit_job(user, submitting_team(user), "C-1", "legal", question, [Upload("a.txt", b"doc text")])


@pytest.mark.django_db
def test_submission_is_ledgered_with_its_documents_and_hashes(analyst: User):
    job = submit(analyst)
    entry = LedgerEntry.objects.get()
    payload = json.loads(bytes(entry.payload))
    submission = Submission.objects.get(pk=job.submission_id)
    assert (entry.sequence, entry.kind, entry.subject) == (0, "submission", f"submission:{submission.pk}")
    assert (payload["kind"], payload["subject"]) == ("submission", entry.subject)
    assert payload["record"] == evidence_record(submission)
    assert payload["record_sha256"] == submission.record_sha256 == record_hash(evidence_record(submission))
    assert payload["documents"][0]["sha256"] == submission.documents.get().sha256


@pytest.mark.django_db
def test_a_rolled_back_transaction_leaves_no_row_no_entry_no_gap(analyst: User):
    submit(analyst)

    def submit_then_fail() -> None:
        with transaction.atomic():
            submit(analyst, "Rolled back?")
            raise RuntimeError("abort")

    with pytest.raises(RuntimeError):
        submit_then_fail()
    submit(analyst, "Kept")
    assert list(LedgerEntry.objects.values_list("sequence", flat=True)) == [0, 1]
    assert not Submission.objects.filter(question="Rolled back?").exists()


@pytest.mark.django_db
def test_root_in_the_database_matches_a_tree_rebuilt_from_the_payloads(analyst: User):
    for number in range(11):
        submit(analyst, f"Question {number}?")
    rebuilt = MemoryTree(bytes(e.payload) for e in LedgerEntry.objects.order_by("sequence"))
    assert merkle.root(11, ledger.fetch_nodes) == merkle.root(11, rebuilt.fetch)


@pytest.mark.django_db
@pytest.mark.parametrize("table", ["audit_app_submission", "audit_app_ledgerentry", "audit_app_document"])
@pytest.mark.parametrize("statement", ["UPDATE {t} SET id = id", "DELETE FROM {t}"])
def test_triggers_refuse_raw_update_and_delete(analyst: User, table: str, statement: str):
    submit(analyst)
    with pytest.raises(DatabaseError, match="evidence is write-once"), connection.cursor() as cursor:
        cursor.execute(statement.format(t=table))


@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_writers_get_a_total_gap_free_order():
    def write(worker: int) -> None:
        for item in range(10):
            with transaction.atomic():
                ledger.append("test", f"writer:{worker}:{item}", {"worker": worker, "item": item})
        connection.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert list(LedgerEntry.objects.values_list("sequence", flat=True)) == list(range(80))
    rebuilt = MemoryTree(bytes(e.payload) for e in LedgerEntry.objects.order_by("sequence"))
    assert merkle.root(80, ledger.fetch_nodes) == merkle.root(80, rebuilt.fetch)


@pytest.mark.django_db(transaction=True)
def test_append_outside_a_transaction_is_refused():
    with pytest.raises(RuntimeError, match="same transaction"):
        ledger.append("test", "x", {})


@pytest.mark.django_db
def test_views_and_exports_are_ledgered_and_write_once(analyst: User):
    from django.db import connection

    from audit_app.models import AccessEvent
    from audit_app.services.access_events import record_access

    job = submit(analyst)
    event = record_access(analyst, AccessEvent.VIEW, f"job:{job.pk}")
    entry = LedgerEntry.objects.get(subject=f"access:{event.pk}")
    assert json.loads(bytes(entry.payload))["record"]["subject"] == f"job:{job.pk}"
    with pytest.raises(DatabaseError, match="evidence is write-once"), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_app_accessevent")
