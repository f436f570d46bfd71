"""The organisation's report-signing certificates, as ledgered evidence.

A signed report is trusted through the ledger alone: the verifier accepts a PDF's PAdES signature only
when its signer certificate is one of these rows' entries, proven under a checkpoint signed by the ledger
key. So an auditor needs no certificate authority and no extra file, and a report re-signed with anyone
else's certificate is refused. One row per certificate, written at the first export that signs with it.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from audit_app.models.write_once import WriteOnceModel


class ReportCertificate(WriteOnceModel):
    """A certificate the organisation signs reports with (PEM), named by the SHA-256 of its DER bytes."""

    evidence_kind = "report_certificate"

    sha256 = models.CharField(max_length=64, db_index=True)  # of the DER certificate: what the verifier compares
    subject = models.CharField(max_length=2000)  # RFC 4514, for people
    issuer = models.CharField(max_length=2000)
    serial_number = models.CharField(max_length=100)  # hex: serials exceed JSON's safe integers
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    pem = models.TextField()
    first_used_by = models.CharField(max_length=200)  # who exported the first report it signed
    at = models.DateTimeField(default=timezone.now)
    record_sha256 = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"{self.subject} ({self.sha256[:12]})"
