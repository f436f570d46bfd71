"""The report's PAdES signature: pyHanko validates it (intact, over the whole file, by the organisation's
certificate, certifying that no change is allowed), it leaves the PDF/A file as WeasyPrint wrote it, it carries an
RFC 3161 timestamp when a TSA is configured, and a key or certificate that is missing or wrong refuses the report
with a sentence before anything is ledgered."""

from __future__ import annotations

import http.server
import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pikepdf
import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings
from django.utils import timezone
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from audit_app.ledger.signer import public_verifier_key
from audit_app.models import AccessEvent, LedgerEntry, ReportCertificate
from audit_app.services.report_keys import generate_certificate
from audit_app.services.report_signing import ReportSigningFailed, ReportSigningUnavailable
from audit_app.services.reports import produce_report
from tests.ledger.evidence import make_evidence
from tests.ledger.insider import verify
from tests.reports.signed import embedded_bundle, run_verifier, self_signed

pytestmark = pytest.mark.django_db


def organisation_certificate() -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(
        x509.load_pem_x509_certificate(Path(settings.GLASSBOX["REPORT_SIGNING_CERT_FILE"]).read_bytes()).public_bytes(
            serialization.Encoding.DER
        )
    )


def only_signature(pdf: bytes):  # type: ignore[no-untyped-def]
    signatures = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    assert len(signatures) == 1
    return signatures[0]


def test_pyhanko_validates_the_signature_over_the_whole_pdfa_file():
    evidence = make_evidence()
    report = produce_report(evidence.run.job, evidence.user)
    signature = only_signature(report.pdf)
    context = ValidationContext(trust_roots=[organisation_certificate()], allow_fetching=False)
    status = validate_pdf_signature(signature, signer_validation_context=context)
    assert status.intact
    assert status.valid
    assert status.trusted
    assert status.coverage.name == "ENTIRE_FILE"
    assert status.docmdp_ok
    assert status.bottom_line
    assert signature.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"  # PAdES, not adbe.pkcs7.detached
    assert signature.docmdp_level.name == "NO_CHANGES"  # a certification signature: the report is final
    assert status.timestamp_validity is None  # no TSA configured: PAdES B-B
    # An incremental update: the PDF/A file before it is untouched, and its metadata is still what
    # report_pdf wrote (pyHanko would otherwise rewrite the XMP and name itself producer).
    signed_from = signature.byte_range[2] + signature.byte_range[3]
    assert signed_from == len(report.pdf)
    with pikepdf.open(io.BytesIO(report.pdf)) as document:
        # Still a PDF 1.7 file, as PDF/A-3 is (pyHanko would declare 2.0 for the ECDSA key); the extension says
        # which signature algorithms it uses.
        assert document.pdf_version == "1.7"
        assert "/Version" not in document.Root
        assert "/ISO_" in document.Root.Extensions
        with document.open_metadata(set_pikepdf_as_editor=False) as xmp:
            assert xmp["pdfaid:part"] == "3"
            assert xmp["pdf:Producer"] == str(document.docinfo.Producer)
            assert xmp["{http://iptc.org/std/Iptc4xmpExt/2008-02-29/}DigitalSourceType"].endswith(
                "trainedAlgorithmicMedia"
            )
        annotations = [a for page in document.pages for a in page.obj.get("/Annots", [])]
        widget = next(a for a in annotations if a.get("/FT") == "/Sig")
        assert int(widget.F) & 4  # printable, as PDF/A requires of every annotation
        assert [float(v) for v in widget.Rect] == [0, 0, 0, 0]  # invisible


def test_the_certificate_is_ledgered_once_and_every_report_of_it_carries_it():
    evidence = make_evidence()
    first = produce_report(evidence.run.job, evidence.user)
    second = produce_report(evidence.run.job, evidence.user)
    certificate = ReportCertificate.objects.get()
    assert certificate.sha256 == organisation_certificate().sha256.hex()
    assert certificate.first_used_by == evidence.user.get_username()
    assert LedgerEntry.objects.filter(subject__startswith="report_certificate:").count() == 1
    for report in (first, second):
        kinds = [e["payload"]["kind"] for e in json.loads(embedded_bundle(report.pdf))["entries"]]
        assert kinds.count("report_certificate") == 1
    assert verify().ok


