"""``python standalone.py report.pdf --key glassbox.vkey``: the auditor's check of a signed report, with the ledger's
public key as the only thing trusted.

A genuine report verifies (exit 0, one sentence). Each way of passing off a changed report is refused with its own
sentence (exit 1): a changed byte in the body, a changed byte in the embedded bundle, another job's genuine bundle
put in (re-signed with the organisation's own key, or not re-signed), a body altered and re-signed with someone
else's certificate, a second signature or bytes added after the signature, and pages without the record hash.
Without pyHanko, pikepdf or pypdf the verifier says so (exit 2) and bundles still verify.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pikepdf
import pytest
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from audit_app.ledger import standalone
from audit_app.ledger.signer import public_verifier_key
from audit_app.models import Job, Team
from audit_app.services.exports import export_job
from audit_app.services.report_certificates import ledger_certificate
from audit_app.services.report_content import report_context
from audit_app.services.report_pdf import BUNDLE_NAME, GLASSBOX_NS, archival_pdf
from audit_app.services.report_signing import report_signer, sign_pdf
from audit_app.services.reports import ProducedReport, produce_report
from audit_app.services.review import SignOffRefused, sign_off
from audit_app.services.submission import submit_job
from tests.factories import FinishedJobFactory, signoff_form
from tests.ledger.evidence import SHORT, Evidence, make_evidence
from tests.people import assign, make_user
from tests.reports.signed import embedded_bundle, run_verifier, self_signed, sign_again, unsigned, with_bundle

pytestmark = pytest.mark.django_db


@pytest.fixture
def evidence() -> Evidence:
    return make_evidence()


@pytest.fixture
def report(evidence: Evidence) -> ProducedReport:
    return produce_report(evidence.run.job, evidence.user)


def verdict(pdf: bytes, folder: Path, **options: str) -> tuple[int, str]:
    done = run_verifier(pdf, public_verifier_key(), folder, **options)
    said = (done.stdout + done.stderr).strip()
    assert said.count("\n") == 0, f"more than one line: {said}"
    return done.returncode, said


def test_the_verifier_and_the_report_agree_on_names():
    assert standalone.REPORT_BUNDLE_NAME == BUNDLE_NAME
    assert standalone.GLASSBOX_XMP == GLASSBOX_NS


def test_a_genuine_report_verifies_with_the_public_key_alone(report: ProducedReport, evidence: Evidence, tmp_path):
    status, said = verdict(report.pdf, tmp_path)
    assert status == 0, said
    assert said.startswith("VALID: The report is signed over its whole file by CN=Glassbox test organisation")
    assert f"the run record {evidence.run.record_sha256} that its embedded bundle proves" in said
    assert f"of job:{evidence.run.job_id} (" in said


def test_a_changed_byte_in_the_body_breaks_the_signature(report: ProducedReport, evidence: Evidence, tmp_path):
    # One hex digit of the record hash in the XMP metadata (stored uncompressed, so one byte is one character).
    at = report.pdf.index(b"<gbx:RecordSHA256>") + len(b"<gbx:RecordSHA256>") + 10
    altered = bytearray(report.pdf)
    altered[at] = ord("0") if altered[at] != ord("0") else ord("1")
    status, said = verdict(bytes(altered), tmp_path)
    assert status == 1
    assert said == (
        "INVALID: The PDF was changed after it was signed: its signature no longer matches its bytes, and its "
        "embedded bundle, on its own, still verifies."
    )


def test_a_changed_byte_in_the_embedded_bundle_is_named_too(report: ProducedReport, tmp_path):
    bundle = embedded_bundle(report.pdf)
    at = bundle.index(b'"leaf_hash":"') + len(b'"leaf_hash":"') + 5
    changed = bytearray(bundle)
    changed[at] = ord("0") if changed[at] != ord("0") else ord("1")
    status, said = verdict(with_bundle(report.pdf, bytes(changed)), tmp_path)
    assert status == 1
    assert said.startswith(
        "INVALID: The PDF was changed after it was signed: its signature no longer matches its bytes, and its "
        "embedded bundle does not verify either ("
    )
    assert "does not hash to its stated leaf hash" in said


def test_a_changed_byte_inside_the_compressed_bundle_stream(report: ProducedReport, tmp_path):
    with pikepdf.open(io.BytesIO(report.pdf)) as document:
        raw = document.attachments[BUNDLE_NAME].obj.EF.F.read_raw_bytes()
    at = report.pdf.index(raw) + len(raw) // 2
    altered = bytearray(report.pdf)
    altered[at] ^= 0x20
    status, said = verdict(bytes(altered), tmp_path)
    assert status == 1
    assert said.startswith(
        "INVALID: The PDF was changed after it was signed: its signature no longer matches its bytes"
    )


def other_jobs_bundle(evidence: Evidence) -> tuple[bytes, Job]:
    job = Job.objects.get(submission=evidence.bare)
    return export_job(job, evidence.user), job


def test_another_jobs_bundle_re_signed_with_the_organisations_key_does_not_match_the_pages(
    report: ProducedReport, evidence: Evidence, tmp_path
):
    other, job = other_jobs_bundle(evidence)
    # Someone with the organisation's signing key puts another job's genuine bundle in and signs again.
    swapped = sign_pdf(with_bundle(report.pdf, other, drop_signature=True))
    status, said = verdict(swapped, tmp_path)
    assert status == 1
    submission = json.loads(other)["entries"][0]["payload"]["record_sha256"]
    assert said == (
        f"INVALID: The report's pages show record hash {evidence.run.record_sha256}, but its embedded bundle proves "
        f"the submission record {submission}: the pages and the evidence do not belong together."
    )
    assert json.loads(other)["subject"] == f"job:{job.pk}"


def test_another_jobs_bundle_without_signing_again_breaks_the_signature(
    report: ProducedReport, evidence: Evidence, tmp_path
):
    other, _ = other_jobs_bundle(evidence)
    status, said = verdict(with_bundle(report.pdf, other), tmp_path)
    assert status == 1
    assert said.startswith("INVALID: The PDF was changed after it was signed")
    assert said.endswith("its embedded bundle, on its own, still verifies.")


def test_a_body_altered_and_re_signed_with_another_certificate_is_refused(report: ProducedReport, tmp_path):
    mallory = self_signed(tmp_path / "mallory", "Glassbox test organisation report signing")  # even the same name
    with pikepdf.open(io.BytesIO(report.pdf)) as document:
        unsigned(document)
        # A filled box over the first page: the report no longer reads as exported.
        document.pages[0].contents_add(pikepdf.Stream(document, b"q 1 0 0 rg 40 40 300 120 re f Q"), prepend=False)
        out = io.BytesIO()
        document.save(out)
    forged = sign_pdf(out.getvalue(), mallory)
    status, said = verdict(forged, tmp_path)
    assert status == 1
    assert said.startswith("INVALID: The PDF is signed by a certificate (CN=Glassbox test organisation report signing")
    assert said.endswith(
        "that its bundle does not hold as a ledgered report-signing certificate, so it was signed by someone other "
        "than the organisation."
    )


def test_a_second_signature_after_export_is_refused(report: ProducedReport, tmp_path):
    mallory = self_signed(tmp_path / "mallory", "Mallory")
    # pyHanko itself refuses to sign after a certification that allows no changes; a tool that does not care
    # would drop the permission first.
    with pikepdf.open(io.BytesIO(report.pdf)) as document:
        del document.Root["/Perms"]
        out = io.BytesIO()
        document.save(out)
    status, said = verdict(sign_again(out.getvalue(), mallory), tmp_path)
    assert status == 1
    assert said == (
        "INVALID: The PDF carries 2 signatures where a Glassbox report carries one: it was signed again after export."
    )


def test_bytes_added_after_the_signature_are_refused(report: ProducedReport, tmp_path):
    # An incremental update that redefines the document's title, without signing it.
    with pikepdf.open(io.BytesIO(report.pdf)) as document:
        info, root = document.trailer.Info.objgen[0], document.Root.objgen[0]
        size = int(document.trailer.Size)
    start = report.pdf.rindex(b"startxref") + len(b"startxref")
    previous = int(report.pdf[start:].split()[0])
    update = f"\n{info} 0 obj\n<< /Title (Approved) /Producer (WeasyPrint) >>\nendobj\n".encode()
    offset = len(report.pdf) + 1
    trailer = f"<< /Size {size} /Root {root} 0 R /Info {info} 0 R /Prev {previous} >>"
    xref = f"xref\n{info} 1\n{offset:010d} 00000 n \ntrailer\n{trailer}\n"
    appended = report.pdf + update + xref.encode() + f"startxref\n{len(report.pdf) + len(update)}\n%%EOF\n".encode()
    status, said = verdict(appended, tmp_path)
    assert status == 1
    assert said == (
        f"INVALID: Bytes were added to the PDF after it was signed (the signature ends at byte {len(report.pdf)} of "
        f"{len(appended)}), so the file is not the report as exported."
    )


def test_pages_without_the_record_hash_are_refused(evidence: Evidence, tmp_path):
    # The product's own report with the line's label changed, signed with the organisation's key: only the
    # missing line is wrong.
    job = evidence.run.job
    ledger_certificate(report_signer().certificate, "test")  # as produce_report does before its export
    bundle = export_job(job, evidence.user)
    exported_at = timezone.now()
    context = report_context(job, json.loads(bundle), exported_at)
    html = render_to_string("report/report.html", context)
    assert f"Record hash: {evidence.run.record_sha256}" in html
    pdf = archival_pdf(
        html.replace("Record hash:", "Record:"),
        base_url=str(settings.BASE_DIR / "templates" / "report"),
        bundle=bundle,
        record_sha256=context["record_sha256"],
        test_model=context["test_model"],
        exported_at=exported_at,
    )
    status, said = verdict(sign_pdf(pdf), tmp_path)
    assert status == 1
    assert said == (
        "INVALID: The report's pages show no 'Record hash:' line, so a reader cannot tell which record they present."
    )


def test_without_the_pdf_libraries_it_says_so_and_exits_2(report: ProducedReport, tmp_path):
    done = run_verifier(
        report.pdf, public_verifier_key(), tmp_path, prelude="import sys; sys.modules['pikepdf'] = None; "
    )
    assert done.returncode == 2
    assert (
        done.stderr.strip() == "CANNOT VERIFY: Verifying a PDF report needs pikepdf: pip install pyhanko pikepdf pypdf."
    )
    # The bundle itself, taken out of the report, verifies with the standard library and cryptography alone.
    (tmp_path / "bundle.json").write_bytes(embedded_bundle(report.pdf))
    done = run_verifier(
        embedded_bundle(report.pdf),
        public_verifier_key(),
        tmp_path,
        prelude="import sys; sys.modules['pikepdf'] = sys.modules['pyhanko'] = sys.modules['pypdf'] = None; ",
        name="bundle.json",
    )
    assert done.returncode == 0, done.stderr


def test_a_signed_jobs_report_and_a_never_run_jobs_report_verify(tmp_path: Path):
    # The acceptance's case: a job with its review (a refused attempt, two approvals, a conclusion), whose every
    # entry's record hash is checked; and a job that never ran, whose report presents its submission.
    team = Team.objects.create(name="Équipe 東京")
    analyst = make_user("zoë", "analyst", team)
    rita = assign(make_user("rita", "reviewer", None), team, "clinical")
    rolf = assign(make_user("rolf", "reviewer", None), team, "clinical")
    job = FinishedJobFactory(submitter=analyst, domain="clinical")
    with pytest.raises(SignOffRefused):
        sign_off(job.pk, rolf, signoff_form(job, password="wrong"))
    sign_off(job.pk, rita, signoff_form(job, conclusion="Dosage 💊 checked; كما هو"))
    sign_off(job.pk, rolf, signoff_form(job, password="pw-rolf"))
    report = produce_report(job, rita)
    kinds = [e["payload"]["kind"] for e in json.loads(embedded_bundle(report.pdf))["entries"]]
    assert {"signing_failure", "signoff", "conclusion", "report_certificate"} <= set(kinds)
    status, said = verdict(report.pdf, tmp_path)
    assert status == 0, said
    assert f"the run record {job.run.record_sha256}" in said

    never_run = submit_job(analyst, team, "C-2", "legal", "Never run?", generation=SHORT)
    status, said = verdict(produce_report(never_run, analyst).pdf, tmp_path)
    assert status == 0, said
    assert f"the submission record {never_run.submission.record_sha256}" in said
