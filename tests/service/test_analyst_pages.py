"""The analyst's pages: live badge, settings errors, dropped files, document text, error pages, login banner."""

from __future__ import annotations

import hashlib
import re
import uuid

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from audit_app.models import Job, Team
from audit_app.services.pipeline import claim_job
from audit_app.services.submission import Upload, submit_job
from inference.limits import SEED_MAX, TEMPERATURE_MAX
from tests.people import make_user

pytestmark = pytest.mark.django_db


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def form(**changes: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "domain": "legal",
        "case_reference": "LIT-1",
        "question": "Is clause 12 met?",
        "thinking_budget": 100,
        "answer_budget": 100,
        "temperature": 0.7,
        "top_p": 0.95,
        "seed": 0,
    }
    return fields | changes


def test_live_fragment_updates_the_heading_badge(analyst: User, team: Team):
    job = submit_job(analyst, team, "LIT-1", "legal", "Q?")
    client = client_for(analyst)
    assert 'id="job-status"' in client.get(f"/jobs/{job.pk}/").content.decode()
    assert claim_job(job.pk, uuid.uuid4()) is not None  # a worker takes it: running
    fragment = client.get(f"/jobs/{job.pk}/live/").content.decode()
    [badge] = re.findall(r'<span id="job-status"[^>]*>', fragment)
    assert 'hx-swap-oob="true"' in badge
    assert 'data-status="running"' in badge


def test_settings_error_opens_the_section_and_names_the_dropped_files(analyst: User):
    # Each budget is within the context limit (the browser lets it through); together they leave no room.
    lease = SimpleUploadedFile("lease.txt", b"Clause 12: in writing.", content_type="text/plain")
    response = client_for(analyst).post(
        "/jobs/new/", form(thinking_budget=30_000, answer_budget=20_000, documents=lease)
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert '<details id="generation-settings" open>' in page
    assert "leave no room for the prompt" in page
    assert re.search(r'role="alert">\s*Your 1 document \(lease.txt\) was\s+not kept', page)
    assert "Attach again: lease.txt" in page
    assert not Job.objects.exists()


def test_other_errors_leave_the_section_closed_and_a_clean_form_says_nothing(analyst: User):
    client = client_for(analyst)
    page = client.post("/jobs/new/", form(case_reference="")).content.decode()
    assert '<details id="generation-settings">' in page
    assert "not kept" not in page  # no file was sent, so none was dropped
    assert "not kept" not in client.get("/jobs/new/").content.decode()


def test_inputs_carry_the_engines_bounds(analyst: User, settings):
    settings.GLASSBOX = {**settings.GLASSBOX, "CONTEXT_LIMIT": 12_345}
    page = client_for(analyst).get("/jobs/new/").content.decode()

    def attrs(name: str) -> str:
        [tag] = re.findall(rf'<input[^>]*name="{name}"[^>]*>', page)
        return tag

    assert 'min="0"' in attrs("temperature")
    assert f'max="{TEMPERATURE_MAX:g}"' in attrs("temperature")
    assert 'max="1"' in attrs("top_p")
    assert 'step="any"' in attrs("top_p")
    assert f'max="{SEED_MAX}"' in attrs("seed")
    assert 'step="1"' in attrs("seed")
    assert 'max="12345"' in attrs("thinking_budget")
    assert 'step="1"' in attrs("answer_budget")


def test_job_page_shows_the_text_the_model_read_collapsed(analyst: User, team: Team, settings):
    text = "# Lease\n\nClause 12: Any extension must be agreed in writing & signed.\n"
    job = submit_job(analyst, team, "LIT-1", "legal", "Q?", [Upload("lease.md", text.encode())])
    settings.GLASSBOX = {**settings.GLASSBOX, "CONTEXT_LIMIT": 12_345}  # the page says the configured limit
    page = client_for(analyst).get(f"/jobs/{job.pk}/").content.decode()
    assert '<details class="document"><summary><span dir="auto">lease.md' in page
    assert "agreed in writing &amp; signed." in page
    assert hashlib.sha256(text.encode()).hexdigest() in page
    assert "reads at most 12,345 tokens" in page
    assert "40,000" not in page


def test_403_is_styled_and_gives_the_reason(analyst: User, team: Team):
    job = submit_job(analyst, team, "LIT-1", "legal", "Q?")
    reviewer = make_user("rita", "reviewer", team)
    response = client_for(reviewer).post(f"/jobs/{job.pk}/cancel/")
    page = response.content.decode()
    assert response.status_code == 403
    assert '<span class="brand">Glassbox</span>' in page  # base.html
    assert "Only analysts can cancel jobs" in page
    assert not Job.objects.get(pk=job.pk).cancel_requested
    response = client_for(reviewer).get("/jobs/new/")
    assert response.status_code == 403
    assert "Only analysts who belong to a team can submit" in response.content.decode()


def test_404_is_styled_and_says_why(analyst: User, outsider: User, team: Team):
    job = submit_job(analyst, team, "LIT-1", "legal", "Q?")
    response = client_for(outsider).get(f"/jobs/{job.pk}/")
    page = response.content.decode()
    assert response.status_code == 404
    assert '<span class="brand">Glassbox</span>' in page
    assert "may belong to another team" in page


def test_login_page_shows_the_test_model_banner(db):
    page = Client().get("/login/").content.decode()
    assert "TEST MODEL in use" in page


def test_500_and_400_pages_render_without_a_request(db):
    """Django renders them with no context processors: the page must still stand on its own."""
    from django.template.loader import render_to_string

    assert "nothing was half-stored" in render_to_string("500.html")
    assert "could not be understood" in render_to_string("400.html")
