"""Create the ledger's Ed25519 signing key, readable by its owner only, and print the verifier key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from audit_app.ledger.signed_note import generate_key_file, verifier_key


class Command(BaseCommand):
    help = "Write a new Ed25519 ledger key to PATH (mode 0600) and print its public verifier key."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("path", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            key = generate_key_file(options["path"])
        except FileExistsError:
            raise CommandError(f"{options['path']} exists; a signing key is never overwritten.", returncode=2) from None
        except OSError as error:
            raise CommandError(f"Cannot write {options['path']} ({error.strerror}).", returncode=2) from None
        self.stdout.write(f"Wrote {options['path']}. Set GLASSBOX_LEDGER_KEY_FILE={options['path']}.")
        self.stdout.write(
            f"Verifier key (publish it to auditors): {verifier_key(key, settings.GLASSBOX['LEDGER_ORIGIN'])}"
        )