@pytest.mark.parametrize(
    ("key", "cert", "sentence"),
    [
        (
            "",
            "cert",
            "Reports cannot be signed: set GLASSBOX_REPORT_SIGNING_KEY_FILE and GLASSBOX_REPORT_SIGNING_CERT_FILE "
            "(see docs/operations.md, 'Report-signing certificate').",
        ),
        (
            "missing",
            "cert",
            "Reports cannot be signed: the signing key file {key} cannot be read (No such file or directory).",
        ),
        (
            "garbage",
            "cert",
            "Reports cannot be signed: {key} does not hold a PEM private key that opens with the "
            "configured password (GLASSBOX_REPORT_SIGNING_KEY_PASSWORD).",
        ),
        ("key", "garbage", "Reports cannot be signed: {cert} does not hold a PEM certificate."),
        (
            "other",
            "cert",
            "Reports cannot be signed: the certificate in {cert} is not the certificate of the key in {key}.",
        ),
    ],
)
def test_a_refused_signing_configuration_refuses_the_report_and_ledgers_nothing(
    key: str, cert: str, sentence: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    evidence = make_evidence()
    paths = {
        "": "",
        "missing": str(tmp_path / "no-such.key"),
        "garbage": str(tmp_path / "garbage.pem"),
        "key": settings.GLASSBOX["REPORT_SIGNING_KEY_FILE"],
        "cert": settings.GLASSBOX["REPORT_SIGNING_CERT_FILE"],
        "other": str(tmp_path / "other" / "report-signing.key"),
    }
    (tmp_path / "garbage.pem").write_text("-----BEGIN NOTHING-----\nnot a key\n-----END NOTHING-----\n")
    self_signed(tmp_path / "other", "Someone else")
    monkeypatch.setitem(settings.GLASSBOX, "REPORT_SIGNING_KEY_FILE", paths[key])
    monkeypatch.setitem(settings.GLASSBOX, "REPORT_SIGNING_CERT_FILE", paths[cert])
    entries, accesses = LedgerEntry.objects.count(), AccessEvent.objects.count()
    with pytest.raises(ReportSigningUnavailable) as refused:
        produce_report(evidence.run.job, evidence.user)
    assert str(refused.value) == sentence.format(key=paths[key], cert=paths[cert])
    assert (LedgerEntry.objects.count(), AccessEvent.objects.count()) == (entries, accesses)
    assert not ReportCertificate.objects.exists()


class TimestampAuthority(http.server.BaseHTTPRequestHandler):
    """An RFC 3161 server over HTTP: pyHanko's own test TSA answers each request."""

    stamper: DummyTimeStamper

    def do_POST(self) -> None:
        request = tsp.TimeStampReq.load(self.rfile.read(int(self.headers["Content-Length"])))
        body = self.stamper.request_tsa_response(request).dump()
        self.send_response(200)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return


def dummy_tsa() -> DummyTimeStamper:
    """An RSA key (pyHanko's test TSA signs with RSA only) and a certificate for time-stamping."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Glassbox test TSA")])
    now = timezone.now()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timezone.timedelta(minutes=5))
        .not_valid_after(now + timezone.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(key, hashes.SHA256())
    )
    return DummyTimeStamper(
        tsa_cert=asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER)),
        tsa_key=asn1_keys.PrivateKeyInfo.load(
            key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        ),
    )


@pytest.fixture
def tsa_url() -> Iterator[str]:
    handler = type("Handler", (TimestampAuthority,), {"stamper": dummy_tsa()})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_with_a_tsa_the_signature_carries_an_rfc3161_timestamp(
    tsa_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    monkeypatch.setitem(settings.GLASSBOX, "REPORT_TSA_URL", tsa_url)
    evidence = make_evidence()
    before = timezone.now()
    report = produce_report(evidence.run.job, evidence.user)
    signature = only_signature(report.pdf)
    tokens = signature.signer_info["unsigned_attrs"]
    assert [attribute["type"].native for attribute in tokens] == ["signature_time_stamp_token"]  # PAdES B-T
    status = validate_pdf_signature(
        signature,
        signer_validation_context=ValidationContext(trust_roots=[organisation_certificate()], allow_fetching=False),
    )
    stamp = status.timestamp_validity
    assert stamp is not None
    assert stamp.intact
    assert stamp.valid
    assert before - timezone.timedelta(seconds=1) <= stamp.timestamp <= timezone.now()
    assert stamp.signing_cert.subject.native["common_name"] == "Glassbox test TSA"
    done = run_verifier(report.pdf, public_verifier_key(), tmp_path)
    assert done.returncode == 0, done.stderr
    assert f", timestamped {stamp.timestamp.isoformat()})" in done.stdout


def test_a_tsa_that_does_not_answer_refuses_the_report_with_a_sentence(monkeypatch: pytest.MonkeyPatch):
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    server.server_close()  # a port that was free a moment ago and now refuses connections
    monkeypatch.setitem(settings.GLASSBOX, "REPORT_TSA_URL", url)
    evidence = make_evidence()
    with pytest.raises(ReportSigningFailed) as failed:
        produce_report(evidence.run.job, evidence.user)
    assert str(failed.value).startswith(f"The report was not signed: the timestamp authority at {url} did not answer (")


@pytest.mark.parametrize("name", ["Équipe 🚀", "مراجع Legal"])
def test_a_certificate_name_validators_cannot_match_is_refused_when_configured(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # pyHanko (through asn1crypto) compares names after RFC 4518 preparation: an emoji (unassigned in Unicode 3.2)
    # or right-to-left text mixed with left-to-right makes every signature by the certificate unverifiable.
    with pytest.raises(ValueError, match=r"cannot be matched by signature validators: X\.509 Name"):
        generate_certificate(tmp_path / "refused", name)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = timezone.now()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timezone.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_file, cert_file = tmp_path / "odd.key", tmp_path / "odd.crt"
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    monkeypatch.setitem(settings.GLASSBOX, "REPORT_SIGNING_KEY_FILE", str(key_file))
    monkeypatch.setitem(settings.GLASSBOX, "REPORT_SIGNING_CERT_FILE", str(cert_file))
    evidence = make_evidence()
    entries = LedgerEntry.objects.count()
    with pytest.raises(ReportSigningUnavailable) as refused:
        produce_report(evidence.run.job, evidence.user)
    assert str(refused.value).startswith(
        f"Reports cannot be signed: the certificate in {cert_file} names 'CN={name}', which signature validators "
        "cannot match (X.509 Name"
    )
    assert LedgerEntry.objects.count() == entries
