"""The jobs API: submit, get, list, cancel, with keys, scopes, teams and problem+json errors."""

from __future__ import annotations

import base64
import datetime

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from audit_app.models import AccessEvent, ApiKeyEvent, Job, LedgerEntry, Submission, Team
from audit_app.services.api_keys import create_key, revoke_key

pytestmark = pytest.mark.django_db


def bearer(secret: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


@pytest.fixture
def key(team: Team) -> str:
    return create_key("Matter system", team, "read submit", None, "test setup").secret


@pytest.fixture
def read_key(team: Team) -> str:
    return create_key("Reporting", team, "read", None, "test setup").secret


def submit(client: Client, secret: str, **body: object) -> object:
    payload = {"domain": "legal", "question": "Is clause 4 enforceable?", "case_reference": "M-1"} | body
    return client.post("/api/v1/jobs/", payload, content_type="application/json", **bearer(secret))


def test_a_key_submits_a_job_with_inline_documents_and_it_names_the_key(client: Client, key: str) -> None:
    pdf_free = base64.b64encode(b"Clause 4: the tenant pays.").decode()
    response = submit(
        client,
        key,
        case_title="Lease",
        documents=[{"name": "lease.txt", "text": "Clause 4."}, {"name": "notes.md", "content_base64": pdf_free}],
        settings={"thinking_budget": 64, "answer_budget": 32, "seed": 7},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    job = Job.objects.get(pk=body["id"])
    assert body["status"] == "queued"
    assert body["case_reference"] == "M-1"
    assert job.submission.submitted_by_name == key[:12].replace("gbx_", "api-")
    assert [d.name for d in job.submission.documents.order_by("position")] == ["lease.txt", "notes.md"]
    assert job.submission.settings["seed"] == 7
    assert response["Location"] == f"/api/v1/jobs/{job.pk}/"


def test_get_a_job_is_a_ledgered_access_by_the_key(client: Client, key: str) -> None:
    job_id = submit(client, key).json()["id"]
    response = client.get(f"/api/v1/jobs/{job_id}/", **bearer(key))
    assert response.status_code == 200
    assert response.json()["review"]["state"] == "not_reviewable"
    event = AccessEvent.objects.get(subject=f"job:{job_id}")
    assert event.actor_name.startswith("api-")
    assert LedgerEntry.objects.filter(subject=f"access:{event.pk}").exists()


def test_no_key_wrong_key_and_revoked_key_get_401_problems(client: Client, key: str, team: Team) -> None:
    assert client.get("/api/v1/jobs/").status_code == 401
    wrong = client.get("/api/v1/jobs/", **bearer(key[:-2] + "xx"))
    assert wrong.status_code == 401
    assert wrong["Content-Type"] == "application/problem+json"
    assert "unknown, revoked or expired" in wrong.json()["detail"]
    revoked = create_key("Old", team, "read", None, "t")
    revoke_key(revoked.key, None, "t")
    assert client.get("/api/v1/jobs/", **bearer(revoked.secret)).status_code == 401
    assert ApiKeyEvent.objects.filter(action="revoke", prefix=revoked.key.prefix).exists()


def test_an_expired_key_is_refused(client: Client, team: Team) -> None:
    new = create_key("Soon", team, "read", None, "t", expires_at=timezone.now() + datetime.timedelta(seconds=1))
    type(new.key).objects.filter(pk=new.key.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    assert client.get("/api/v1/jobs/", **bearer(new.secret)).status_code == 401


def test_a_read_key_cannot_submit_or_cancel(client: Client, read_key: str, key: str) -> None:
    refused = submit(client, read_key)
    assert refused.status_code == 403
    assert "'submit'" in refused.json()["detail"]
    job_id = submit(client, key).json()["id"]
    assert client.post(f"/api/v1/jobs/{job_id}/cancel/", **bearer(read_key)).status_code == 403
    assert client.get(f"/api/v1/jobs/{job_id}/", **bearer(read_key)).status_code == 200


def test_another_teams_job_is_a_404(client: Client, key: str) -> None:
    other = Team.objects.create(name="Credit")
    theirs = create_key("Credit system", other, "read submit", None, "t").secret
    job_id = submit(client, theirs).json()["id"]
    for path in (f"/api/v1/jobs/{job_id}/", f"/api/v1/jobs/{job_id}/run/", f"/api/v1/jobs/{job_id}/bundle/"):
        response = client.get(path, **bearer(key))
        assert response.status_code == 404
        assert response["Content-Type"] == "application/problem+json"
    assert client.post(f"/api/v1/jobs/{job_id}/cancel/", **bearer(key)).status_code == 404
    assert [j["id"] for j in client.get("/api/v1/jobs/", **bearer(key)).json()["results"]] == []


def test_bad_input_is_a_400_with_field_errors_and_stores_nothing(client: Client, key: str) -> None:
    cases = [
        ({"domain": "astrology"}, "domain"),
        ({"question": ""}, "question"),
        ({"settings": {"temperature": 1e308}}, "settings"),
        ({"documents": [{"name": "a.exe", "text": "x"}]}, "documents"),
        ({"documents": [{"name": "a.pdf", "content_base64": "%%%"}]}, "documents"),
        ({"documents": [{"name": "a.txt"}]}, "documents"),
        ({"case_reference": "M\u202e-1"}, "case_reference"),
        ({"settings": {"thinking_budget": 40_000, "answer_budget": 40_000}}, "answer_budget"),
    ]
    for body, field in cases:
        response = submit(client, key, **body)
        assert response.status_code == 400, (body, response.content)
        problem = response.json()
        assert response["Content-Type"] == "application/problem+json"
        assert field in problem["errors"], (body, problem)
        assert problem["detail"].startswith("The request is invalid")
    assert not Submission.objects.exists()
    assert not Job.objects.exists()


def test_not_json_and_wrong_media_type(client: Client, key: str) -> None:
    broken = client.post("/api/v1/jobs/", "{", content_type="application/json", **bearer(key))
    assert broken.status_code == 400
    assert "not valid UTF-8 JSON" in broken.json()["detail"]
    form = client.post("/api/v1/jobs/", "a=b", content_type="application/x-www-form-urlencoded", **bearer(key))
    assert form.status_code == 415
    assert form["Content-Type"] == "application/problem+json"


def test_an_oversized_body_is_refused_with_413(client: Client, key: str, settings: object) -> None:
    settings.GLASSBOX = {**settings.GLASSBOX, "API_MAX_BODY_BYTES": 1000}  # type: ignore[attr-defined]
    response = submit(client, key, question="x" * 2000)
    assert response.status_code == 413
    assert "larger than 1,000 bytes" in response.json()["detail"]
    assert not Job.objects.exists()


def test_unknown_api_path_is_a_problem_404(client: Client, key: str) -> None:
    response = client.get("/api/v1/nothing/", **bearer(key))
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


def test_cancel_a_queued_job_then_conflict(client: Client, key: str) -> None:
    job_id = submit(client, key).json()["id"]
    cancelled = client.post(f"/api/v1/jobs/{job_id}/cancel/", **bearer(key))
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    again = client.post(f"/api/v1/jobs/{job_id}/cancel/", **bearer(key))
    assert again.status_code == 409
    assert "already cancelled" in again.json()["detail"]


def test_list_filters_and_cursor_pagination(client: Client, key: str) -> None:
    ids = [submit(client, key, case_reference=f"M-{n % 2}").json()["id"] for n in range(5)]
    first = client.get("/api/v1/jobs/?limit=2", **bearer(key)).json()
    second = client.get(f"/api/v1/jobs/?limit=2&cursor={first['next']}", **bearer(key)).json()
    third = client.get(f"/api/v1/jobs/?limit=2&cursor={second['next']}", **bearer(key)).json()
    seen = [j["id"] for page in (first, second, third) for j in page["results"]]
    assert seen == sorted(ids, reverse=True)
    assert third["next"] is None
    m0 = client.get("/api/v1/jobs/?case_reference=M-0", **bearer(key)).json()["results"]
    assert sorted(j["id"] for j in m0) == sorted(ids[0::2])
    awaiting = client.get("/api/v1/jobs/?review_state=not_reviewable", **bearer(key)).json()["results"]
    assert len(awaiting) == 5
    assert client.get("/api/v1/jobs/?review_state=approved", **bearer(key)).json()["results"] == []
    assert client.get("/api/v1/jobs/?status=bogus", **bearer(key)).status_code == 400
    assert client.get("/api/v1/jobs/?created_after=yesterday", **bearer(key)).status_code == 400
    assert client.get("/api/v1/jobs/?cursor=zzz", **bearer(key)).status_code == 400


def test_session_users_use_the_browsable_api_with_csrf(analyst: User, key: str) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(analyst)
    assert browser.get("/api/v1/jobs/", HTTP_ACCEPT="text/html").status_code == 200
    refused = browser.post(
        "/api/v1/jobs/", {"domain": "legal", "question": "q", "case_reference": "M"}, content_type="application/json"
    )
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
