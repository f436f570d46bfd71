"""Recompute every leaf, record, hash column, checkpoint root, signature and consistency; list every problem."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audit_app.ledger.signer import public_verifier_key
from audit_app.ledger.verify import verify_ledger


class Command(BaseCommand):
    help = "Verify the evidence ledger; print each problem on its own line and exit 1, or exit 0 when all holds."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--key", help="trusted verifier key (name+id+key); default: the configured key's")
        parser.add_argument("--max-problems", type=int, default=100, help="problems to list (all are counted)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["max_problems"] < 1:
            raise CommandError("--max-problems must be at least 1.", returncode=2)
        key = options["key"] or public_verifier_key()
        report = verify_ledger(key, max_problems=options["max_problems"])
        for problem in report.problems:
            self.stdout.write(str(problem))
        if not report.ok:
            raise CommandError(report.summary(), returncode=1)
        self.stdout.write(report.summary())
