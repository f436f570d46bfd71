"""The operator's and the auditor's daily paths in Debian's Chromium, each saving one screenshot.

Operator: every job's metadata (no content), the workers with their loaded model, the kill switch.
Auditor: the ledger browser with a filter, a record's access history, Verify now, and a job's bundle
downloaded from the job page and checked by the standalone verifier alone.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser

from audit_app.ledger import standalone
from audit_app.models import AccessEvent, Job, LedgerEntry, Team
from audit_app.services.submission import submit_job
from inference import GenerationSettings
from tests.ledger.evidence import run_job_inline
from tests.people import make_user
from tests.service.processes import wait_for
from tests.service.screenshots import save_screenshot
from tests.service.test_browser_csp import logged_in

pytestmark = pytest.mark.django_db(transaction=True)
SHORT = GenerationSettings(thinking_budget=24, answer_budget=24, seed=0)
QUESTION = "Is the indemnity in clause 9 capped at the fees paid?"


def test_operator_sees_jobs_workers_and_uses_the_kill_switch(
    live_server, worker, browser: Browser, analyst: User, operator: User, team: Team
):
    job = submit_job(analyst, team, "LIT-2026-014", "legal", QUESTION, generation=SHORT)
    wait_for(lambda: Job.objects.get(pk=job.pk).status == Job.SUCCEEDED, timeout=90, what="the job to finish")
    waiting = submit_job(analyst, team, "LIT-2026-015", "finance", QUESTION + " (second)", generation=SHORT)
    watched = logged_in(browser, live_server.url, "oscar")
    page = watched.page
    page.click("nav >> text=All jobs")
    assert page.locator(f"tr[data-job='{job.pk}'] .status").inner_text() == "succeeded"
    assert page.locator(f"tr[data-job='{waiting.pk}']").count() == 1
    assert "Litigation" in page.locator(f"tr[data-job='{job.pk}']").inner_text()
    assert QUESTION[:20] not in page.content()
    page.click("nav >> text=Workers")
    row = page.locator("table.workers tbody tr").first
    assert "glassbox/tiny-magistral-test-model" in row.inner_text()
    assert "TEST MODEL" in row.inner_text()
    assert page.locator("tr[data-stale]").count() == 0
    page.click("nav >> text=Kill switch")
    page.fill("#id_reason", "Model update tonight")
    page.click("button:has-text('Suspend inference')")
    page.get_by_text("Inference is suspended since").wait_for()
    page.click("nav >> text=All jobs")
    assert page.get_by_text("Model update tonight").is_visible()
    assert watched.csp_violations() == []
    assert save_screenshot(page, "role-operator").stat().st_size > 10_000


def test_auditor_browses_verifies_downloads_and_checks_a_bundle_offline(
    live_server, control_worker, browser: Browser, analyst: User, team: Team, tmp_path: Path
):
    make_user("audrey", "auditor", None)
    job = submit_job(analyst, team, "LIT-2026-014", "legal", QUESTION, generation=SHORT)
    run_job_inline(job)
    submit_job(analyst, team, "LIT-2026-016", "legal", "Another question?", generation=SHORT)
    watched = logged_in(browser, live_server.url, "audrey")
    page = watched.page
    # Verify now: the control worker runs it, htmx polls, the page reloads with the ledgered result.
    page.click("nav >> text=Evidence ledger")
    key = page.locator("dd code.hash").inner_text().strip()
    page.click("button:has-text('Verify the whole ledger now')")
    page.get_by_text("Ledger verified").wait_for(timeout=90_000)
    # The job page: read it (a ledgered view), then download its bundle.
    page.goto(f"{live_server.url}/jobs/{job.pk}/")
    with page.expect_download() as download_info:
        page.click("button:has-text('Download evidence bundle')")
    bundle = tmp_path / "bundle.json"
    download_info.value.save_as(bundle)
    assert download_info.value.suggested_filename == f"glassbox-job-{job.pk}-bundle.json"
    (tmp_path / "glassbox.vkey").write_text(key)
    script = Path(shutil.copy(standalone.__file__, tmp_path / "standalone.py"))
    done = subprocess.run(
        [sys.executable, "-I", str(script), str(bundle), "--key", str(tmp_path / "glassbox.vkey")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"VALID: 4 entries of job:{job.pk} (")  # submission, run, view, this export
    # The ledger browser, filtered to submissions, then the record's access history.
    page.click("nav >> text=Ledger entries")
    page.select_option("#kind", "submission")
    page.click("button:has-text('Filter')")
    assert page.locator("tr[data-sequence]").count() == 2
    submission = LedgerEntry.objects.get(subject=f"submission:{job.submission_id}")
    page.click(f"tr[data-sequence='{submission.sequence}'] >> text=submission:{job.submission_id}")
    history = page.locator("table.access-history tbody").inner_text()
    export = AccessEvent.objects.get(action=AccessEvent.EXPORT)
    assert "export" in history
    assert "audrey" in history
    assert f"job:{job.pk}" in history
    assert page.locator(f"tr[data-access='{LedgerEntry.objects.get(subject=f'access:{export.pk}').sequence}']").count()
    assert watched.csp_violations() == []
    assert save_screenshot(page, "role-auditor").stat().st_size > 10_000
