from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audit_app.ledger.signer import SigningRefused, sign_now


class Command(BaseCommand):
    help = "Sign a checkpoint of the ledger now (only if it grew, unless --force)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--force", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            checkpoint = sign_now(force=options["force"])
        except SigningRefused as refusal:
            raise CommandError(f"No checkpoint signed: {refusal}", returncode=1) from None
        self.stdout.write(checkpoint.note if checkpoint else "The ledger has not grown since the last checkpoint.")
