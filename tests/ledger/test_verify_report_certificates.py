"""Report-signing certificates are evidence: ``verify_ledger`` names one INSERTed without its entry or edited after
it, a forged row is not taken for the ledgered certificate, and a certificate with an odd but valid subject
verifies clean, in the ledger and in the report it signs."""

from __future__ import annotations

import datetime
import threading
import time
from pathlib import Path

import pytest
from cryptography import x509
from django.conf import settings
from django.db import connection, transaction

from audit_app.ledger.signer import public_verifier_key
from audit_app.models import LedgerEntry, ReportCertificate
from audit_app.services.report_certificates import ledger_certificate, ledgered_certificate
from audit_app.services.report_keys import generate_certificate
from audit_app.services.reports import produce_report
from tests.forging import insert_unledgered
from tests.ledger.evidence import make_evidence
from tests.ledger.insider import named, superuser, verify
from tests.reports.signed import run_verifier

pytestmark = pytest.mark.django_db
TABLE = "audit_app_reportcertificate"


def configured() -> x509.Certificate:
    return x509.load_pem_x509_certificate(Path(settings.GLASSBOX["REPORT_SIGNING_CERT_FILE"]).read_bytes())


def test_inserted_and_edited_certificates_are_named():
    real = ledger_certificate(configured(), "operator oscar")
    forged = insert_unledgered(
        ReportCertificate(
            sha256="ab" * 32,
            subject="CN=Mallory",
            issuer="CN=Mallory",
            serial_number="1",
            not_before=real.not_before,
            not_after=real.not_after,
            pem=real.pem,
            first_used_by="mallory",
            record_sha256="0" * 64,
        )
    )
    superuser(TABLE, f"UPDATE {TABLE} SET subject = %s WHERE id = %s", "CN=Someone else", real.pk)
    report = verify()
    assert not report.ok
    assert {(TABLE, str(forged.pk)), (TABLE, str(real.pk))} <= named(report)


def test_a_forged_row_for_the_certificate_is_not_taken_for_its_entry():
    certificate = configured()
    genuine = ledger_certificate(certificate, "first")
    superuser(TABLE, f"UPDATE {TABLE} SET first_used_by = %s WHERE id = %s", "edited", genuine.pk)
    # The edited row is no longer evidence: the next export ledgers the certificate again, and that entry is used.
    again = ledger_certificate(certificate, "second")
    assert again.pk != genuine.pk
    assert ledgered_certificate(certificate) == again
    assert ledger_certificate(certificate, "third") == again  # and once ledgered, only once
    assert LedgerEntry.objects.filter(subject__startswith="report_certificate:").count() == 2


def test_an_odd_but_valid_certificate_verifies_in_the_ledger_and_in_its_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # Odd but matchable: X.509 name matching refuses emoji and mixed-direction text (test_report_signature).
    odd = 'Équipe 法务 O\'Brien, "Ltd" + \u202e<a>#1 \\;\u0301Ω \u00a0x'
    key_path, cert_path = generate_certificate(tmp_path, odd, days=1)
    monkeypatch.setitem(settings.GLASSBOX, "REPORT_SIGNING_KEY_FILE", str(key_path))
    monkeypatch.setitem(settings.GLASSBOX, "REPORT_SIGNING_CERT_FILE", str(cert_path))
    evidence = make_evidence()
    report = produce_report(evidence.run.job, evidence.user)
    row = ReportCertificate.objects.get()
    assert row.subject == x509.load_pem_x509_certificate(cert_path.read_bytes()).subject.rfc4514_string()
    assert row.not_after - row.not_before < datetime.timedelta(days=1, minutes=6)
    ledger = verify()
    assert ledger.ok, ledger.problems
    done = run_verifier(report.pdf, public_verifier_key(), tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"signed over its whole file by {row.subject} (the report-signing certificate" in done.stdout


@pytest.mark.django_db(transaction=True)
def test_two_first_exports_at_once_ledger_the_certificate_once():
    certificate = configured()
    first_inserted = threading.Event()

    def first() -> None:
        with transaction.atomic():
            ledger_certificate(certificate, "first")
            first_inserted.set()
            time.sleep(0.5)  # the second export arrives while this one has not committed
        connection.close()

    def second() -> None:
        first_inserted.wait(5)
        with transaction.atomic():
            ledger_certificate(certificate, "second")
        connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert list(ReportCertificate.objects.values_list("first_used_by", flat=True)) == ["first"]
    assert LedgerEntry.objects.filter(subject__startswith="report_certificate:").count() == 1
