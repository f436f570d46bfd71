"""The PDF/A-3 primitive and the report pipeline end to end, read back with pikepdf and pdftotext."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess

import pikepdf
import pytest

from audit_app.services.report_pdf import AI_SOURCE_TYPE, BUNDLE_NAME, GLASSBOX_NS, IPTC_EXT
from audit_app.services.reports import produce_report
from tests.ledger.evidence import make_evidence

pytestmark = pytest.mark.django_db


def pdf_text(pdf: bytes) -> str:
    return subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()


def test_report_is_pdfa3_with_the_bundle_embedded_as_data_and_the_ai_marking() -> None:
    evidence = make_evidence()
    report = produce_report(evidence.run.job, evidence.user)

    with pikepdf.open(io.BytesIO(report.pdf)) as document:
        with document.open_metadata(set_pikepdf_as_editor=False) as xmp:
            assert xmp["pdfaid:part"] == "3"
            assert xmp["pdfaid:conformance"] == "B"
            assert xmp[f"{{{IPTC_EXT}}}DigitalSourceType"] == AI_SOURCE_TYPE
            assert xmp[f"{{{GLASSBOX_NS}}}AIGenerated"] == "True"
            assert xmp[f"{{{GLASSBOX_NS}}}RecordSHA256"] == evidence.run.record_sha256
        spec = document.attachments[BUNDLE_NAME]
        assert spec.obj.AFRelationship == "/Data"
        assert spec.obj in list(document.Root.AF)
        embedded = spec.get_file().read_bytes()
    assert hashlib.sha256(embedded).hexdigest() == report.bundle_sha256
    bundle = json.loads(embedded)
    assert bundle["format"] == "glassbox-evidence-bundle/2"
    assert bundle["subject"] == f"job:{evidence.run.job_id}"
    assert f"Record hash: {evidence.run.record_sha256}" in pdf_text(report.pdf)
    assert report.sha256 == hashlib.sha256(report.pdf).hexdigest()


def test_signed_report_keeps_what_pdfa3_requires_that_can_be_checked_without_a_validator() -> None:
    """No PDF/A validator (veraPDF is Java, not packaged here) runs in CI: these are the rules of ISO 19005-3
    that a wrong step (signing, metadata rewriting, a font left out) would break, checked on the signed file."""
    evidence = make_evidence()
    report = produce_report(evidence.run.job, evidence.user)
    with pikepdf.open(io.BytesIO(report.pdf)) as document:
        assert document.check_pdf_syntax() == []
        assert not document.is_encrypted
        assert document.pdf_version <= "1.7"
        intents = list(document.Root.OutputIntents)
        assert [str(intent.S) for intent in intents] == ["/GTS_PDFA1"]
        assert intents[0].DestOutputProfile.read_bytes()[36:40] == b"acsp"  # an ICC profile
        assert "/JavaScript" not in document.Root.get("/Names", {})
        assert str(document.docinfo.Producer) == document.open_metadata()["pdf:Producer"]
        for page in document.pages:
            for annotation in page.get("/Annots", []):
                assert int(annotation.F) & 4, "every annotation is printable (the signature widget too)"
        spec = document.attachments[BUNDLE_NAME].obj
        assert str(spec.UF) == BUNDLE_NAME
        assert str(spec.Desc)
        assert str(spec.EF.F.Subtype) == "/application/json"
        assert "/ModDate" in spec.EF.F.Params
    fonts = subprocess.run(["pdffonts", "-"], input=report.pdf, capture_output=True, check=True).stdout.decode()
    rows = fonts.splitlines()[2:]
    assert rows
    assert all(row.split()[-5] == "yes" for row in rows), fonts  # every font embedded
