"""Reviewer scope is admin-managed: ``assign_reviewer`` adds and removes it, refusing bad input with a
sentence, a non-zero exit and nothing stored."""

from __future__ import annotations

import io
import logging

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from audit_app.models import Job, ReviewerAssignment, Team
from audit_app.services.review_state import may_review
from tests.factories import FinishedJobFactory
from tests.people import assign, make_user

pytestmark = pytest.mark.django_db


def scope(user: User) -> list[tuple[str, str]]:
    return sorted(ReviewerAssignment.objects.filter(user=user).values_list("team__name", "domain"))


def test_assign_reviewer_gives_and_removes_scope_and_logs_it(analyst: User, team: Team, caplog):
    rolf = make_user("rolf", "reviewer", None)
    job: Job = FinishedJobFactory(submitter=analyst, domain="finance")
    assert not may_review(rolf, job)
    out = io.StringIO()
    with caplog.at_level(logging.INFO, logger="audit_app.users"):
        call_command(
            "assign_reviewer", "rolf", "--team", "Litigation", "--domain", "finance", "--domain", "legal", stdout=out
        )
    assert "rolf now reviews Litigation in finance, legal." in out.getvalue()
    assert scope(rolf) == [("Litigation", "finance"), ("Litigation", "legal")]
    assert may_review(rolf, job)
    call_command("assign_reviewer", "rolf", "--team", "Litigation", "--domain", "finance", "--remove", stdout=out)
    assert scope(rolf) == [("Litigation", "legal")]
    assert not may_review(rolf, job)
    logged = [r.getMessage() for r in caplog.records if r.name == "audit_app.users"]
    assert any("assigned reviewer rolf to team Litigation in finance, legal" in m and "manage.py" in m for m in logged)
    assert any("removed reviewer rolf from team Litigation in finance" in m for m in logged)


@pytest.mark.parametrize(
    ("args", "sentence"),
    [
        (["nobody", "--team", "Litigation", "--domain", "legal"], "There is no user named 'nobody'"),
        (["alice", "--team", "Litigation", "--domain", "legal"], "alice does not have the reviewer role"),
        (["rolf", "--team", "Nowhere", "--domain", "legal"], "There is no team named 'Nowhere'"),
        (["rolf", "--team", "Litigation", "--domain", "legal", "--domain", "astrology"], "Unknown domain 'astrology'"),
        (
            ["rolf", "--team", "Litigation", "--domain", "finance", "--remove"],
            "rolf does not review Litigation in finance",
        ),
        (["rolf", "--team", "Litigation", "--domain", "clinical"], "rolf already reviews Litigation in clinical"),
    ],
)
def test_assign_reviewer_refuses_bad_input_and_stores_nothing(analyst: User, team: Team, args, sentence):
    rolf = make_user("rolf", "reviewer", None)
    assign(rolf, team, "clinical")
    before = sorted(ReviewerAssignment.objects.values_list("user__username", "team__name", "domain"))
    with pytest.raises(CommandError, match=sentence) as refused:
        call_command("assign_reviewer", *args, stdout=io.StringIO())
    assert "nothing was changed" in str(refused.value).lower()
    assert sorted(ReviewerAssignment.objects.values_list("user__username", "team__name", "domain")) == before


def test_assign_reviewer_exits_non_zero_with_the_sentence(analyst: User, team: Team):
    # manage.py prints a CommandError's sentence on stderr and exits with its returncode.
    with pytest.raises(CommandError, match="alice does not have the reviewer role") as refused:
        call_command("assign_reviewer", "alice", "--team", "Litigation", "--domain", "legal")
    assert refused.value.returncode == 1
    assert not ReviewerAssignment.objects.exists()
