"""The operator's Users page: every account with roles, teams, scope, active flag and last log-in; POST
actions for operators only (CSRF-checked); bad input refused with a sentence and nothing stored; no case content."""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from audit_app.models import ReviewerAssignment
from tests.factories import FinishedJobFactory
from tests.people import make_user

pytestmark = pytest.mark.django_db
SECRET = "SECRET-QUESTION was the lease extended?"


def client_for(user: User, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def state() -> tuple[list[tuple[str, bool]], list[tuple[str, str, str]]]:
    users = sorted(User.objects.values_list("username", "is_active"))
    scope = sorted(ReviewerAssignment.objects.values_list("user__username", "team__name", "domain"))
    return users, scope


def test_the_users_page_lists_every_account_and_no_case_content(analyst, reviewer, operator, team):
    FinishedJobFactory(submitter=analyst, question=SECRET)
    client_for(analyst)  # a log-in: last_login is set
    response = client_for(operator).get(reverse("operator-users"))
    html = response.content.decode()
    assert response.status_code == 200
    rita = html.split(f'data-user="{reviewer.pk}"', 1)[1].split("</tr>", 1)[0]
    assert "Rita Reviewer" in rita
    assert "reviewer" in rita
    assert "Litigation, clinical" in rita
    assert "Litigation, legal" in rita
    assert reverse("operator-user-assign", args=[reviewer.pk]) in rita  # a reviewer can be given more scope
    alice = html.split(f'data-user="{analyst.pk}"', 1)[1].split("</tr>", 1)[0]
    assert "analyst" in alice
    assert "<td>Litigation</td>" in alice
    assert "never" not in alice
    assert reverse("operator-user-assign", args=[analyst.pk]) not in alice
    assert reverse("operator-user-deactivate", args=[analyst.pk]) in alice
    mine = html.split(f'data-user="{operator.pk}"', 1)[1].split("</tr>", 1)[0]
    assert reverse("operator-user-deactivate", args=[operator.pk]) not in mine  # no button to lock yourself out
    assert "SECRET" not in html
    assert "lease" not in html
    assert 'href="/operator/users/">Users</a>' in html  # the navigation link, for operators


@pytest.mark.parametrize("role", ["analyst", "reviewer", "auditor"])
def test_only_operators_see_or_change_users(role, team, reviewer):
    other = make_user("someone", role, team)
    client = client_for(other)
    assert client.get(reverse("operator-users")).status_code == 403
    before = state()
    assert client.post(reverse("operator-user-deactivate", args=[reviewer.pk])).status_code == 403
    assert (
        client.post(
            reverse("operator-user-unassign", args=[reviewer.pk]), {"team": "Litigation", "domain": "legal"}
        ).status_code
        == 403
    )
    assert state() == before
    assert 'href="/operator/users/"' not in client.get(reverse("job-list")).content.decode()
    anonymous = Client().get(reverse("operator-users"))
    assert anonymous.status_code == 302
    assert reverse("login") in anonymous["Location"]


def test_an_operator_deactivates_reactivates_and_changes_scope_logged(operator, reviewer, caplog):
    client = client_for(operator)
    with caplog.at_level(logging.INFO, logger="audit_app.users"):
        response = client.post(reverse("operator-user-deactivate", args=[reviewer.pk]), follow=True)
        assert "rita is now deactivated." in response.content.decode()
        assert not User.objects.get(pk=reviewer.pk).is_active
        client.post(reverse("operator-user-reactivate", args=[reviewer.pk]))
        assert User.objects.get(pk=reviewer.pk).is_active
        client.post(reverse("operator-user-assign", args=[reviewer.pk]), {"team": "Litigation", "domain": "finance"})
        client.post(reverse("operator-user-unassign", args=[reviewer.pk]), {"team": "Litigation", "domain": "legal"})
    assert state()[1] == [("rita", "Litigation", "clinical"), ("rita", "Litigation", "finance")]
    logged = [r.getMessage() for r in caplog.records if r.name == "audit_app.users"]
    assert len(logged) == 4
    assert all(m.startswith(f"operator oscar (id {operator.pk}) ") for m in logged)
    assert "deactivated user rita" in logged[0]


@pytest.mark.parametrize(
    ("action", "data", "sentence"),
    [
        ("operator-user-assign", {"team": "Nowhere", "domain": "legal"}, "There is no team named &#x27;Nowhere&#x27;"),
        ("operator-user-assign", {"team": "Litigation", "domain": "astrology"}, "Unknown domain &#x27;astrology&#x27;"),
        ("operator-user-assign", {"team": "Litigation", "domain": "legal"}, "rita already reviews Litigation in legal"),
        ("operator-user-unassign", {"team": "Litigation", "domain": "finance"}, "rita does not review Litigation"),
    ],
)
def test_bad_scope_changes_are_refused_with_a_sentence(operator, reviewer, action, data, sentence):
    before = state()
    response = client_for(operator).post(reverse(action, args=[reviewer.pk]), data)
    assert response.status_code == 400
    assert sentence in response.content.decode()
    assert "nothing was changed" in response.content.decode().lower()
    assert state() == before


def test_assigning_a_non_reviewer_deactivating_yourself_or_nobody_is_refused(operator, analyst):
    client = client_for(operator)
    before = state()
    refused = client.post(reverse("operator-user-assign", args=[analyst.pk]), {"team": "Litigation", "domain": "legal"})
    assert refused.status_code == 400
    assert "alice does not have the reviewer role" in refused.content.decode()
    refused = client.post(reverse("operator-user-deactivate", args=[operator.pk]))
    assert refused.status_code == 400
    assert "You cannot deactivate your own account" in refused.content.decode()
    refused = client.post(reverse("operator-user-deactivate", args=[999_999]))
    assert refused.status_code == 400
    assert "There is no user with id 999999" in refused.content.decode()
    refused = client.post(reverse("operator-user-reactivate", args=[analyst.pk]))
    assert refused.status_code == 400
    assert "alice is already active" in refused.content.decode()
    assert state() == before
    assert client.get(reverse("operator-user-deactivate", args=[analyst.pk])).status_code == 405


def test_users_page_actions_need_a_csrf_token(operator, analyst):
    response = client_for(operator, csrf=True).post(reverse("operator-user-deactivate", args=[analyst.pk]))
    assert response.status_code == 403
    assert User.objects.get(pk=analyst.pk).is_active
