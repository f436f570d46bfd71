"""The demo as a newcomer meets it: it comes up on its own ports and folder, a demo user logs in over HTTP,
it prints the verifier key it signs with (at first start and after a restart) and never asks to set what
it sets, and every command of docs/verification.md runs verbatim against it through deploy/manage."""

from __future__ import annotations

import http.cookiejar
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import localservices
import pytest

from tests.services_plugin import TINY_MODEL

ROOT = Path(__file__).resolve().parents[2]
VERIFICATION = ROOT / "docs" / "verification.md"
NOT_INHERITED = ("GLASSBOX_", "DJANGO_", "MAGISTRAL_", "DATABASE_URL", "REDIS_URL")  # the test run's settings
ONE_QUESTION = """
import time
from django.contrib.auth.models import User
from audit_app.models import Job, Team
from audit_app.services.submission import submit_job
from inference import GenerationSettings
job = submit_job(User.objects.get(username="analyst"), Team.objects.get(name="Demo team"), "C-1", "legal",
                 "Is a verbal contract binding?", generation=GenerationSettings(thinking_budget=8, answer_budget=8))
deadline = time.monotonic() + 180
while job.status not in Job.FINISHED and time.monotonic() < deadline:
    time.sleep(0.3)
    job.refresh_from_db()
print(job.status, job.run.pk if job.status == Job.SUCCEEDED else "")
"""


def documented_commands() -> list[str]:
    """Every command line of the ``sh`` blocks in docs/verification.md, in order, trailing comments removed."""
    blocks = re.findall(r"```sh\n(.*?)```", VERIFICATION.read_text(), re.S)
    lines = [line.split("   #")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


class Demo:
    def __init__(self, var: Path) -> None:
        self.var, self.port = var, localservices.free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(NOT_INHERITED)}
        self.env |= {
            "GLASSBOX_DEMO_VAR": str(var),
            "GLASSBOX_DEMO_PORT": str(self.port),
            "GLASSBOX_DEMO_PG_PORT": str(localservices.free_port()),
            "GLASSBOX_DEMO_REDIS_PORT": str(localservices.free_port()),
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.output = var.parent / "demo-output.txt"

    def start(self) -> str:
        """Start deploy/demo.py (deploy/demo is that after deploy/setup); returns what it printed once up."""
        log = self.output.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "deploy" / "demo.py")],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 300
        while "Glassbox is up" not in (text := self.output.read_text()):
            assert self.process.poll() is None, f"the demo stopped:\n{text}"
            assert time.monotonic() < deadline, f"the demo did not come up:\n{text}"
            time.sleep(0.5)
        return text

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    var = tmp_path / "var-demo"
    shutil.copytree(TINY_MODEL, var / "tiny-model")  # the demo would build the same one, more slowly
    running = Demo(var)
    try:
        yield running
    finally:
        running.stop()
        localservices.stop_redis(var, int(running.env["GLASSBOX_DEMO_REDIS_PORT"]))  # after a failed test too
        localservices.stop_postgres(var)
        shutil.rmtree(localservices.cluster_folder(var), ignore_errors=True)


def printed_key(output: str) -> str:
    match = re.search(r"Ledger verifier key for auditors \(also in .*\):\n  (\S+)\n", output)
    assert match is not None, output
    return match.group(1)


def log_in(port: int, output: str) -> str:
    """Log in as the printed analyst over HTTP; returns the page the log-in lands on."""
    match = re.search(r"analyst\s+password (\S+)", output)
    assert match is not None, output
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            form = opener.open(f"{base}/login/", timeout=10).read().decode()
            break
        except OSError:
            assert time.monotonic() < deadline, "the web server never answered"
            time.sleep(0.5)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
    assert token is not None
    data = {"csrfmiddlewaretoken": token.group(1), "username": "analyst", "password": match.group(1)}
    landed = opener.open(f"{base}/login/", urllib.parse.urlencode(data).encode(), timeout=30)
    assert urllib.parse.urlparse(landed.geturl()).path == "/"
    return landed.read().decode()


def test_the_demo_prints_its_key_and_the_documented_verification_runs_verbatim(demo: Demo, tmp_path: Path):
    first = demo.start()
    key = printed_key(first)
    assert key.startswith("glassbox.demo/ledger+")
    assert not re.search(r"\b[Ss]et [A-Z][A-Z_]+=", first), first  # it never asks for what it sets itself
    assert "analyst" in log_in(demo.port, first)

    manage = [str(ROOT / "deploy" / "manage"), "shell", "-v0", "-c", ONE_QUESTION]
    asked = subprocess.run(manage, env=demo.env, capture_output=True, text=True, timeout=300)
    assert asked.stdout.split() == ["succeeded", "1"], asked.stdout + asked.stderr

    work = tmp_path / "auditor"
    work.mkdir()
    (work / "deploy").symlink_to(ROOT / "deploy")
    shutil.copy(ROOT / "audit_app" / "ledger" / "standalone.py", work)
    shims = tmp_path / "bin"
    shims.mkdir()
    (shims / "python").write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    (shims / "python").chmod(0o755)
    env = demo.env | {"PATH": f"{shims}:{os.environ['PATH']}"}
    commands = documented_commands()
    assert [command.split()[:2] for command in commands] == [
        ["deploy/manage", "verify_ledger"],
        ["deploy/manage", "export_bundle"],
        ["deploy/manage", "ledger_public_key"],
        ["python", "standalone.py"],
    ]
    results = [subprocess.run(["bash", "-c", c], cwd=work, env=env, capture_output=True, text=True) for c in commands]
    for command, result in zip(commands, results, strict=True):
        assert result.returncode == 0, f"{command}: {result.stdout}{result.stderr}"
    assert results[0].stdout.startswith("Ledger verified: ")
    assert results[3].stdout.startswith("VALID: ")
    assert (work / "glassbox.vkey").read_text().strip() == key  # what the demo printed is what auditors need

    demo.stop()
    again = demo.start()
    assert printed_key(again[len(first) :] if again.startswith(first) else again) == key


def test_deploy_manage_without_a_demo_says_so(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(NOT_INHERITED)}
    done = subprocess.run(
        [str(ROOT / "deploy" / "manage"), "verify_ledger"],
        env=env | {"GLASSBOX_DEMO_VAR": str(tmp_path / "none")},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    expected = f"There are no demo settings in {tmp_path / 'none'}/env; start the demo first (deploy/demo).\n"
    assert done.stderr == expected


def test_a_demo_that_fails_to_start_leaves_no_server_behind(demo: Demo):
    demo.env["DJANGO_PASSWORD_MIN_LENGTH"] = "twelve"  # the settings refuse it: every manage.py command fails
    done = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "demo.py")], env=demo.env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 1
    assert "Making the demo's ledger key failed: " in done.stderr
    assert 'File "' + str(ROOT / "deploy") not in done.stderr  # a sentence, not the demo's traceback
    assert "Ready to accept connections" in (demo.var / "redis" / "redis.log").read_text()  # both had started
    assert (localservices.cluster_folder(demo.var) / "pg" / "PG_VERSION").exists()
    for port in (demo.env["GLASSBOX_DEMO_REDIS_PORT"], demo.env["GLASSBOX_DEMO_PG_PORT"]):
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", int(port))) != 0, f"a server still listens on {port}"
