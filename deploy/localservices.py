"""Local PostgreSQL and Redis for the demo and the tests: loopback only, data under a ``var/`` folder.

Used by ``deploy/demo`` and by the test suite's service plugin. PostgreSQL refuses to run as
root, so when we are root its cluster belongs to the ``postgres`` system user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import time
from pathlib import Path

DATABASE = "glassbox"
ROLE = "glassbox"


def _pg_bin() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True)
    if candidates:
        return Path(candidates[0])
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    raise SystemExit("PostgreSQL server binaries were not found; run deploy/setup (it installs them).")


def _as_owner(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, check=True, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]


def start_postgres(var: Path, port: int, fast: bool = False) -> str:
    """Start (or reuse) the cluster in ``var/pg`` on 127.0.0.1:``port``; returns its database URL."""
    binaries, var = _pg_bin(), var.resolve()
    data, sockets = var / "pg", var / "pg-run"  # pg-run holds the socket and the log
    for folder in (data, sockets):
        folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres", "postgres")
    data.chmod(0o700)
    if not (data / "PG_VERSION").exists():
        _run(
            _as_owner(
                [
                    str(binaries / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    ROLE,
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ]
            )
        )
    status = subprocess.run(_as_owner([str(binaries / "pg_ctl"), "-D", str(data), "status"]), capture_output=True)
    if status.returncode != 0:
        options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1"
        if fast:  # tests throw their data away; durability only costs time there
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        log = sockets / "postgres.log"
        started = subprocess.run(
            _as_owner([str(binaries / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start"]),
            capture_output=True,
            text=True,
        )
        if started.returncode != 0:
            last = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
            raise SystemExit(
                f"PostgreSQL did not start on 127.0.0.1:{port} ({last[0] if last else started.stderr.strip()}); "
                "if another server holds that port, stop it or choose another port (docs/configuration.md)."
            )
    exists = _run(
        [
            str(binaries / "psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-U",
            ROLE,
            "-d",
            "postgres",
            "-tAc",
            f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'",
        ]
    )
    if exists.stdout.strip() != "1":
        _run([str(binaries / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", ROLE, DATABASE])
    return f"postgresql://{ROLE}@127.0.0.1:{port}/{DATABASE}"


def stop_postgres(var: Path) -> None:
    data = var / "pg"
    if (data / "PG_VERSION").exists():
        subprocess.run(
            _as_owner([str(_pg_bin() / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]), capture_output=True
        )


def start_redis(var: Path, port: int) -> str:
    """Start (or reuse) Redis on 127.0.0.1:``port`` with its files in ``var/redis``; returns its URL."""
    folder = var.resolve() / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    url = f"redis://127.0.0.1:{port}/0"
    if redis_answers(port):
        return url
    server = shutil.which("redis-server")
    if server is None:
        raise SystemExit("redis-server was not found; run deploy/setup (it installs it).")
    _run(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(folder),
            "--daemonize",
            "yes",
            "--pidfile",
            str(folder / "redis.pid"),
            "--logfile",
            str(folder / "redis.log"),
            "--appendonly",
            "yes",
            "--save",
            "",
        ]
    )
    deadline = time.monotonic() + 10
    while not redis_answers(port):
        if time.monotonic() > deadline:
            raise SystemExit(f"Redis did not start on port {port}; see {folder / 'redis.log'}.")
        time.sleep(0.05)
    return url


def redis_answers(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def stop_redis(var: Path, port: int) -> None:
    pidfile = var / "redis" / "redis.pid"
    if pidfile.exists():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pidfile.read_text().strip()), 15)
    deadline = time.monotonic() + 10
    while redis_answers(port) and time.monotonic() < deadline:
        time.sleep(0.05)
