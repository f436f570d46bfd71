"""Real Celery worker and beat processes for integration tests, started from the command lines that
docs/operations.md documents, pointed at the test database."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = ROOT / "docs" / "operations.md"


def documented_commands() -> dict[str, str]:
    """Each part's command line from the ``sh`` block under "Running the service", keyed by the first word of
    the comment above it (``web``, ``inference``, ``control``, ``beat``)."""
    section = OPERATIONS.read_text().split("## Running the service", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None, "docs/operations.md has no sh block under 'Running the service'"
    commands, part = {}, ""
    for line in block.group(1).splitlines():
        if line.startswith("#"):
            part = line[1:].split(":")[0].split()[0]
        elif line.strip():
            commands[part] = line.strip()
    return commands


def _environment(overrides: dict[str, str] | None = None) -> dict[str, str]:
    database = settings.DATABASES["default"]
    env = dict(os.environ) | (overrides or {})
    env["DATABASE_URL"] = f"postgresql://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    env["PYTHONPATH"] = str(ROOT)  # they run in the test's own directory, where beat keeps its schedule file
    return env


def start_documented(part: str, log: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start ``part`` exactly as documented (``celery`` is this interpreter's), plus ``extra`` options, in its
    own process group so a test can kill it whole."""
    words = shlex.split(documented_commands()[part])
    assignments = dict(word.split("=", 1) for word in words if re.fullmatch(r"[A-Z_]+=\S*", word))
    command = [word for word in words if word.split("=", 1)[0] not in assignments]
    assert command[0] == "celery", f"{part}: only Celery parts are started by tests"
    handle = log.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", *command, *extra],
        cwd=log.parent,
        env=_environment(assignments | (env or {})),
        stdout=handle,
        stderr=handle,
        start_new_session=True,
    )


def start_celery(part: str, log: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """``part`` (``inference``, ``control`` or ``beat``) as documented, logging at INFO; workers get a unique
    name and skip gossip and mingle so they start fast."""
    options = ["--loglevel=INFO", *extra]
    if part != "beat":
        options += ["--without-gossip", "--without-mingle", "-n", f"{part}-{time.monotonic_ns()}@%h"]
    return start_documented(part, log, *options, env=env)


def pool_children(process: subprocess.Popen[bytes]) -> list[int]:
    """Process ids of a worker's pool processes."""
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    return [int(pid) for pid in children]


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_for(condition: Callable[[], object], timeout: float = 60, what: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
