from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from playwright.sync_api import Browser, sync_playwright

from audit_app.models import Job, Team
from audit_app.services.users import assign_reviewer
from tests.factories import FinishedJobFactory
from tests.service.processes import start_celery, stop

# Debian's Chromium, never a browser download; these flags keep it quiet on a closed network.
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


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


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A real inference worker as documented (prefork, one child holding the model) on the test database."""
    from audit_app.celery import app

    app.control.purge()  # messages left by earlier tests belong to jobs that no longer exist
    process = start_celery("inference", tmp_path / "inference.log")
    yield process
    stop(process)


@pytest.fixture
def control_worker(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The control worker as documented: runs the sweep and checkpoint signing, never loads the model."""
    process = start_celery("control", tmp_path / "control.log")
    yield process
    stop(process)


@pytest.fixture
def beat(tmp_path: Path, control_worker: subprocess.Popen[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    """Beat, with the control worker that runs what it schedules."""
    process = start_celery("beat", tmp_path / "beat.log")
    yield process
    stop(process)


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Browser]:
    # Playwright's sync API keeps an event loop on this thread; the test's own ORM calls stay synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


def assign(user: User, team: Team, *domains: str) -> User:
    """Review scope as an operator gives it: through the service, so each assignment is a ledgered account event."""
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
    return FinishedJobFactory(submitter=analyst)


@pytest.fixture
def clinical(analyst: User) -> Job:
    return FinishedJobFactory(submitter=analyst, domain="clinical")
