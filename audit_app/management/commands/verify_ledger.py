"""Recompute every leaf, record hash, checkpoint root, signature and checkpoint consistency."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audit_app.ledger.checkpoints import public_verifier_key
from audit_app.ledger.verify import LedgerProblem, verify_ledger


class Command(BaseCommand):
    help = "Verify the evidence ledger; exit 1 naming the first bad sequence number, exit 0 when all holds."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--key", help="trusted verifier key (name+id+key); default: the configured key's")

    def handle(self, *args: Any, **options: Any) -> None:
        key = options["key"] or public_verifier_key()
        try:
            report = verify_ledger(key)
        except LedgerProblem as problem:
            raise CommandError(f"Ledger verification failed: {problem}", returncode=1) from None
        self.stdout.write(report.summary())
