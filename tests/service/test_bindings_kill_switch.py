"""The kill switch's state is the last ledgered event in ledger order; forged or re-dated rows change nothing."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from audit_app.models import Job, Team
from audit_app.services.errors import SubmissionError
from audit_app.services.killswitch import current_suspension, resume_inference, suspend_inference
from audit_app.services.submission import submit_job
from tests.service.test_bindings import as_app_role, as_superuser

pytestmark = pytest.mark.django_db


def forge_resume(operator: User, at: datetime.datetime) -> None:
    """What the app role's INSERT grant allows: an event row with no ledger entry."""
    as_app_role(
        "INSERT INTO audit_app_killswitchevent (action, actor_id, actor_name, reason, at, record_sha256) "
        "VALUES ('resume', %s, 'mallory', 'forged resume', %s, %s)",
        operator.pk,
        at,
        "0" * 64,
    )


def assert_submission_refused(analyst: User, team: Team) -> None:
    with pytest.raises(SubmissionError, match="Inference is suspended"):
        submit_job(analyst, team, "C-1", "legal", "Q?")
    assert Job.objects.count() == 0


@pytest.mark.parametrize("later", [datetime.timedelta(days=365 * 73), datetime.timedelta(microseconds=1)])
def test_inserted_resume_row_changes_nothing(analyst: User, team: Team, operator: User, later):
    suspension = suspend_inference(operator, "Audit finding 7")
    forge_resume(operator, suspension.at + later)  # dated 2099, or just after the suspension
    assert current_suspension() == suspension
    assert_submission_refused(analyst, team)


def test_back_dated_suspension_still_suspends(analyst: User, team: Team, operator: User):
    resume_inference(operator, "Open for business")
    suspension = suspend_inference(operator, "Audit finding 7")
    # A superuser dates the suspension before the resume; the ledger's order still ends with it.
    as_superuser("UPDATE audit_app_killswitchevent SET at = '2000-01-01T00:00:00Z' WHERE id = %s", suspension.pk)
    assert current_suspension() is not None
    assert_submission_refused(analyst, team)


def test_state_follows_the_ledger_and_an_operator_can_resume(analyst: User, team: Team, operator: User):
    suspend_inference(operator, "Audit finding 7")
    resume_inference(operator, "Fixed")
    assert current_suspension() is None
    submit_job(analyst, team, "C-1", "legal", "Q?")


def test_operator_page_marks_forged_events_unverified(operator: User, django_assert_max_num_queries):
    suspension = suspend_inference(operator, "Audit finding 7")
    forge_resume(operator, suspension.at + datetime.timedelta(days=365 * 73))
    client = Client()
    client.force_login(operator)
    with django_assert_max_num_queries(12):
        page = client.get(reverse("kill-switch")).content.decode()
    assert "Inference is <strong>suspended</strong>" in page
    forged = page.split('<tr class="unverified">')[1].split("</tr>")[0]
    assert "mallory" in forged
    assert "has no ledger entry" in forged
    assert "forged resume" not in page
    assert "Audit finding 7" in page.split('<tr class="unverified">')[0]
