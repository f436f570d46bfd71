from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser, sync_playwright

from audit_app.models import Job, Team
from tests.factories import FinishedJobFactory
from tests.people import make_user
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


@pytest.fixture
def other_team(db) -> Team:
    return Team.objects.create(name="Tax")


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


@pytest.fixture
def clinical(analyst: User) -> Job:
    return FinishedJobFactory(submitter=analyst, domain="clinical")
