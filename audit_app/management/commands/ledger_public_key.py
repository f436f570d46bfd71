from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from audit_app.ledger.signer import public_verifier_key


class Command(BaseCommand):
    help = "Print the ledger's public verifier key (signed-note format), to hand to auditors."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(public_verifier_key())
