"""The demo's users: two reviewers (for four eyes on clinical jobs) who review the Demo team's jobs in every
domain through their scope, not as its members; printed names and e-mail addresses for signatures and mail."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from audit_app.models import ReviewerAssignment, Team
from audit_app.models.organisation import DOMAINS

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_two_scoped_reviewers_with_printed_names():
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    call_command("seed_demo", stdout=out)  # the demo seeds on every start: running it again changes nothing else
    team = Team.objects.get(name="Demo team")
    users = {u.username: u for u in User.objects.all()}
    assert sorted(users) == ["analyst", "auditor", "operator", "reviewer", "reviewer2"]
    for username, user in users.items():
        assert user.first_name, username
        assert user.last_name, username
        assert user.email == f"{username}@demo.invalid"
        assert user.is_active
        assert user.get_full_name() in out.getvalue()
    assert users["reviewer"].get_full_name() != users["reviewer2"].get_full_name()
    for reviewer in ("reviewer", "reviewer2"):
        scope = sorted(
            ReviewerAssignment.objects.filter(user=users[reviewer], team=team).values_list("domain", flat=True)
        )
        assert scope == sorted(d for d, _ in DOMAINS)
    assert list(team.members.values_list("username", flat=True)) == ["analyst"]
    assert "reviewer2 password " in out.getvalue()
