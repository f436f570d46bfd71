"""The authorization matrix: every URL and method, for every kind of user, with the status each must get.

Seven users: anonymous, an analyst of team A (who submitted the job), an analyst of team B, a reviewer whose
scope covers the job, a reviewer whose scope does not, an auditor and an operator. Every cell is written out:
a new URL or a changed rule shows here as a failing cell, not as a silent default.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from audit_app.models import LedgerEntry, Report, Team, VerificationRun
from audit_app.services.api_keys import create_key
from audit_app.web import urls as web_urls
from tests.factories import FinishedJobFactory
from tests.people import assign, make_user

pytestmark = pytest.mark.django_db

USERS = ("anonymous", "analyst_a", "analyst_b", "reviewer_in", "reviewer_out", "auditor", "operator")
LOGIN = 302  # anonymous users are sent to the login page

# URL pattern, method: status for each of USERS, in that order.
MATRIX: dict[tuple[str, str], tuple[int, ...]] = {
    ("/login/", "GET"): (200, 200, 200, 200, 200, 200, 200),
    ("/login/", "POST"): (200, 200, 200, 200, 200, 200, 200),  # no credentials: the form says so
    ("/logout/", "POST"): (302, 302, 302, 302, 302, 302, 302),
    ("/logout/", "GET"): (405, 405, 405, 405, 405, 405, 405),
    ("/", "GET"): (LOGIN, 200, 200, 200, 200, 200, 302),
    ("/", "POST"): (LOGIN, 405, 405, 405, 405, 405, 405),
    ("/jobs/new/", "GET"): (LOGIN, 200, 200, 403, 403, 403, 403),
    ("/jobs/new/", "POST"): (LOGIN, 200, 200, 403, 403, 403, 403),  # an empty form: errors on the page
    ("/jobs/{job}/", "GET"): (LOGIN, 200, 404, 200, 404, 200, 404),
    ("/jobs/{job}/", "POST"): (LOGIN, 405, 405, 405, 405, 405, 405),
    ("/jobs/{job}/live/", "GET"): (LOGIN, 200, 404, 200, 404, 200, 404),
    ("/jobs/{job}/live/", "POST"): (LOGIN, 405, 405, 405, 405, 405, 405),
    ("/jobs/{job}/cancel/", "POST"): (LOGIN, 302, 404, 403, 404, 403, 404),
    ("/jobs/{job}/cancel/", "GET"): (LOGIN, 405, 405, 405, 405, 405, 405),
    ("/jobs/{job}/rerun/", "POST"): (LOGIN, 302, 404, 403, 404, 403, 404),
    ("/jobs/{job}/rerun/", "GET"): (LOGIN, 405, 405, 405, 405, 405, 405),
    ("/jobs/{job}/bundle/", "POST"): (LOGIN, 403, 403, 403, 403, 200, 403),
    ("/jobs/{job}/bundle/", "GET"): (LOGIN, 405, 405, 405, 405, 405, 405),
    ("/jobs/{job}/review/", "GET"): (LOGIN, 403, 403, 200, 404, 403, 403),
    ("/jobs/{job}/review/", "POST"): (LOGIN, 403, 403, 400, 404, 403, 403),  # an empty form: refused input
    # PDF reports: whoever may view the job may export it and download its reports; the report is queued
    # (no worker here), so its download is a 409 for them and a 404 for everyone who may not see the job.
    ("/jobs/{job}/reports/", "POST"): (LOGIN, 302, 404, 302, 404, 302, 404),
    ("/jobs/{job}/reports/", "GET"): (LOGIN, 405, 405, 405, 405, 405, 405),
    ("/reports/{report}/", "GET"): (LOGIN, 200, 404, 200, 404, 200, 404),
    ("/reports/{report}/", "POST"): (LOGIN, 405, 405, 405, 405, 405, 405),
    ("/reports/{report}/progress/", "GET"): (LOGIN, 200, 404, 200, 404, 200, 404),
    ("/reports/{report}/progress/", "POST"): (LOGIN, 405, 405, 405, 405, 405, 405),
    ("/reports/{report}/pdf", "GET"): (LOGIN, 409, 404, 409, 404, 409, 404),
    ("/reports/{report}/pdf", "POST"): (LOGIN, 405, 405, 405, 405, 405, 405),
    ("/review/", "GET"): (LOGIN, 403, 403, 200, 200, 403, 403),
    ("/review/", "POST"): (LOGIN, 405, 405, 405, 405, 405, 405),
    ("/operator/kill-switch/", "GET"): (LOGIN, 403, 403, 403, 403, 403, 200),
    ("/operator/kill-switch/", "POST"): (LOGIN, 403, 403, 403, 403, 403, 200),  # an empty form: errors
    ("/operator/jobs/", "GET"): (LOGIN, 403, 403, 403, 403, 403, 200),
    ("/operator/jobs/", "POST"): (LOGIN, 405, 405, 405, 405, 405, 405),
    ("/operator/webhooks/", "GET"): (LOGIN, 403, 403, 403, 403, 403, 200),
    ("/operator/webhooks/", "POST"): (LOGIN, 405, 405, 405, 405, 405, 405),
    ("/operator/workers/", "GET"): (LOGIN, 403, 403, 403, 403, 403, 200),
    ("/operator/workers/", "POST"): (LOGIN, 405, 405, 405, 405, 405, 405),
    ("/operator/users/", "GET"): (LOGIN, 403, 403, 403, 403, 403, 200),
    ("/operator/users/", "POST"): (LOGIN, 405, 405, 405, 405, 405, 405),
    # Acting on analyst B's account, in this order: the operator deactivates her, then reactivates her; an
    # assignment with no team or domain is refused (400).
    ("/operator/users/{user}/deactivate/", "POST"): (LOGIN, 403, 403, 403, 403, 403, 302),
    ("/operator/users/{user}/deactivate/", "GET"): (LOGIN, 405, 405, 405, 405, 405, 405),
    ("/operator/users/{user}/reactivate/", "POST"): (LOGIN, 403, 403, 403, 403, 403, 302),
    ("/operator/users/{user}/reactivate/", "GET"): (LOGIN, 405, 405, 405, 405, 405, 405),
    ("/operator/users/{user}/assign/", "POST"): (LOGIN, 403, 403, 403, 403, 403, 400),
    ("/operator/users/{user}/assign/", "GET"): (LOGIN, 405, 405, 405, 405, 405, 405),
    ("/operator/users/{user}/unassign/", "POST"): (LOGIN, 403, 403, 403, 403, 403, 400),
    ("/operator/users/{user}/unassign/", "GET"): (LOGIN, 405, 405, 405, 405, 405, 405),
    ("/operator/api-keys/", "GET"): (LOGIN, 403, 403, 403, 403, 403, 200),
    ("/operator/api-keys/", "POST"): (LOGIN, 403, 403, 403, 403, 403, 400),  # an empty form: errors, no key
    ("/operator/api-keys/{key}/revoke/", "GET"): (LOGIN, 403, 403, 403, 403, 403, 200),  # the confirmation
    ("/operator/api-keys/{key}/revoke/", "POST"): (LOGIN, 403, 403, 403, 403, 403, 302),
    ("/operator/api-keys/{key}/webhook/", "GET"): (LOGIN, 403, 403, 403, 403, 403, 200),
    ("/operator/api-keys/{key}/webhook/", "POST"): (LOGIN, 403, 403, 403, 403, 403, 400),  # no URL: the sentence
    ("/auditor/ledger/", "GET"): (LOGIN, 403, 403, 403, 403, 200, 403),
    ("/auditor/ledger/", "POST"): (LOGIN, 403, 403, 403, 403, 302, 403),  # queues a verification
    ("/auditor/ledger/runs/{run}/", "GET"): (LOGIN, 403, 403, 403, 403, 200, 403),
    ("/auditor/ledger/runs/{run}/", "POST"): (LOGIN, 405, 405, 405, 405, 405, 405),
    ("/auditor/entries/", "GET"): (LOGIN, 403, 403, 403, 403, 200, 403),
    ("/auditor/entries/", "POST"): (LOGIN, 405, 405, 405, 405, 405, 405),
    ("/auditor/entries/{entry}/", "GET"): (LOGIN, 403, 403, 403, 403, 200, 403),
    ("/auditor/entries/{entry}/", "POST"): (LOGIN, 405, 405, 405, 405, 405, 405),
}


@pytest.fixture
def world(team: Team, other_team: Team) -> dict[str, object]:
    analyst_a = make_user("alice", "analyst", team)
    users = {
        "anonymous": None,
        "analyst_a": analyst_a,
        "analyst_b": make_user("olga", "analyst", other_team),
        "reviewer_in": assign(make_user("rita", "reviewer", None), team, "legal"),
        "reviewer_out": assign(make_user("rex", "reviewer", None), team, "finance"),
        "auditor": make_user("audrey", "auditor", None),
        "operator": make_user("oscar", "operator", None),
    }
    job = FinishedJobFactory(submitter=analyst_a, team=team)
    run = VerificationRun.objects.create(requested_by=users["auditor"])
    entry = LedgerEntry.objects.get(subject=f"submission:{job.submission_id}").sequence
    key = create_key("Matter system", team, "read submit", None, "test setup").key
    report = Report.objects.create(job=job, requested_by=analyst_a)
    ids = {
        "job": job.pk,
        "run": run.pk,
        "entry": entry,
        "user": users["analyst_b"].pk,
        "key": key.pk,
        "report": report.pk,
    }  # type: ignore[union-attr]
    return {"users": users, "ids": ids}


def _route(url: str) -> str:
    """A matrix URL as the URLconf writes it."""
    route = url.lstrip("/").replace("{entry}", "<int:sequence>")
    for name in ("job", "run", "user", "key", "report"):
        route = route.replace("{" + name + "}", "<int:pk>")
    return route


def test_every_route_is_in_the_matrix_with_both_methods():
    # The web UI's routes; the API's (/api/v1/) are keyed and scoped, and tests/service/test_api_*.py cover them.
    routes = {str(pattern.pattern) for pattern in web_urls.urlpatterns}
    covered = {(_route(url), method) for url, method in MATRIX}
    missing = {(route, method) for route in routes for method in ("GET", "POST")} - covered
    assert not missing, f"add these to the matrix: {sorted(missing)}"


@pytest.mark.parametrize("name", USERS)
def test_each_user_gets_the_expected_status_at_every_url(world: dict[str, object], name: str):
    """One user's column: every URL and method in the matrix's order, each request from a fresh session."""
    user: User | None = world["users"][name]  # type: ignore[index]
    expected, got = {}, {}
    for (url, method), statuses in MATRIX.items():
        client = Client()
        if user is not None:
            client.force_login(user)
        path = url.format(**world["ids"])  # type: ignore[arg-type]
        response = client.get(path) if method == "GET" else client.post(path, {})
        expected[f"{method} {url}"] = statuses[USERS.index(name)]
        got[f"{method} {url}"] = response.status_code
    assert got == expected
