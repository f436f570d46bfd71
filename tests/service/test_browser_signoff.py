"""Acceptance for [6/10] in Debian's Chromium (Playwright): four-eyes sign-off of a clinical job, end to end.

An analyst submits a clinical question; the job is taken and finished through the product's own services, as a
worker would (``claim_job``, the engine, ``record_run``); reviewer 1 gives a wrong password (an error, no
signature), then approves; reviewer 2, who submitted a job of his own that he cannot sign, gives the second
approval; the analyst sees "approved by <name> at <time> (2 of 2)". Screenshots of the queue and the sign-off
form go to docs/img/ when GLASSBOX_UPDATE_DOCS_IMAGES=1.
"""

from __future__ import annotations

import re
import uuid

import pytest
from django.contrib.auth.models import Group, User
from playwright.sync_api import Browser, Page, expect

from audit_app.models import Job, SigningFailure, SignOff, Team
from audit_app.services.pipeline import claim_job, reasoning_request, record_run
from tests.factories import FinishedJobFactory, engine
from tests.people import assign, make_user
from tests.service.screenshots import save_screenshot
from tests.service.test_browser_analyst import log_in

pytestmark = pytest.mark.django_db(transaction=True)
QUESTION = "Does the discharge summary support stopping anticoagulation before the procedure?"


def reviewer(username: str, first: str, last: str, team: Team) -> User:
    user = make_user(username, "reviewer", None)
    user.first_name, user.last_name = first, last
    user.save()
    return assign(user, team, "clinical", "legal")


def run_as_a_worker(job: Job) -> None:
    token = uuid.uuid4()
    claimed = claim_job(job.pk, token)
    assert claimed is not None
    assert record_run(job.pk, token, engine().generate(reasoning_request(claimed))) is not None


def sign(page: Page, password: str, username: str | None = None) -> None:
    page.check("#meaning-approved")
    if username is not None:
        page.fill("#username", username)
    page.fill("#password", password)
    page.click("#sign-button")


def test_a_clinical_job_is_approved_by_two_reviewers_in_the_browser(live_server, browser: Browser, team: Team):
    make_user("alice", "analyst", team)
    reviewer("rita", "Rita", "Reviewer", team)
    rolf = reviewer("rolf", "Rolf", "Second", team)
    rolf.groups.add(Group.objects.get_or_create(name="analyst")[0])  # he also submits for the team
    team.members.add(rolf)
    own = FinishedJobFactory(submitter=rolf, team=team, domain="clinical", question="Rolf's own question?")

    analyst = log_in(browser, live_server.url, "alice")
    analyst.click("text=New question")
    analyst.select_option("#id_domain", "clinical")
    analyst.fill("#id_case_reference", "CLIN-2026-031")
    analyst.fill("#id_question", QUESTION)
    analyst.click("summary:has-text('Generation settings')")
    analyst.fill("#id_thinking_budget", "16")
    analyst.fill("#id_answer_budget", "16")
    analyst.click("button:has-text('Submit')")
    expect(analyst.locator("h1 [data-status=queued]")).to_be_visible()
    job = Job.objects.exclude(pk=own.pk).get()
    run_as_a_worker(job)

    # Reviewer 1: the queue, the review screen, a wrong password, then the approval.
    rita = log_in(browser, live_server.url, "rita")
    rita.click("#nav-review-queue")
    expect(rita.locator(f"tr.queue-row[data-job='{job.pk}']")).to_contain_text("0 of 2")
    expect(rita.locator(f"tr.queue-row[data-job='{own.pk}']")).to_contain_text("0 of 2")
    assert save_screenshot(rita, "review-queue").stat().st_size > 10_000
    rita.click(f"tr.queue-row[data-job='{job.pk}'] a >> nth=0")
    rita.wait_for_url(f"{live_server.url}/jobs/{job.pk}/review/")
    expect(rita.locator("#automation-bias")).to_be_visible()
    expect(rita.locator("#review-thinking")).to_be_visible()
    expect(rita.locator("#review-answer")).to_be_visible()
    expect(rita.locator("#statement-approved")).to_contain_text(job.run.record_sha256)
    rita.check("#meaning-approved")
    rita.fill("#username", "rita")
    assert save_screenshot(rita, "sign-off-form").stat().st_size > 10_000
    sign(rita, "not-her-password", "rita")
    expect(rita.locator("#sign-off-form")).to_contain_text("The password is not correct; nothing was signed.")
    assert not SignOff.objects.exists()
    assert SigningFailure.objects.get().reason == "wrong password"
    sign(rita, "pw-rita", "rita")
    rita.wait_for_url(f"{live_server.url}/jobs/{job.pk}/")
    expect(rita.locator("section#review")).to_contain_text("1 more approval")

    # Reviewer 2 cannot sign his own job, and gives the second approval of Alice's.
    rolf_page = log_in(browser, live_server.url, "rolf")
    rolf_page.click("#nav-review-queue")
    expect(rolf_page.locator(f"tr.queue-row[data-job='{own.pk}']")).to_have_count(0)
    rolf_page.goto(f"{live_server.url}/jobs/{own.pk}/review/")
    expect(rolf_page.locator("#why-no-form")).to_contain_text("You submitted this job")
    expect(rolf_page.locator("#sign-off-form")).to_have_count(0)
    rolf_page.goto(f"{live_server.url}/jobs/{job.pk}/review/")
    sign(rolf_page, "pw-rolf", "rolf")
    rolf_page.wait_for_url(f"{live_server.url}/jobs/{job.pk}/")

    second = SignOff.objects.get(signer=rolf)
    analyst.goto(f"{live_server.url}/jobs/{job.pk}/")
    manifestation = f"approved by Rolf Second at {second.signed_at:%Y-%m-%d %H:%M} UTC (2 of 2)"
    expect(analyst.locator("section#review")).to_contain_text(manifestation)
    expect(analyst.locator("section#review")).to_contain_text(re.compile(r"Rita Reviewer"))
    analyst.goto(f"{live_server.url}/")
    expect(analyst.locator("table")).to_contain_text(manifestation)
    assert SignOff.objects.filter(job=job).count() == 2
