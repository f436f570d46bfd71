from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

from audit_app.models import Team


def make_user(username: str, role: str, team: Team | None) -> User:
    user = User.objects.create_user(username, password="pw-" + username)
    user.groups.add(Group.objects.get_or_create(name=role)[0])  # transactional tests flush the migration's rows
    if team is not None:
        team.members.add(user)
    return user


@pytest.fixture
def team(db) -> Team:
    return Team.objects.create(name="Litigation")


@pytest.fixture
def other_team(db) -> Team:
    return Team.objects.create(name="Tax")


@pytest.fixture
def analyst(team: Team) -> User:
    return make_user("alice", "analyst", team)


@pytest.fixture
def outsider(other_team: Team) -> User:
    return make_user("olga", "analyst", other_team)


@pytest.fixture
def operator(db) -> User:
    return make_user("oscar", "operator", None)
