"""``store_evidence`` is the only way evidence is written: row, record hash and ledger entry, all or nothing."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.auth.models import User

from audit_app.ledger.log import tree_size
from audit_app.models import (
    AccessEvent,
    Document,
    EvidenceWriteError,
    KillSwitchEvent,
    LedgerAlert,
    LedgerEntry,
    LedgerVerification,
    Submission,
    Team,
)
from audit_app.models.write_once import WriteOnceModel
from audit_app.services.access_events import record_access
from audit_app.services.store import store_evidence
from audit_app.services.submission import Upload, submit_job
from tests.ledger.insider import verify

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def event(user: User, reason: str = "maintenance") -> KillSwitchEvent:
    return KillSwitchEvent(action=KillSwitchEvent.SUSPEND, actor=user, actor_name=user.get_username(), reason=reason)


def test_evidence_saved_without_the_helper_is_refused_and_nothing_is_stored(operator: User, analyst: User, team: Team):
    submission = submit_job(analyst, team, "C-1", "legal", "Q?").submission
    size = tree_size()
    attempts = [
        lambda: event(operator).save(),
        lambda: AccessEvent.objects.create(action=AccessEvent.VIEW, actor=operator, actor_name="o", subject="job:1"),
        lambda: KillSwitchEvent.objects.bulk_create([event(operator)]),
        lambda: Document.objects.create(
            submission=submission, position=9, name="x.txt", content_type="text/plain", size=1, sha256="0", text="x"
        ),
        lambda: LedgerVerification(requested_by_name="o", ok=True, message="fine").save(),
    ]
    for attempt in attempts:
        with pytest.raises(EvidenceWriteError, match="insert them with store_evidence"):
            attempt()
    assert KillSwitchEvent.objects.count() == AccessEvent.objects.count() == LedgerVerification.objects.count() == 0
    assert Document.objects.count() == 0
    assert tree_size() == size


def test_the_helper_writes_row_hash_and_entry_together(operator: User):
    stored = store_evidence(event(operator, "odd but valid: \u00e9\u00e8 \U0001f512 \\ \" ' \n tab\t"))
    (entry,) = LedgerEntry.objects.filter(subject=f"kill_switch:{stored.pk}")
    assert entry.kind == "kill_switch"
    assert stored.record_sha256 in bytes(entry.payload).decode()
    assert verify().ok


def test_a_failure_after_the_row_leaves_neither_row_nor_entry(operator: User):
    size = tree_size()

    def fails(_: KillSwitchEvent) -> dict[str, int]:
        raise RuntimeError("the entry's extra fields could not be computed")

    with pytest.raises(RuntimeError):
        store_evidence(event(operator), entry=fails)
    assert KillSwitchEvent.objects.count() == 0
    assert tree_size() == size


def test_the_helper_refuses_a_model_that_is_not_ledgered(operator: User):
    with pytest.raises(TypeError, match="not ledgered evidence"):
        store_evidence(LedgerAlert(source="test", reason="none", size=0, message="not evidence of a kind"))


def test_every_write_once_model_with_a_record_hash_is_guarded():
    """A new evidence model (it has ``record_sha256``) must name its ledger kind, or the guard would not cover it."""
    for model in apps.get_app_config("audit_app").get_models():
        fields = {field.name for field in model._meta.get_fields()}
        if issubclass(model, WriteOnceModel) and "record_sha256" in fields:
            assert model.evidence_kind, f"{model.__name__} holds a record hash but sets no evidence_kind"
    assert Document.stored_with == Submission.evidence_kind


def test_only_the_helper_hashes_and_ledgers_evidence():
    """No module outside services/store.py calls the pieces it puts together (a grep, by the syntax tree)."""
    pieces = {"record_evidence", "evidence_hash", "storing"}
    callers = set()
    for path in (ROOT / "audit_app").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name in pieces:
                    callers.add(str(path.relative_to(ROOT)))
    assert callers == {"audit_app/services/store.py"}


def test_the_services_write_through_it(analyst: User, team: Team, operator: User):
    submit_job(analyst, team, "C-1", "legal", "Q?", [Upload("a.md", b"# A\nText.")])
    access = record_access(operator, AccessEvent.VIEW, "job:1")
    assert LedgerEntry.objects.filter(subject=f"access:{access.pk}").count() == 1
    assert verify().ok
