"""Acceptance for [8/10] item 5 in Debian's Chromium (Playwright): an auditor exports the PDF report of a job a
reviewer signed, follows its progress (htmx, under the Content-Security-Policy), downloads it, and the standalone
verifier, run as a separate program with the public key the auditor's ledger page shows, exits 0.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import sys
from pathlib import Path

import pikepdf
import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser

from audit_app.ledger import standalone
from audit_app.models import AccessEvent, LedgerEntry, Report, ReportExport, Team
from audit_app.services.report_pdf import BUNDLE_NAME
from audit_app.services.review import sign_off
from audit_app.services.submission import submit_job
from inference import GenerationSettings
from tests.factories import signoff_form
from tests.ledger.evidence import run_job_inline
from tests.people import make_user
from tests.service.screenshots import save_screenshot
from tests.service.test_browser_csp import logged_in

pytestmark = pytest.mark.django_db(transaction=True)
QUESTION = "Does the indemnity in clause 9 survive termination of the services agreement?"


def verify_offline(target: Path, key: Path, folder: Path) -> subprocess.CompletedProcess[str]:
    """``python standalone.py <file> --key <key>``: a copy of the verifier, isolated (-I), as an auditor runs it."""
    script = Path(shutil.copy(standalone.__file__, folder / "standalone.py"))
    command = [sys.executable, "-I", str(script), str(target), "--key", str(key)]
    return subprocess.run(command, capture_output=True, text=True, cwd=folder)


def test_an_auditor_downloads_a_signed_jobs_pdf_and_the_verifier_accepts_it(
    live_server, control_worker, browser: Browser, analyst: User, reviewer: User, team: Team, tmp_path: Path
):
    make_user("audrey", "auditor", None)
    short = GenerationSettings(thinking_budget=16, answer_budget=16)
    job = submit_job(analyst, team, "LIT-2026-031", "legal", QUESTION, generation=short)
    run_job_inline(job)
    job.refresh_from_db()
    sign_off(job.pk, reviewer, signoff_form(job, reason="Clause 9 read against the termination clause."))

    watched = logged_in(browser, live_server.url, "audrey")
    page = watched.page
    page.click("nav >> text=Evidence ledger")  # the public key, as the auditor's page shows it
    (tmp_path / "glassbox.vkey").write_text(page.locator("dd code.hash").inner_text().strip())

    page.goto(f"{live_server.url}/jobs/{job.pk}/")
    page.click("#export-report")
    report = Report.objects.get()
    page.wait_for_url(f"{live_server.url}/reports/{report.pk}/")
    # htmx polls the progress fragment; the finished fragment reloads the page, which then offers the download.
    page.locator("#download-report").wait_for(timeout=90_000)
    assert save_screenshot(page, "report-ready").stat().st_size > 10_000
    with page.expect_download() as download_info:
        page.click("#download-report")
    pdf_file = tmp_path / "report.pdf"
    download_info.value.save_as(pdf_file)
    assert download_info.value.suggested_filename == report.file_name
    assert watched.csp_violations() == []

    pdf = pdf_file.read_bytes()
    export = ReportExport.objects.get()
    assert hashlib.sha256(pdf).hexdigest() == export.pdf_sha256
    assert page.locator("#report-sha256").inner_text() == export.pdf_sha256
    assert AccessEvent.objects.filter(subject=f"report:{export.pk}", actor__username="audrey").count() == 1
    assert LedgerEntry.objects.filter(subject=f"report:{export.pk}").exists()

    with pikepdf.open(io.BytesIO(pdf)) as document:
        embedded = document.attachments[BUNDLE_NAME].get_file().read_bytes()
    assert hashlib.sha256(embedded).hexdigest() == export.bundle_sha256
    target = pdf_file  # the downloaded file itself, with nothing but the key the auditor's page shows

    done = verify_offline(target, tmp_path / "glassbox.vkey", tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"job:{job.pk}" in done.stdout
