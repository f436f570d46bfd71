"""Issue [4/10]'s acceptance: six kinds of tampering, each named by table and id in one verification run,
and no wrong root ever signed."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from audit_app.ledger.merkle import extend_frontier, frontier_root
from audit_app.ledger.signer import sign_now
from audit_app.ledger.standalone import leaf_hash
from audit_app.models import Checkpoint, KillSwitchEvent, LedgerEntry
from audit_app.services.access_events import record_access
from audit_app.services.killswitch import current_suspension, suspend_inference
from audit_app.services.submission import submit_job
from tests.ledger.evidence import SHORT, make_evidence, run_job_inline
from tests.ledger.insider import named, superuser, verify

pytestmark = pytest.mark.django_db


def copy_row(table: str, row_id: int, **changes: object) -> int:
    """An insider's INSERT (the app role may INSERT): a copy of a real row with some columns changed."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s AND column_name <> 'id' "
            "ORDER BY ordinal_position",
            [table],
        )
        columns = [name for (name,) in cursor.fetchall()]
        select = [f"%s AS {name}" if name in changes else name for name in columns]
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(select)} FROM {table} WHERE id = %s "
            "RETURNING id",
            [*(changes[name] for name in columns if name in changes), row_id],
        )
        return int(cursor.fetchone()[0])


def every_signed_root_comes_from_the_leaves() -> bool:
    leaves = [leaf_hash(bytes(p)) for p in LedgerEntry.objects.order_by("sequence").values_list("payload", flat=True)]
    return all(
        frontier_root(extend_frontier([], 0, leaves[: checkpoint.size])) == bytes(checkpoint.root)
        for checkpoint in Checkpoint.objects.all()
    )


def test_six_kinds_of_tampering_are_each_named_in_one_run():
    sign_now()  # beat's first checkpoint, at size 0, before any job
    evidence = make_evidence()
    second = submit_job(evidence.user, evidence.team, "C-2", "legal", "Second?", generation=SHORT)
    run_job_inline(second)
    waiting = submit_job(evidence.user, evidence.team, "C-3", "legal", "Unanswered?", generation=SHORT)
    suspension = suspend_inference(evidence.user, "Drill")
    sign_now()
    assert verify().ok

    forged_run = copy_row("audit_app_runrecord", evidence.run.pk, job_id=waiting.pk, answer="Forged answer.")
    forged_submission = copy_row("audit_app_submission", evidence.bare.pk, question="Forged question?")
    forged_switch = copy_row(
        "audit_app_killswitchevent", suspension.pk, action=KillSwitchEvent.RESUME, at="2099-01-01T00:00:00Z"
    )
    superuser(
        "audit_app_runrecord",
        "UPDATE audit_app_runrecord SET answer_sha256 = %s WHERE id = %s",
        "0" * 64,
        evidence.run.pk,
    )
    with connection.cursor() as cursor:  # operational rows: the app role may UPDATE them
        cursor.execute("UPDATE audit_app_job SET submission_id = %s WHERE id = %s", [forged_submission, second.pk])
        cursor.execute("SELECT edge FROM audit_app_ledgerhead WHERE id = 1")
        edge = json.loads(cursor.fetchone()[0])  # Django leaves jsonb as text on raw cursors
        edge[-1][2] = "ab" * 32
        cursor.execute("UPDATE audit_app_ledgerhead SET edge = %s::jsonb WHERE id = 1", [json.dumps(edge)])
    record_access(evidence.user, "view", f"job:{second.pk}")  # the log grows past the edited head
    sign_now()

    report = verify()
    assert {
        ("audit_app_runrecord", str(forged_run)),
        ("audit_app_submission", str(forged_submission)),
        ("audit_app_killswitchevent", str(forged_switch)),
        ("audit_app_runrecord", str(evidence.run.pk)),
        ("audit_app_job", str(second.pk)),
        ("audit_app_ledgerhead", "1"),
    } <= named(report)
    assert any(p.row_id == str(evidence.run.pk) and "answer_sha256" in p.message for p in report.problems)
    assert not report.ok
    assert every_signed_root_comes_from_the_leaves()
    assert current_suspension() is not None  # the forged 2099 "resume" changed nothing
