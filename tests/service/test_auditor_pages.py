"""The auditor's pages: the ledger browser with filters and pages, a record's access history from the
ledger, and a job's evidence bundle downloaded from the job page as a ledgered export."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from audit_app.ledger import standalone
from audit_app.ledger.signer import public_verifier_key
from audit_app.models import AccessEvent, LedgerEntry
from audit_app.services.access_events import record_access
from audit_app.services.submission import submit_job
from inference import GenerationSettings
from tests.ledger.evidence import run_job_inline
from tests.people import make_user

pytestmark = pytest.mark.django_db
SHORT = GenerationSettings(thinking_budget=8, answer_budget=8, seed=0)


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def auditor(db) -> User:
    return make_user("audrey", "auditor", None)


def sequences(html: str) -> set[int]:
    return {int(part.split('"', 1)[0]) for part in html.split('data-sequence="')[1:]}


def test_the_ledger_browser_filters_by_kind_and_user_and_pages(analyst, outsider, team, other_team, auditor):
    mine = [submit_job(analyst, team, "C-1", "legal", f"Q{n}?", generation=SHORT) for n in range(2)]
    theirs = submit_job(outsider, other_team, "T-1", "finance", "Q?", generation=SHORT)
    client = client_for(auditor)
    client.get(reverse("job-detail", args=[mine[0].pk]))  # a view by audrey, ledgered
    entry = {e.subject: e.sequence for e in LedgerEntry.objects.all()}
    alice = sequences(client.get(reverse("ledger-entries"), {"user": "alice"}).content.decode())
    assert alice == {entry[f"submission:{job.submission_id}"] for job in mine}
    audrey = sequences(client.get(reverse("ledger-entries"), {"user": "audrey", "kind": "access"}).content.decode())
    view = AccessEvent.objects.get(actor_name="audrey")
    assert audrey == {entry[f"access:{view.pk}"]}
    submissions = client.get(reverse("ledger-entries"), {"kind": "submission"}).content.decode()
    assert sequences(submissions) == {entry[f"submission:{j.submission_id}"] for j in [*mine, theirs]}
    assert "olga" in submissions
    assert sequences(client.get(reverse("ledger-entries"), {"user": "nobody"}).content.decode()) == set()
    for _ in range(55):
        record_access(auditor, AccessEvent.VIEW, f"job:{theirs.pk}")
    first = client.get(reverse("ledger-entries"), {"kind": "access"}).content.decode()
    second = client.get(reverse("ledger-entries"), {"kind": "access", "page": 2}).content.decode()
    assert len(sequences(first)) == 50
    assert len(sequences(second)) == 6
    assert "page 2 of 2" in second
    assert "kind=access&amp;user=&amp;page=2" in first
    # An unknown kind is ignored rather than an error; odd user names are just names.
    assert client.get(reverse("ledger-entries"), {"kind": "<script>", "user": "'; --"}).status_code == 200


def test_a_records_access_history_comes_from_the_ledger(analyst, team, auditor):
    job = submit_job(analyst, team, "C-1", "legal", "Q?", generation=SHORT)
    run = run_job_inline(job)
    client_for(analyst).get(reverse("job-detail", args=[job.pk]))
    client_for(auditor).post(reverse("job-bundle", args=[job.pk]))
    for subject in (f"submission:{job.submission_id}", f"run:{run.pk}"):
        sequence = LedgerEntry.objects.get(subject=subject).sequence
        html = client_for(auditor).get(reverse("ledger-entry", args=[sequence])).content.decode()
        history = html.split("<h2>Access history</h2>", 1)[1]
        assert history.count("data-access=") == 2
        assert "view" in history
        assert "alice" in history
        assert "export" in history
        assert "audrey" in history
        assert f"job {job.pk}" in html


def test_the_job_page_download_is_a_ledgered_export_inside_the_bundle(analyst, team, auditor):
    job = submit_job(analyst, team, "C-1", "legal", "Q?", generation=SHORT)
    run_job_inline(job)
    page = client_for(auditor).get(reverse("job-detail", args=[job.pk])).content.decode()
    assert reverse("job-bundle", args=[job.pk]) in page
    assert "Download evidence bundle" in page
    response = client_for(auditor).post(reverse("job-bundle", args=[job.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="glassbox-job-{job.pk}-bundle.json"'
    bundle = json.loads(response.content)
    export = AccessEvent.objects.get(action=AccessEvent.EXPORT)
    assert (export.actor_name, export.subject) == ("audrey", f"job:{job.pk}")
    assert bundle["entries"][-1]["payload"]["subject"] == f"access:{export.pk}"
    kinds = [e["payload"]["kind"] for e in bundle["entries"]]
    assert kinds == ["submission", "run", "access", "access"]  # the page view, then the download
    assert standalone.verify_bundle(bundle, public_verifier_key()).startswith(f"4 entries of job:{job.pk}")


def test_only_auditors_download_and_only_by_post(analyst, team, auditor):
    job = submit_job(analyst, team, "C-1", "legal", "Q?", generation=SHORT)
    assert client_for(analyst).post(reverse("job-bundle", args=[job.pk])).status_code == 403
    assert (
        "Download evidence bundle" not in client_for(analyst).get(reverse("job-detail", args=[job.pk])).content.decode()
    )
    assert client_for(auditor).get(reverse("job-bundle", args=[job.pk])).status_code == 405
    assert client_for(auditor).post(reverse("job-bundle", args=[99999])).status_code == 404
    assert not AccessEvent.objects.filter(action=AccessEvent.EXPORT).exists()


def test_a_download_without_a_signing_key_says_why_and_records_nothing(analyst, team, auditor, settings):
    job = submit_job(analyst, team, "C-1", "legal", "Q?", generation=SHORT)
    entries = LedgerEntry.objects.count()
    settings.GLASSBOX = settings.GLASSBOX | {"LEDGER_KEY": ""}
    response = client_for(auditor).post(reverse("job-bundle", args=[job.pk]))
    assert response.status_code == 503
    assert response.content.decode().startswith("No bundle exported: No ledger signing key")
    assert LedgerEntry.objects.count() == entries
    assert not AccessEvent.objects.exists()
