"""Account changes are evidence: each deactivation, reactivation and scope change is ledgered with its actor, in
the change's own transaction; a refused change ledgers nothing; a forged or edited event is named by
``verify_ledger``; odd but valid names verify clean."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from audit_app.models import AccountEvent, LedgerEntry, ReviewerAssignment, Team
from audit_app.services.users import UserChangeRefused, assign_reviewer, remove_assignment, set_active
from tests.forging import insert_unledgered
from tests.ledger.insider import named, superuser, verify
from tests.people import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(db) -> User:
    return make_user("oscar", "operator", None)


@pytest.fixture
def reviewer(db) -> User:
    return make_user("rita", "reviewer", None)


def test_each_change_is_ledgered_with_its_actor(operator: User, reviewer: User):
    Team.objects.create(name="Litigation")
    assign_reviewer("operator oscar", reviewer, "Litigation", ["legal", "clinical"], acting_user=operator)
    remove_assignment("operator oscar", reviewer, "Litigation", ["clinical"], acting_user=operator)
    set_active("operator oscar", reviewer.pk, False, acting_user=operator)
    set_active("manage.py (root)", reviewer.pk, True)
    events = list(AccountEvent.objects.order_by("id").values_list("action", "domain", "actor_id", "actor_name"))
    assert events == [
        ("assign", "legal", operator.pk, "operator oscar"),
        ("assign", "clinical", operator.pk, "operator oscar"),
        ("unassign", "clinical", operator.pk, "operator oscar"),
        ("deactivate", "", operator.pk, "operator oscar"),
        ("reactivate", "", None, "manage.py (root)"),
    ]
    for event in AccountEvent.objects.all():
        assert LedgerEntry.objects.filter(subject=f"account:{event.pk}").count() == 1
    assert verify().ok


def test_a_refused_change_ledgers_nothing(operator: User, reviewer: User):
    before = LedgerEntry.objects.count()
    with pytest.raises(UserChangeRefused):
        assign_reviewer("operator oscar", reviewer, "No such team", ["legal"], acting_user=operator)
    with pytest.raises(UserChangeRefused):
        set_active("operator oscar", operator.pk, False, acting_user=operator)  # oneself
    assert LedgerEntry.objects.count() == before
    assert not AccountEvent.objects.exists()


def test_forged_and_edited_account_events_are_named(operator: User, reviewer: User):
    set_active("operator oscar", reviewer.pk, False, acting_user=operator)
    real = AccountEvent.objects.get()
    forged = insert_unledgered(
        AccountEvent(
            action="assign",
            user=reviewer,
            username="rita",
            team_name="Litigation",
            domain="legal",
            actor=operator,
            actor_name="operator oscar",
            record_sha256="0" * 64,
        )
    )
    superuser("audit_app_accountevent", "UPDATE audit_app_accountevent SET actor_name = %s WHERE id = %s", "x", real.pk)
    report = verify()
    assert not report.ok
    assert {("audit_app_accountevent", str(forged.pk)), ("audit_app_accountevent", str(real.pk))} <= named(report)


def test_odd_but_valid_names_verify_clean(operator: User):
    Team.objects.create(name="Équipe 法务 🚀 d'O'Brien ‮")
    odd = make_user("o'brien.مراجع", "reviewer", None)
    assign_reviewer("operator oscar (id 1) — «test»", odd, "Équipe 法务 🚀 d'O'Brien ‮", ["finance"], operator)
    set_active("manage.py (rôot)", odd.pk, False)
    report = verify()
    assert report.ok, report.problems


def test_review_scope_added_or_removed_outside_glassbox_is_named(operator: User, reviewer: User):
    team = Team.objects.create(name="Litigation")
    assign_reviewer("operator oscar", reviewer, "Litigation", ["legal", "finance"], acting_user=operator)
    remove_assignment("operator oscar", reviewer, "Litigation", ["finance"], acting_user=operator)
    assert verify().ok
    # An insider with the app role: scope given with no ledgered event, scope given back after its removal,
    # and ledgered scope taken away, each a plain row change the grants allow.
    never = ReviewerAssignment.objects.create(user=reviewer, team=team, domain="clinical")
    again = ReviewerAssignment.objects.create(user=reviewer, team=team, domain="finance")
    ReviewerAssignment.objects.filter(domain="legal").delete()
    report = verify()
    assert not report.ok
    assert {("audit_app_reviewerassignment", str(never.pk)), ("audit_app_reviewerassignment", str(again.pk))} <= named(
        report
    )
    messages = [str(problem) for problem in report.problems]
    assert any("was never ledgered" in m for m in messages)
    assert any("was last ledgered as removed" in m for m in messages)
    assert any("in legal was ledgered as assigned, but its assignment row is gone" in m for m in messages)


def test_a_renamed_team_keeps_its_scope_verified(operator: User, reviewer: User):
    team = Team.objects.create(name="Litigation")
    assign_reviewer("operator oscar", reviewer, "Litigation", ["legal"], acting_user=operator)
    Team.objects.filter(pk=team.pk).update(name="Disputes")  # the scope names the team by id
    assert verify().ok
