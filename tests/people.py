"""People and a finished job for tests in any folder: a pytest plugin (pyproject's addopts), so the ledger's
and the service's review tests share one definition of Rita, Rolf, Alice and their team."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # a plugin is imported before Django is set up: models are imported where used
    from django.contrib.auth.models import User

    from audit_app.models import Job, Team


def make_user(username: str, role: str, team: Team | None) -> User:
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user(username, password="pw-" + username)
    user.groups.add(Group.objects.get_or_create(name=role)[0])  # transactional tests flush the migration's rows
    if team is not None:
        team.members.add(user)
    return user


@pytest.fixture
def team(db) -> Team:
    from audit_app.models import Team

    return Team.objects.create(name="Litigation")


@pytest.fixture
def analyst(team: Team) -> User:
    return make_user("alice", "analyst", team)


def assign(user: User, team: Team, *domains: str) -> User:
    """Review scope as an operator gives it: through the service, so each assignment is a ledgered account event."""
    from audit_app.services.users import assign_reviewer

    assign_reviewer("test setup", user, team.name, list(domains))
    return user


@pytest.fixture
def reviewer(team: Team) -> User:
    """Rita reviews the Litigation team's legal and clinical jobs."""
    user = make_user("rita", "reviewer", None)
    user.first_name, user.last_name = "Rita", "Reviewer"
    user.save()
    return assign(user, team, "legal", "clinical")


@pytest.fixture
def second_reviewer(team: Team) -> User:
    return assign(make_user("rolf", "reviewer", None), team, "legal", "clinical")


@pytest.fixture
def finished(analyst: User) -> Job:
    from tests.factories import FinishedJobFactory

    return FinishedJobFactory(submitter=analyst)
