from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audit_app.ledger.bundles import build_bundle, bundle_bytes, find_entry


class Command(BaseCommand):
    help = "Write the evidence bundle of one ledger entry (by sequence number or subject such as run:7)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("reference")
        parser.add_argument("--out", type=Path, help="file to write (default: standard output)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            data = bundle_bytes(build_bundle(find_entry(options["reference"])))
        except LookupError as error:
            raise CommandError(str(error), returncode=2) from None
        if options["out"]:
            options["out"].write_bytes(data)
        else:
            sys.stdout.buffer.write(data + b"\n")
