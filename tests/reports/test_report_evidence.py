"""A finished PDF export is evidence: ``report:<id>`` names the signed PDF's SHA-256, later bundles of the job
carry it and its downloads, ``verify_ledger`` names a forged or edited export, and the command line refuses bad
input with a sentence and stores nothing."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from audit_app.ledger import standalone
from audit_app.ledger.signer import public_verifier_key
from audit_app.models import AccessEvent, LedgerEntry, ReportExport
from audit_app.services.access_events import record_access
from audit_app.services.exports import export_job
from tests.forging import insert_unledgered
from tests.ledger.evidence import make_evidence, person
from tests.ledger.insider import named, superuser, verify

pytestmark = pytest.mark.django_db


def test_the_command_writes_the_pdf_and_then_ledgers_its_sha256(tmp_path: Path):
    evidence = make_evidence()
    job = evidence.run.job
    out = tmp_path / "report.pdf"
    call_command("export_report", str(job.pk), out=out, by="audrey")
    export = ReportExport.objects.get()
    pdf = out.read_bytes()
    assert export.pdf_sha256 == hashlib.sha256(pdf).hexdigest()
    assert export.pdf_size == len(pdf)
    assert export.presented_record_sha256 == evidence.run.record_sha256
    assert export.actor is None
    assert export.actor_name == "audrey (command line)"
    assert not list(tmp_path.glob(".*.tmp"))
    # The bundle export inside the PDF was ledgered first; the report's own entry comes after it.
    bundle_export = LedgerEntry.objects.filter(kind="access").order_by("-sequence").first()
    report_entry = LedgerEntry.objects.get(subject=f"report:{export.pk}")
    assert bundle_export is not None
    assert bundle_export.sequence < report_entry.sequence
    assert verify().ok


def test_a_later_bundle_of_the_job_holds_its_reports_and_their_downloads_and_verifies(tmp_path: Path):
    evidence = make_evidence()
    job = evidence.run.job
    call_command("export_report", f"job:{job.pk}", out=tmp_path / "r.pdf", by="audrey")
    export = ReportExport.objects.get()
    download = record_access(evidence.user, AccessEvent.EXPORT, f"report:{export.pk}")
    bundle = export_job(job, evidence.user)
    subjects = {entry["payload"]["subject"] for entry in json.loads(bundle)["entries"]}
    assert {f"report:{export.pk}", f"access:{download.pk}"} <= subjects
    report_entry = next(e for e in json.loads(bundle)["entries"] if e["payload"]["subject"] == f"report:{export.pk}")
    assert (
        report_entry["payload"]["record"]["pdf_sha256"] == hashlib.sha256((tmp_path / "r.pdf").read_bytes()).hexdigest()
    )
    (tmp_path / "bundle.json").write_bytes(bundle)
    (tmp_path / "key").write_text(public_verifier_key())
    verifier = [sys.executable, standalone.__file__, str(tmp_path / "bundle.json"), "--key", str(tmp_path / "key")]
    result = subprocess.run(verifier, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_another_jobs_report_entry_does_not_pass_for_this_jobs():
    payloads = [
        {"kind": "submission", "subject": "submission:1", "job": 1, "record": {}},
        {"kind": "report", "subject": "report:9", "record": {"job_id": 2}},
    ]
    with pytest.raises(standalone.VerificationError, match="not about job:1"):
        standalone.check_entries_belong("job:1", payloads)


def test_forged_and_edited_report_exports_are_named(tmp_path: Path):
    evidence = make_evidence()
    call_command("export_report", str(evidence.run.job_id), out=tmp_path / "r.pdf", by="audrey")
    real = ReportExport.objects.get()
    forged = insert_unledgered(
        ReportExport(
            job=evidence.run.job,
            pdf_sha256="1" * 64,
            pdf_size=10,
            bundle_sha256="2" * 64,
            presented_record_sha256=evidence.run.record_sha256,
            checkpoint_size=1,
            exported_at=real.exported_at,
            actor_name="mallory",
            record_sha256="0" * 64,
        )
    )
    superuser(
        "audit_app_reportexport", "UPDATE audit_app_reportexport SET pdf_sha256 = %s WHERE id = %s", "3" * 64, real.pk
    )
    report = verify()
    assert not report.ok
    assert {("audit_app_reportexport", str(forged.pk)), ("audit_app_reportexport", str(real.pk))} <= named(report)


def test_odd_but_valid_exporters_verify_clean(tmp_path: Path):
    evidence = make_evidence()
    auditor = person("o'brien.مراجع‮", "auditor")
    call_command("export_report", str(evidence.run.job_id), out=tmp_path / "é 東京.pdf", by="Zoë «test» 🙂")
    call_command("export_report", str(evidence.run.job_id), out=tmp_path / "again.pdf", by=auditor.username)
    # The job that never ran: the report presents its submission's record.
    bare_job = evidence.bare.job
    call_command("export_report", str(bare_job.pk), out=tmp_path / "bare.pdf", by="audrey")
    assert ReportExport.objects.get(job=bare_job).presented_record_sha256 == evidence.bare.record_sha256
    report = verify()
    assert report.ok, report.problems


@pytest.mark.parametrize("job", ["999999", "job:x", "-1"])
def test_the_command_refuses_an_unknown_job_with_a_sentence_and_stores_nothing(tmp_path: Path, job: str):
    make_evidence()
    entries = LedgerEntry.objects.count()
    with pytest.raises(CommandError, match="No job") as error:
        call_command("export_report", job, out=tmp_path / "r.pdf", by="audrey")
    assert error.value.returncode == 2
    assert LedgerEntry.objects.count() == entries
    assert not ReportExport.objects.exists()
    assert not list(tmp_path.iterdir())


def test_the_command_without_a_signing_key_stores_nothing_and_writes_nothing(settings, tmp_path: Path):
    evidence = make_evidence()
    entries = LedgerEntry.objects.count()
    with (
        override_settings(GLASSBOX=settings.GLASSBOX | {"LEDGER_KEY": ""}),
        pytest.raises(CommandError, match="No bundle exported") as error,
    ):
        call_command("export_report", str(evidence.run.job_id), out=tmp_path / "r.pdf", by="audrey")
    assert error.value.returncode == 2
    assert LedgerEntry.objects.count() == entries
    assert not ReportExport.objects.exists()
    assert not list(tmp_path.iterdir())


def test_the_command_refuses_a_missing_folder(tmp_path: Path):
    evidence = make_evidence()
    with pytest.raises(CommandError, match="is not a folder"):
        call_command("export_report", str(evidence.run.job_id), out=tmp_path / "nope" / "r.pdf", by="audrey")
    assert not ReportExport.objects.exists()


def test_a_report_row_re_pointed_at_another_jobs_export_is_not_served(tmp_path: Path):
    """The app role may UPDATE ``audit_app_report``: pointing job A's report at job B's ledgered export and file
    (whose SHA-256 matches) must not hand B's PDF to whoever may see A."""
    from audit_app.models import Report
    from audit_app.services.report_exports import NotReady, report_file

    evidence = make_evidence()
    theirs = evidence.run.job
    out = tmp_path / "theirs.pdf"
    call_command("export_report", str(theirs.pk), out=out, by="audrey")
    export = ReportExport.objects.get()
    mine = evidence.bare.job
    row = Report.objects.create(
        job=mine, requested_by=evidence.user, status=Report.READY, export=export, path=str(out), size=export.pdf_size
    )
    before = AccessEvent.objects.count()
    with pytest.raises(NotReady, match=f"ledgered for job {theirs.pk}"):
        report_file(row, evidence.user)
    assert AccessEvent.objects.count() == before  # nothing served, nothing recorded as served
    Report.objects.filter(pk=row.pk).update(job=theirs)
    assert report_file(Report.objects.get(pk=row.pk), evidence.user) == out  # the genuine pairing is served
