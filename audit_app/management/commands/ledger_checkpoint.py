from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from audit_app.ledger.checkpoints import sign_now


class Command(BaseCommand):
    help = "Sign a checkpoint of the ledger now (only if it grew, unless --force)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--force", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        checkpoint = sign_now(force=options["force"])
        self.stdout.write(checkpoint.note if checkpoint else "The ledger has not grown since the last checkpoint.")
