"""Real Celery worker and beat processes for integration tests, pointed at the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def _environment(overrides: dict[str, str] | None = None) -> dict[str, str]:
    database = settings.DATABASES["default"]
    env = dict(os.environ) | (overrides or {})
    env["DATABASE_URL"] = f"postgresql://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    return env


def start_celery(kind: str, log: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """``kind`` is ``worker`` or ``beat``; its own process group so a test can kill it whole."""
    command = [sys.executable, "-m", "celery", "-A", "audit_app", kind, "--loglevel=INFO", *extra]
    if kind == "worker":
        command += ["-Q", "inference,celery", "-c", "1", "-P", "prefork", "--without-gossip", "--without-mingle",
                    "-n", f"test-{time.monotonic_ns()}@%h"]  # fmt: skip
    else:
        command += ["--schedule", str(log.with_suffix(".schedule"))]
    handle = log.open("ab")
    return subprocess.Popen(command, cwd=ROOT, env=_environment(env), stdout=handle, stderr=handle,
                            start_new_session=True)  # fmt: skip


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
