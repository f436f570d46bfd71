"""The report-signing certificate: make a self-signed one, or show the one configured and whether it is ledgered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit_app.services.report_certificates import certificate_sha256, ledgered_certificate
from audit_app.services.report_keys import generate_certificate
from audit_app.services.report_signing import ReportSigningUnavailable, report_signer


class Command(BaseCommand):
    help = (
        "Report-signing certificate: 'generate DIR [--name NAME] [--days N]' writes a self-signed key (mode 0600) "
        "and certificate; 'show' describes the configured one."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        generate = actions.add_parser("generate", help="a new key and self-signed certificate in DIR")
        generate.add_argument("directory", type=Path)
        generate.add_argument("--name", default="Glassbox report signing", help="the certificate's common name")
        generate.add_argument("--days", type=int, default=3650, help="how long it is valid (default ten years)")
        actions.add_parser("show", help="the configured certificate, its SHA-256 and its ledger entry")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "generate":
            self._generate(options["directory"], options["name"], options["days"])
        else:
            self._show()

    def _generate(self, directory: Path, name: str, days: int) -> None:
        if days < 1:
            raise CommandError("--days must be 1 or more.", returncode=2)
        try:
            key, cert = generate_certificate(directory, name, days)
        except FileExistsError as exists:
            raise CommandError(f"{exists} exists; a signing key is never overwritten.", returncode=2) from None
        except ValueError as refused:
            raise CommandError(str(refused), returncode=2) from None
        except OSError as error:
            raise CommandError(f"Cannot write into {directory} ({error.strerror}).", returncode=2) from None
        self.stdout.write(f"Wrote {key} (the private key, mode 0600) and {cert}.")
        self.stdout.write(f"Set GLASSBOX_REPORT_SIGNING_KEY_FILE={key} and GLASSBOX_REPORT_SIGNING_CERT_FILE={cert}.")

    def _show(self) -> None:
        try:
            signer = report_signer()
        except ReportSigningUnavailable as refused:
            raise CommandError(str(refused), returncode=2) from None
        certificate = signer.certificate
        self.stdout.write(f"Subject: {certificate.subject.rfc4514_string()}")
        self.stdout.write(f"Issuer: {certificate.issuer.rfc4514_string()}")
        self.stdout.write(
            f"Valid: {certificate.not_valid_before_utc:%Y-%m-%d} to {certificate.not_valid_after_utc:%Y-%m-%d}"
        )
        self.stdout.write(f"SHA-256: {certificate_sha256(certificate)}")
        self.stdout.write(f"Timestamps: {signer.tsa_url or 'none (PAdES B-B)'}")
        row = ledgered_certificate(certificate)
        self.stdout.write(
            f"Ledgered: report_certificate:{row.pk}, at the first export it signed ({row.at:%Y-%m-%d %H:%M} UTC)"
            if row is not None
            else "Ledgered: not yet; the first report export ledgers it"
        )
