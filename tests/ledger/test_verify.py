"""verify_ledger passes on an honest ledger and names each bad entry, row or checkpoint after tampering."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from audit_app.ledger.problems import Problem
from audit_app.ledger.signer import public_verifier_key, sign_now
from audit_app.ledger.verify import verify_ledger
from audit_app.models import Checkpoint, LedgerEntry, Team
from audit_app.services.submission import submit_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def ledger_with_checkpoints(db) -> list[int]:
    user = User.objects.create_user("alice")
    user.groups.add(Group.objects.get_or_create(name="analyst")[0])
    team = Team.objects.create(name="T")
    team.members.add(user)
    submissions = []
    for number in range(6):
        submissions.append(submit_job(user, team, "C-1", "legal", f"Question {number}?").submission_id)
        if number in (2, 5):
            sign_now()
    return submissions


def tamper(sql: str, *params: object) -> None:
    """What a database superuser could do: switch the write-once triggers off, then edit."""
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(sql, params)
        cursor.execute("SET session_replication_role = DEFAULT")


def problem() -> Problem:
    """The first problem of a failing verification."""
    report = verify_ledger(public_verifier_key())
    assert not report.ok
    return report.problems[0]


def test_honest_ledger_verifies(ledger_with_checkpoints, capsys):
    report = verify_ledger(public_verifier_key())
    assert (report.entries, report.checkpoints, report.ok, report.problems) == (6, 2, True, [])
    call_command("verify_ledger")
    assert capsys.readouterr().out.startswith("Ledger verified: 6 entries, 2 checkpoints, root ")


def test_edited_payload_is_caught_at_its_sequence(ledger_with_checkpoints):
    tamper(
        "UPDATE audit_app_ledgerentry SET payload = convert_to(replace(convert_from(payload, 'UTF8'), "
        "'Question 3', 'Question X'), 'UTF8') WHERE sequence = 3"
    )
    assert problem().sequence == 3
    assert "payload does not match its stored leaf hash" in str(problem())


def test_edited_record_field_is_caught_at_its_entry(ledger_with_checkpoints):
    tamper("UPDATE audit_app_submission SET question = 'Forged?' WHERE id = %s", ledger_with_checkpoints[4])
    assert problem().sequence == 4
    assert str(problem()) == (
        f"audit_app_submission {ledger_with_checkpoints[4]} (entry 4): differs from what was ledgered in question."
    )


def test_deleted_entry_is_caught(ledger_with_checkpoints):
    tamper("DELETE FROM audit_app_ledgerentry WHERE sequence = 2")
    assert problem().sequence == 2
    assert "is missing" in str(problem())


def test_checkpoint_with_a_flipped_byte_fails_its_signature(ledger_with_checkpoints):
    checkpoint = Checkpoint.objects.order_by("size").first()
    assert checkpoint is not None
    note = checkpoint.note.replace("\n3\n", "\n4\n", 1)
    tamper("UPDATE audit_app_checkpoint SET note = %s WHERE id = %s", note, checkpoint.pk)
    assert "signature" in str(problem()) or "signs a root" in str(problem())


def test_command_exits_1_with_the_sentence(ledger_with_checkpoints, capsys):
    tamper("DELETE FROM audit_app_ledgerentry WHERE sequence = 5")
    # The missing entry, the checkpoint past the end, the submission it ledgered, the head, the stored nodes.
    with pytest.raises(CommandError, match="Ledger verification failed: 5 problems") as error:
        call_command("verify_ledger")
    assert error.value.returncode == 1
    out = capsys.readouterr().out
    assert "audit_app_ledgerentry 5 (entry 5): is missing: checkpoint" in out
    assert "audit_app_submission" in out
    assert LedgerEntry.objects.count() == 5
