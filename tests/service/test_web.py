"""The analyst pages through Django's test client: roles, teams, form errors, safe rendering, labels."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from audit_app.ledger.canonical import sha256_hex
from audit_app.ledger.signer import public_verifier_key
from audit_app.ledger.verify import verify_ledger
from audit_app.models import Case, Job, KillSwitchEvent, Submission
from audit_app.services.pipeline import fail_job
from tests.factories import FinishedJobFactory, JobFactory, UserFactory
from tests.service.test_submission import pdf

pytestmark = pytest.mark.django_db
FORM = {
    "domain": "legal",
    "case_reference": "C-1",
    "question": "Is it binding?",
    "thinking_budget": 64,
    "answer_budget": 64,
    "temperature": 0.7,
    "top_p": 0.95,
    "seed": 0,
}


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post_form(user: User, **changes: object) -> object:
    files = changes.pop("documents", None)
    data = {**FORM, **changes}
    if files is not None:
        data["documents"] = files
    return client_for(user).post(reverse("job-submit"), data)


def test_pages_require_login():
    response = Client().get(reverse("job-list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_submit_form_stores_the_job_and_shows_its_page(analyst: User):
    response = post_form(analyst, documents=[SimpleUploadedFile("a.txt", b"Clause 1.")])
    job = Job.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("job-detail", args=[job.pk])
    page = client_for(analyst).get(response["Location"]).content.decode()
    assert "Is it binding?" in page
    assert "a.txt" in page
    assert "TEST MODEL in use" in page


@pytest.mark.parametrize(
    ("changes", "field", "sentence"),
    [
        ({"question": ""}, "question", "This field is required."),
        ({"domain": "tax"}, "domain", "Select a valid choice."),
        ({"documents": [SimpleUploadedFile("a.exe", b"MZ")]}, "documents", "only .txt, .md and .pdf files"),
        ({"documents": [SimpleUploadedFile("s.pdf", pdf(None))]}, "documents", "s.pdf has no extractable text"),
        ({"thinking_budget": 39_800}, "documents", "over the context limit of 40000 tokens"),
        ({"thinking_budget": 0}, "thinking_budget", "The thinking budget must be a whole number above 0"),
    ],
)
def test_bad_input_is_shown_beside_its_field_and_nothing_is_stored(
    analyst: User, changes: dict[str, object], field: str, sentence: str
):
    response = post_form(analyst, **changes)
    assert response.status_code == 200
    assert sentence in " ".join(response.context["form"].errors[field])
    assert (Submission.objects.count(), Job.objects.count()) == (0, 0)


def test_file_over_the_size_limit(analyst: User, settings):
    settings.GLASSBOX = {**settings.GLASSBOX, "MAX_UPLOAD_BYTES": 10}
    response = post_form(analyst, documents=[SimpleUploadedFile("big.txt", b"x" * 11)])
    assert "big.txt is over the limit of 10 bytes per file." in response.context["form"].errors["documents"]
    assert Job.objects.count() == 0


def test_a_reference_another_team_uses_looks_like_any_new_reference(analyst: User, outsider: User):
    JobFactory(submitter=outsider, case_reference="T-9")
    used_elsewhere, unused = post_form(analyst, case_reference="T-9"), post_form(analyst, case_reference="T-10")
    assert (used_elsewhere.status_code, unused.status_code) == (302, 302)
    assert Case.objects.filter(team__members=analyst).count() == 2
    assert Case.objects.filter(reference="T-9").count() == 2


def test_analysts_see_only_their_teams_jobs(analyst: User, outsider: User):
    job = JobFactory(submitter=analyst, question="Secret question?")
    assert "Secret question?" not in client_for(outsider).get(reverse("job-list")).content.decode()
    assert client_for(outsider).get(reverse("job-detail", args=[job.pk])).status_code == 404
    assert "Secret question?" in client_for(analyst).get(reverse("job-list")).content.decode()


def test_only_analysts_submit(operator: User):
    assert client_for(operator).get(reverse("job-submit")).status_code == 403


def test_answer_markdown_is_rendered_safely_with_labels(analyst: User):
    answer = "**Yes.** <script>alert(1)</script> [link](javascript:alert(1)) <img src=x onerror=alert(1)>"
    job = FinishedJobFactory(submitter=analyst, answer=answer)
    page = client_for(analyst).get(reverse("job-detail", args=[job.pk])).content.decode()
    assert "<strong>Yes.</strong>" in page
    answer_html = page.split('class="answer" dir="auto">')[1].split("</div>")[0]
    assert "<script" not in answer_html
    assert 'href="javascript:' not in answer_html
    assert "<img" not in answer_html
    assert "&lt;script&gt;" in answer_html  # shown as text, never run
    assert "AI-generated" in page
    assert "This run came from a TEST MODEL" in page
    assert "reasons less reliably outside English" in page
    assert job.submission.record_sha256 in page
    assert sha256_hex(answer.encode()) in page  # the answer's hash
    assert verify_ledger(public_verifier_key()).ok  # the page showed evidence production would hold


def test_live_fragment_asks_for_a_reload_once_finished(analyst: User):
    job = FinishedJobFactory(submitter=analyst)
    response = client_for(analyst).get(reverse("job-live", args=[job.pk]))
    assert response["HX-Refresh"] == "true"


def test_kill_switch_is_for_operators_and_records_who(operator: User, analyst: User):
    assert client_for(analyst).get(reverse("kill-switch")).status_code == 403
    client_for(operator).post(reverse("kill-switch"), {"reason": "Audit finding 7"})
    event = KillSwitchEvent.objects.get()
    assert (event.action, event.actor_name, event.reason) == ("suspend", "oscar", "Audit finding 7")
    response = post_form(analyst)
    assert "Inference is suspended" in " ".join(response.context["form"].non_field_errors())
    client_for(operator).post(reverse("kill-switch"), {"action": "resume"})
    assert KillSwitchEvent.objects.first().action == "resume"


def test_list_filters_by_status_and_domain(analyst: User):
    legal = JobFactory(submitter=analyst, question="Legal question?")
    JobFactory(submitter=analyst, case_reference="C-2", domain="finance", question="Finance question?")
    fail_job(legal.pk, None, "The worker ran out of memory.")  # what a worker does when generation fails
    page = client_for(analyst).get(reverse("job-list"), {"status": "failed"}).content.decode()
    assert "Legal question?" in page
    assert "Finance question?" not in page
    page = client_for(analyst).get(reverse("job-list"), {"domain": "finance"}).content.decode()
    assert "Finance question?" in page
    assert "Legal question?" not in page


def test_auditors_read_every_teams_jobs_but_cannot_submit(analyst: User):
    auditor = UserFactory(username="audrey", role="auditor")
    job = JobFactory(submitter=analyst, question="Visible to audit?")
    assert client_for(auditor).get(reverse("job-detail", args=[job.pk])).status_code == 200
    assert client_for(auditor).get(reverse("job-submit")).status_code == 403


def test_auditor_ledger_page_shows_the_log_and_runs_a_verification(analyst: User):
    from audit_app.ledger.signer import sign_now
    from audit_app.models import LedgerVerification, VerificationRun
    from audit_app.services.verification import run_verification

    auditor = UserFactory(username="audrey", role="auditor")
    JobFactory(submitter=analyst)
    sign_now()
    page = client_for(auditor).get(reverse("ledger")).content.decode()
    assert 'data-tree-size="1"' in page
    assert "glassbox.test/ledger\n1\n" in page
    client_for(auditor).post(reverse("ledger"))
    run = VerificationRun.objects.get()  # queued for the worker, never run inside the request
    assert (run.status, LedgerVerification.objects.count()) == (VerificationRun.QUEUED, 0)
    run_verification(run.pk)  # what the glassbox.verify_ledger task does
    verification = LedgerVerification.objects.get()
    assert (verification.ok, verification.requested_by_name) == (True, "audrey")
    assert "Ledger verified: 1 entries" in client_for(auditor).get(reverse("ledger")).content.decode()
    assert client_for(analyst).get(reverse("ledger")).status_code == 403
