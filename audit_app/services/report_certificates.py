"""The report-signing certificate as evidence: ledgered once, at the first export it signs.

``standalone.py`` accepts a report's signature only when its signer certificate is ledgered (see
``models/report_certificates.py``), so the entry must be in the log before the bundle embedded in that
first report is built: ``produce_report`` calls this inside the export's transaction.
"""

from __future__ import annotations

import datetime
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.db import connection, transaction

from audit_app.models import ReportCertificate
from audit_app.services.evidence import check_rows
from audit_app.services.store import store_evidence

# Two first exports at once must not ledger the same certificate twice: the second waits for the first's
# commit (a transaction-level advisory lock), then finds its entry.
_LOCK = int.from_bytes(hashlib.sha256(b"glassbox report certificate").digest()[:8], "big", signed=True)


def certificate_sha256(certificate: x509.Certificate) -> str:
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()


def ledger_certificate(certificate: x509.Certificate, actor_name: str) -> ReportCertificate:
    """The certificate's ledgered row: the one already in the ledger, else one written now in the caller's
    transaction. A row without its entry (INSERTed from outside) is not taken for one: it is not evidence."""
    digest = certificate_sha256(certificate)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK])
        rows: list[ReportCertificate] = list(ReportCertificate.objects.filter(sha256=digest).order_by("id"))
        checked = check_rows("report_certificate", rows)
        for row in rows:
            if checked[row.pk].verified:
                return row
        return store_evidence(
            ReportCertificate(
                sha256=digest,
                subject=certificate.subject.rfc4514_string(),
                issuer=certificate.issuer.rfc4514_string(),
                serial_number=format(certificate.serial_number, "x"),
                not_before=certificate.not_valid_before_utc.astimezone(datetime.UTC),
                not_after=certificate.not_valid_after_utc.astimezone(datetime.UTC),
                pem=certificate.public_bytes(serialization.Encoding.PEM).decode(),
                first_used_by=actor_name,
            )
        )


def ledgered_certificate(certificate: x509.Certificate) -> ReportCertificate | None:
    """The ledgered row of ``certificate``, or None before its first report (for ``manage.py report_certificate``)."""
    rows: list[ReportCertificate] = list(
        ReportCertificate.objects.filter(sha256=certificate_sha256(certificate)).order_by("id")
    )
    checked = check_rows("report_certificate", rows)
    return next((row for row in rows if checked[row.pk].verified), None)
