from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audit_app.ledger.bundles import find_entry
from audit_app.models import Job
from audit_app.services.exports import ExportRefused, export_entry, export_job


class Command(BaseCommand):
    help = (
        "Write an evidence bundle (format 2): job:N, or a ledger entry (sequence number or subject such as run:7) "
        "whose whole job, or whose own record, is bundled with all its entries."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("reference", help="job:N, a sequence number, or an entry subject (submission:3, run:7)")
        parser.add_argument("--out", type=Path, help="file to write (default: standard output)")
        parser.add_argument("--by", required=True, help="who exports (recorded in the ledger as an export event)")

    def handle(self, *args: Any, **options: Any) -> None:
        reference: str = options["reference"]
        by = f"{options['by']} (command line)"
        try:
            if reference.startswith("job:"):
                pk = reference.partition(":")[2]
                job = Job.objects.filter(pk=int(pk)).first() if pk.isdigit() else None
                if job is None:
                    raise LookupError(f"No job {pk!r}.")
                data = export_job(job, None, by)
            else:
                data = export_entry(find_entry(reference), None, by)
        except LookupError as error:
            raise CommandError(str(error), returncode=2) from None
        except ExportRefused as error:  # no signing key (2), or a log the signer refuses (1); nothing recorded
            raise CommandError(str(error), returncode=error.exit_code) from None
        if options["out"]:
            options["out"].write_bytes(data)
        else:
            sys.stdout.buffer.write(data + b"\n")
