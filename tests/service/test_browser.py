"""A person's path through the product, in Debian's Chromium driven by Playwright: log in, submit,
watch the job finish, read thinking and answer. Saves the job page as a screenshot (``screenshots.save_screenshot``)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from audit_app.models import Job, RunRecord
from tests.service.screenshots import save_screenshot

pytestmark = pytest.mark.django_db(transaction=True)


def test_analyst_submits_in_the_browser_and_reads_the_finished_run(live_server, worker, browser, analyst: User):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw-alice")
    page.click("button[type=submit]")
    page.click("text=New question")
    page.select_option("#id_domain", "legal")
    page.fill("#id_case_reference", "LIT-2026-014")
    page.fill("#id_question", "Is a verbal agreement to extend the lease binding under clause 12?")
    page.set_input_files(
        "#id_documents",
        files=[
            {
                "name": "lease.txt",
                "mimeType": "text/plain",
                "buffer": b"Clause 12: Any extension must be agreed in writing.",
            }
        ],
    )
    page.click("summary")  # open the generation settings
    page.fill("#id_thinking_budget", "120")
    page.fill("#id_answer_budget", "80")
    page.click("button:has-text('Submit')")
    page.wait_for_selector("h1 [data-status=succeeded]", timeout=90_000)
    page.click("summary:has-text('Thinking')")
    run = RunRecord.objects.get(job=Job.objects.get())
    assert page.locator(".answer").inner_text().strip()
    assert page.locator("section details .trace").inner_text().strip() == run.thinking.strip()
    assert page.get_by_text("This run came from a TEST MODEL").is_visible()
    assert page.locator(".label-ai").first.is_visible()
    assert save_screenshot(page, "job-page").stat().st_size > 10_000
