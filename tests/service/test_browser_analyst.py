"""The analyst's and the reviewer's daily paths in Debian's Chromium (Playwright), one screenshot each.

The analyst's job is taken and finished by this test through the product's own services (``claim_job``,
the engine, ``record_run``), as a worker would, so the page can be watched in each state without racing one.
"""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from playwright.sync_api import Browser, Page, expect

from audit_app.models import Job, Team
from audit_app.services.pipeline import claim_job, reasoning_request, record_run
from inference import Engine
from tests.people import make_user
from tests.service.screenshots import save_screenshot
from tests.service.test_analyst_rerun import finished_job

pytestmark = pytest.mark.django_db(transaction=True)
LEASE = {
    "name": "lease.txt",
    "mimeType": "text/plain",
    "buffer": b"Clause 12: Any extension must be agreed in writing.",
}


def log_in(browser: Browser, base_url: str, username: str) -> Page:
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(f"{base_url}/login/")
    expect(page.get_by_text("TEST MODEL in use")).to_be_visible()  # warned before logging in
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-" + username)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")
    return page


def test_analyst_path(live_server, browser: Browser, analyst: User, team: Team):
    page = log_in(browser, live_server.url, "alice")
    page.click("text=New question")
    page.select_option("#id_domain", "legal")
    page.fill("#id_case_reference", "LIT-2026-014")
    page.fill("#id_question", "Is a verbal agreement to extend the lease binding under clause 12?")
    page.set_input_files("#id_documents", files=[LEASE])
    page.click("summary:has-text('Generation settings')")
    page.fill("#id_thinking_budget", "30000")  # each within the limit, together no room for the prompt
    page.fill("#id_answer_budget", "20000")
    page.click("button:has-text('Submit')")
    # The error is inside the settings, which are open; the dropped file is named where no one can miss it.
    expect(page.locator("details#generation-settings")).to_have_attribute("open", "")
    expect(page.get_by_text("leave no room for the prompt")).to_be_visible()
    expect(page.locator(".files-dropped")).to_contain_text("lease.txt")
    page.set_input_files("#id_documents", files=[LEASE])
    page.fill("#id_thinking_budget", "16")
    page.fill("#id_answer_budget", "16")
    page.click("button:has-text('Submit')")
    expect(page.locator("h1 [data-status=queued]")).to_be_visible()
    job = Job.objects.get()

    token = uuid.uuid4()  # a worker takes the job: the heading's badge follows without a reload
    claimed = claim_job(job.pk, token)
    assert claimed is not None
    expect(page.locator("h1 [data-status=running]")).to_be_visible(timeout=10_000)
    engine = Engine.load(settings.GLASSBOX["MODEL_PATH"], quantization="bf16")
    assert record_run(job.pk, token, engine.generate(reasoning_request(claimed))) is not None
    expect(page.locator("h1 [data-status=succeeded]")).to_be_visible(timeout=10_000)

    page.click("summary:has-text('lease.txt')")  # what the model read, with its hash
    expect(page.locator(".document-text")).to_have_text("Clause 12: Any extension must be agreed in writing.")
    page.click("button:has-text('Run again')")
    rerun = Job.objects.exclude(pk=job.pk).get()
    page.wait_for_url(f"{live_server.url}/jobs/{rerun.pk}/")
    expect(page.get_by_text(f"re-run of #{job.pk}")).to_be_visible()
    assert rerun.submission.rerun_of_sha256 == job.submission.record_sha256
    page.click("summary:has-text('lease.txt')")
    assert save_screenshot(page, "role-analyst").stat().st_size > 10_000


def test_reviewer_path(live_server, browser: Browser, analyst: User, team: Team):
    job = finished_job(analyst, team)
    make_user("rita", "reviewer", team)
    page = log_in(browser, live_server.url, "rita")
    expect(page.get_by_role("link", name="New question")).to_have_count(0)
    page.click(f"a[href='/jobs/{job.pk}/'] >> nth=0")
    expect(page.locator("h1 [data-status=succeeded]")).to_be_visible()
    expect(page.locator(".answer")).to_be_visible()
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)
    expect(page.get_by_role("button", name="Run again")).to_have_count(0)
    assert save_screenshot(page, "role-reviewer").stat().st_size > 10_000
    page.goto(f"{live_server.url}/jobs/new/")  # typed by hand: refused on a styled page that says why
    expect(page.locator(".error-page")).to_contain_text("Only analysts who belong to a team can submit questions.")
    expect(page.locator("header .brand")).to_have_text("Glassbox")
