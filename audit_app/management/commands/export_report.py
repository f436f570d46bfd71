from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audit_app.models import Job
from audit_app.services.exports import ExportRefused
from audit_app.services.report_content import ReportRefused
from audit_app.services.report_exports import export_report_file


class Command(BaseCommand):
    help = (
        "Write a job's signed PDF/A-3 report with its evidence bundle embedded, rendered in this process; "
        "the export and then the PDF's SHA-256 are recorded in the ledger."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("job", help="the job's id (N or job:N)")
        parser.add_argument("--out", type=Path, required=True, help="the PDF file to write")
        parser.add_argument("--by", required=True, help="who exports (recorded in the ledger)")

    def handle(self, *args: Any, **options: Any) -> None:
        pk = str(options["job"]).removeprefix("job:")
        job = Job.objects.filter(pk=int(pk)).first() if pk.isdigit() else None
        if job is None:
            raise CommandError(f"No job {options['job']!r}; give a job id such as 12 or job:12.", returncode=2)
        out: Path = options["out"]
        if not out.parent.is_dir():
            raise CommandError(f"{out.parent} is not a folder; nothing was exported.", returncode=2)
        try:
            export = export_report_file(job, out, f"{options['by']} (command line)")
        except ExportRefused as error:  # no signing key (2), or a log the signer refuses (1); nothing recorded
            raise CommandError(str(error), returncode=error.exit_code) from None
        except ReportRefused as error:  # the job's evidence does not check out; nothing recorded
            raise CommandError(str(error), returncode=1) from None
        self.stdout.write(
            f"Wrote {out} ({export.pdf_size} bytes, sha256 {export.pdf_sha256}), ledgered as report:{export.pk}."
        )
