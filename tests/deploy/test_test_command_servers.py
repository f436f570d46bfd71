"""The test command's servers: every one it starts is stopped when the run ends, even a failed run, and a
server it did not start (a Redis left behind by a deleted clone) is refused, never reused."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import localservices
import pytest

from tests.services_plugin import TINY_MODEL

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def var(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "var"
    shutil.copytree(TINY_MODEL, folder / "tiny-model")  # building it again only costs time
    yield folder
    localservices.stop_postgres(folder)
    shutil.rmtree(localservices.cluster_folder(folder), ignore_errors=True)  # as root it lies outside tmp_path


def run_tests(var: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("GLASSBOX_TEST_", "DATABASE_URL"))}
    environment |= {"GLASSBOX_TEST_VAR": str(var), **env}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/deploy/servers_run.py"]
    return subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()


def test_a_failed_run_leaves_no_server_behind(var: Path):
    done = run_tests(var)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "this run fails on purpose" in done.stdout
    servers = json.loads((var / "servers.json").read_text())
    for name, (pid, port) in servers.items():
        assert not alive(pid), f"{name} (pid {pid}) still runs"
        assert not _listening(port), f"{name} still listens on {port}"


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_a_redis_it_did_not_start_is_refused_and_left_alone(var: Path, tmp_path: Path):
    deleted_clone = tmp_path / "deleted-clone" / "redis"
    port = localservices.free_port()
    localservices.start_redis(deleted_clone.parent, port)
    pid = int((deleted_clone / "redis.pid").read_text())
    shutil.rmtree(deleted_clone.parent)  # the clone is gone; its Redis is not
    try:
        done = run_tests(var, GLASSBOX_TEST_REDIS_PORT=str(port), GLASSBOX_INNER_PASS="1")
        assert done.returncode != 0
        assert f"Something already answers on 127.0.0.1:{port} that was not started from" in done.stderr
        assert "Traceback" not in done.stderr
        assert not (var / "servers.json").exists()
        assert localservices.redis_answers(port), "another clone's server was stopped"
        assert localservices.postgres_pid(var) is None or not alive(localservices.postgres_pid(var) or 0)
    finally:
        os.kill(pid, 15)


def test_a_passing_run_on_free_ports_stops_its_servers_too(var: Path):
    done = run_tests(var, GLASSBOX_INNER_PASS="1")
    assert done.returncode == 0, done.stdout + done.stderr
    for pid, _port in json.loads((var / "servers.json").read_text()).values():
        assert not alive(pid)
