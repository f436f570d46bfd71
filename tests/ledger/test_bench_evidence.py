"""The benchmark's bulk evidence is what the services and appends would have written: it verifies, every kind."""

from __future__ import annotations

import bench_evidence
import pytest

from audit_app.ledger.signer import sign_now
from audit_app.models import AccessEvent, KillSwitchEvent, LedgerEntry, LedgerVerification, RunRecord, Submission
from audit_app.services.access_events import record_access
from tests.ledger.insider import verify

pytestmark = pytest.mark.django_db


def test_bulk_loaded_evidence_of_every_kind_verifies_and_appends_go_on_after_it():
    record_access(None, "view", "job:0", actor_name="auditor")  # a real append before the bulk load
    sign_now()
    jobs = bench_evidence.load(806, batch_jobs=30, kill_switch_every=50, verification_every=100)
    record_access(None, "view", "job:1", actor_name="auditor")  # and one after: the head is rebuilt
    sign_now()
    report = verify()
    assert report.ok, report.problems
    assert jobs == 100
    counts = [
        model.objects.count() for model in (Submission, RunRecord, AccessEvent, KillSwitchEvent, LedgerVerification)
    ]
    assert counts == [100, 100, 602, 4, 1]
    assert LedgerEntry.objects.count() == report.entries == 807
