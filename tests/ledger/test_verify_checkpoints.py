"""An intact ledger always verifies: checkpoints of the empty log, several of one size, no entries at all."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from audit_app.ledger.signer import sign_now
from audit_app.models import Checkpoint
from audit_app.services.access_events import record_access
from tests.ledger.insider import named, superuser, verify

pytestmark = pytest.mark.django_db


def grow(entries: int) -> None:
    for number in range(entries):
        record_access(None, "view", f"job:{number}", actor_name="auditor")


def test_beat_signing_the_empty_log_before_the_first_job_does_not_fail_verification(capsys):
    sign_now()  # what beat does on a fresh deployment
    grow(19)
    report = verify()
    assert report.ok, report.problems  # was: "Entry 19: is missing: checkpoint 1 signs 0 entries, the log ends at 19."
    assert (report.entries, report.checkpoints) == (19, 1)
    call_command("verify_ledger")
    assert capsys.readouterr().out.startswith("Ledger verified: 19 entries, 1 checkpoints")


def test_any_number_of_checkpoints_of_equal_size_verify():
    for _ in range(3):
        sign_now(force=True)
    grow(4)
    for _ in range(3):
        sign_now(force=True)
    grow(1)
    sign_now()
    report = verify()
    assert report.ok, report.problems
    assert (report.entries, report.checkpoints) == (5, 7)


def test_no_entries_and_no_checkpoints_verify():
    report = verify()
    assert (report.ok, report.entries, report.checkpoints) == (True, 0, 0)


def test_a_forged_checkpoint_of_the_empty_log_is_named():
    checkpoint = sign_now()
    assert checkpoint is not None
    superuser(
        "audit_app_checkpoint",
        "UPDATE audit_app_checkpoint SET note = replace(note, %s, %s) WHERE id = %s",
        "\n0\n",
        "\n1\n",
        checkpoint.pk,
    )
    assert named(verify()) == {("audit_app_checkpoint", str(checkpoint.pk))}


def test_an_edited_stored_leaf_fails_the_checkpoint_that_signs_it():
    grow(4)
    checkpoint = sign_now()
    assert checkpoint is not None
    superuser("audit_app_ledgerentry", "UPDATE audit_app_ledgerentry SET leaf_hash = %s WHERE sequence = 2", bytes(32))
    report = verify()
    assert {("audit_app_ledgerentry", "2"), ("audit_app_checkpoint", str(checkpoint.pk))} <= named(report)
    assert Checkpoint.objects.count() == 1
