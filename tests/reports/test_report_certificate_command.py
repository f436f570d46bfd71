"""``manage.py report_certificate``: operators make a self-signed certificate (never overwriting a key) and check
which certificate is configured and whether the ledger holds it yet."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from audit_app.models import ReportCertificate
from audit_app.services.reports import produce_report
from tests.ledger.evidence import make_evidence

pytestmark = pytest.mark.django_db


def command(*args: str) -> str:
    out = io.StringIO()
    call_command("report_certificate", *args, stdout=out)
    return out.getvalue()


def test_generate_writes_a_private_key_and_a_certificate_and_never_overwrites(tmp_path: Path):
    said = command("generate", str(tmp_path / "keys"), "--name", "Kanzlei Müller report signing", "--days", "30")
    key, cert = tmp_path / "keys" / "report-signing.key", tmp_path / "keys" / "report-signing.crt"
    assert said.splitlines() == [
        f"Wrote {key} (the private key, mode 0600) and {cert}.",
        f"Set GLASSBOX_REPORT_SIGNING_KEY_FILE={key} and GLASSBOX_REPORT_SIGNING_CERT_FILE={cert}.",
    ]
    assert key.stat().st_mode & 0o777 == 0o600
    before = key.read_bytes()
    with pytest.raises(CommandError, match="exists; a signing key is never overwritten") as refused:
        command("generate", str(tmp_path / "keys"))
    assert refused.value.returncode == 2
    assert key.read_bytes() == before
    with pytest.raises(CommandError, match="--days must be 1 or more"):
        command("generate", str(tmp_path / "other"), "--days", "0")


def test_show_names_the_configured_certificate_and_its_entry(monkeypatch: pytest.MonkeyPatch):
    shown = command("show")
    assert "Subject: CN=Glassbox test organisation report signing" in shown
    assert "Ledgered: not yet; the first report export ledgers it" in shown
    evidence = make_evidence()
    produce_report(evidence.run.job, evidence.user)
    row = ReportCertificate.objects.get()
    shown = command("show")
    assert f"SHA-256: {row.sha256}" in shown
    assert f"Ledgered: report_certificate:{row.pk}, at the first export it signed" in shown
    monkeypatch.setitem(settings.GLASSBOX, "REPORT_SIGNING_KEY_FILE", "")
    with pytest.raises(CommandError, match=r"^Reports cannot be signed: set GLASSBOX_REPORT_SIGNING_KEY_FILE"):
        command("show")
