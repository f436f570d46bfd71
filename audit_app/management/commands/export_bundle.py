from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from audit_app.ledger.bundles import build_bundle, bundle_bytes, find_entry
from audit_app.ledger.signer import SigningRefused
from audit_app.models import AccessEvent
from audit_app.services.access_events import record_access


class Command(BaseCommand):
    help = "Write the evidence bundle of one ledger entry (by sequence number or subject such as run:7)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("reference")
        parser.add_argument("--out", type=Path, help="file to write (default: standard output)")
        parser.add_argument("--by", required=True, help="who exports (recorded in the ledger as an export event)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            entry = find_entry(options["reference"])
        except LookupError as error:
            raise CommandError(str(error), returncode=2) from None
        # The export is recorded first, so the bundle's checkpoint is signed after it and covers it too;
        # one transaction, so an export that fails to build leaves no export event behind.
        try:
            with transaction.atomic():
                record_access(None, AccessEvent.EXPORT, entry.subject, actor_name=f"{options['by']} (command line)")
                data = bundle_bytes(build_bundle(entry))
        except ImproperlyConfigured as error:  # no signing key: say so, and keep no export event
            raise CommandError(str(error), returncode=2) from None
        except SigningRefused as error:  # the log is inconsistent: no bundle under a checkpoint we will not sign
            raise CommandError(f"No bundle exported: {error}", returncode=1) from None
        if options["out"]:
            options["out"].write_bytes(data)
        else:
            sys.stdout.buffer.write(data + b"\n")
