"""'Verify now' runs in a Celery worker with progress on the page; its result is write-once, ledgered evidence."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit_app.ledger.signer import sign_now
from audit_app.models import EvidenceImmutableError, LedgerEntry, LedgerVerification, VerificationRun
from audit_app.services.access_events import record_access
from audit_app.services.verification import run_verification
from tests.ledger.evidence import person
from tests.ledger.insider import insert, named, verify
from tests.service.processes import start_celery, stop, wait_for


@pytest.fixture
def control_worker(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The control worker exactly as docs/operations.md starts it: the verify task is routed there."""
    from audit_app.celery import app

    app.control.purge()
    process = start_celery("control", tmp_path / "control.log")
    yield process
    stop(process)


def auditor_client() -> Client:
    client = Client()
    client.force_login(person("audrey", "auditor"))
    return client


@pytest.mark.django_db(transaction=True)
def test_verify_now_runs_in_a_worker_and_the_page_follows_its_progress(control_worker):
    for number in range(3):
        record_access(None, "view", f"job:{number}", actor_name="auditor")
    sign_now()
    client = auditor_client()
    assert client.post(reverse("ledger")).status_code == 302
    run = VerificationRun.objects.get()
    page = client.get(reverse("ledger")).content.decode()
    if not run.is_finished:
        assert f'hx-get="{reverse("verification-progress", args=[run.pk])}"' in page
    wait_for(lambda: VerificationRun.objects.get(pk=run.pk).is_finished, timeout=90, what="the verify task")
    run.refresh_from_db()
    assert (run.status, run.done, run.total) == (VerificationRun.FINISHED, 3, 3)
    assert client.get(reverse("verification-progress", args=[run.pk]))["HX-Refresh"] == "true"
    result = run.result
    assert result is not None
    assert result.ok
    assert result.requested_by_name == "audrey"
    assert LedgerEntry.objects.filter(kind="verification", subject=f"verification:{result.pk}").exists()
    page = client.get(reverse("ledger")).content.decode()
    assert "passed" in page
    assert "Ledger verified: 3 entries" in page
    assert "UNVERIFIED" not in page
    assert verify().ok


@pytest.mark.django_db
def test_a_forged_passed_history_row_is_shown_unverified_and_reported():
    client = auditor_client()
    forged = insert(
        "audit_app_ledgerverification",
        requested_by_name="audrey",
        at=timezone.now(),
        ok=True,
        entries=1,
        checkpoints=0,
        root="",
        problem_count=0,
        problems=[],
        message="Ledger verified: 1 entries",
        record_sha256="0" * 64,
    )
    page = client.get(reverse("ledger")).content.decode()
    assert f'data-verification="{forged}"' in page
    assert "UNVERIFIED: not in the ledger" in page
    assert named(verify()) == {("audit_app_ledgerverification", str(forged))}


@pytest.mark.django_db
def test_verification_history_is_write_once():
    run = VerificationRun.objects.create(requested_by=person("audrey", "auditor"))
    result = run_verification(run.pk)
    assert result is not None
    assert result.ok
    assert run_verification(run.pk) is None  # a redelivered message finds the run taken
    with pytest.raises(EvidenceImmutableError):
        result.save()
    with pytest.raises(EvidenceImmutableError):
        LedgerVerification.objects.filter(pk=result.pk).update(ok=False)
    with pytest.raises(DatabaseError, match="evidence is write-once"), transaction.atomic():
        connection.cursor().execute("UPDATE audit_app_ledgerverification SET ok = false WHERE id = %s", [result.pk])
    assert verify().ok


@pytest.mark.django_db
def test_the_progress_page_is_for_auditors_only():
    run = VerificationRun.objects.create(requested_by=person("audrey", "auditor"))
    client = Client()
    client.force_login(person("alice", "analyst"))
    assert client.get(reverse("verification-progress", args=[run.pk])).status_code == 403
    assert client.post(reverse("ledger")).status_code == 403
    assert VerificationRun.objects.count() == 1
