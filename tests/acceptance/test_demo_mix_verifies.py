"""Issue [4/10]'s acceptance on the deployment as documented: after beat's first checkpoint and a mix of 100
jobs, cancels, kill-switch events and exports, verify_ledger and the auditor's "Verify now" both pass."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from audit_app.celery import app
from audit_app.ledger import standalone
from audit_app.ledger.log import tree_size
from audit_app.ledger.signer import public_verifier_key
from audit_app.models import Checkpoint, Job, RunRecord, Team, VerificationRun
from audit_app.services.errors import SubmissionError
from audit_app.services.killswitch import resume_inference, suspend_inference
from audit_app.services.pipeline import cancel_job
from audit_app.services.submission import submit_job
from tests.ledger.evidence import SHORT, person
from tests.ledger.insider import verify
from tests.service.processes import start_celery, stop, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
FAST_CHECKPOINTS = {"GLASSBOX_CHECKPOINT_INTERVAL_SECONDS": "1"}


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[None]:
    """Control worker, beat and one inference worker, started from docs/operations.md's command lines."""
    app.control.purge()
    parts: list[subprocess.Popen[bytes]] = []
    try:
        for part in ("control", "beat", "inference"):
            parts.append(start_celery(part, tmp_path / f"{part}.log", env=FAST_CHECKPOINTS))
        yield
    finally:
        for process in parts:
            stop(process)


def signed_size() -> int | None:
    return Checkpoint.objects.order_by("-size").values_list("size", flat=True).first()


def test_a_hundred_job_mix_verifies_on_the_command_line_and_on_the_auditor_page(deployment, tmp_path: Path):
    wait_for(lambda: signed_size() == 0, timeout=60, what="beat's first checkpoint, of the empty log")
    team = Team.objects.create(name="Litigation")
    analyst, operator = person("alice", "analyst", team), person("oscar", "operator")
    jobs = []
    for number in range(100):
        if number in (40, 70):
            suspend_inference(operator, f"Drill {number}")
            with pytest.raises(SubmissionError, match="suspended"):
                submit_job(analyst, team, "C-1", "legal", "Refused while suspended?", generation=SHORT)
            resume_inference(operator, "Drill over")
        job = submit_job(analyst, team, f"C-{number % 7}", "legal", f"Question {number}?", generation=SHORT)
        if number % 10 == 3:
            cancel_job(job)
        jobs.append(job)
    wait_for(lambda: Job.objects.exclude(status__in=Job.FINISHED).count() == 0, timeout=300, what="all 100 jobs")
    assert Job.objects.filter(status=Job.SUCCEEDED).count() >= 85
    assert Job.objects.filter(status=Job.CANCELLED).count() >= 10

    key = tmp_path / "glassbox.vkey"
    key.write_text(public_verifier_key())
    for run in RunRecord.objects.order_by("pk")[:3]:
        bundle = tmp_path / f"run-{run.pk}.json"
        call_command("export_bundle", f"run:{run.pk}", out=bundle, by="audrey")
        assert standalone.main([str(bundle), "--key", str(key)]) == 0
        exported = json.loads(bundle.read_bytes())  # format 2: the run's whole job
        assert exported["subject"] == f"job:{run.job_id}"
        assert f"run:{run.pk}" in [entry["payload"]["subject"] for entry in exported["entries"]]

    wait_for(lambda: signed_size() == tree_size(), timeout=30, what="beat's checkpoint of the whole log")
    report = verify()
    assert report.ok, [str(problem) for problem in report.problems]
    assert report.checkpoints >= 2

    auditor = Client()
    auditor.force_login(person("audrey", "auditor"))
    assert auditor.post(reverse("ledger")).status_code == 302
    run = VerificationRun.objects.get()
    wait_for(lambda: VerificationRun.objects.get(pk=run.pk).is_finished, timeout=120, what="Verify now")
    run.refresh_from_db()
    assert run.result is not None
    assert run.result.ok, run.result.message
    page = auditor.get(reverse("ledger")).content.decode()
    assert "passed" in page
    assert "UNVERIFIED" not in page
