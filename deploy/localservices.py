"""Local PostgreSQL and Redis for the demo and the tests: loopback only, data under a ``var/`` folder.

Used by ``deploy/demo`` and by the test suite's service plugin.

PostgreSQL refuses to run as root, so as root its cluster belongs to the ``postgres`` system user. That
user cannot reach a clone inside a private home (``/root`` is mode 0700), and loosening that mode is not
ours to do, so as root the cluster lives in the ``postgres`` user's home instead, in a folder named after
the ``var`` folder it serves (``glassbox/<path>-<hash>``): two clones never share one. Everything else stays
under ``var``.

A server is reused only when it is provably ours: Redis by the pid file in our folder and that process's
working directory (``--dir``), PostgreSQL by its data directory. A server that merely answers on the port
(a clone deleted with its Redis still running, say) is refused with a sentence, never silently used.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

DATABASE = "glassbox"
ROLE = "glassbox"
SERVER_USER = "postgres"  # the account PostgreSQL runs as when we are root


def _pg_bin() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True)
    if candidates:
        return Path(candidates[0])
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    raise SystemExit("PostgreSQL server binaries were not found; run deploy/setup (it installs them).")


def pg_binary(name: str) -> Path:
    """One of the PostgreSQL server's programs (pgbench, psql, …) from the same installation."""
    return _pg_bin() / name


def cluster_folder(var: Path) -> Path:
    """Where the cluster for ``var`` lives: ``var`` itself, or as root a folder the server user owns."""
    var = var.resolve()
    if os.geteuid() != 0 or (var / "pg" / "PG_VERSION").exists():  # the latter: a cluster made before this rule
        return var
    slug = re.sub(r"[^A-Za-z0-9]+", "-", str(var)).strip("-")[-40:]
    digest = hashlib.sha256(str(var).encode()).hexdigest()[:10]
    return Path(pwd.getpwnam(SERVER_USER).pw_dir) / "glassbox" / f"{slug}-{digest}"


def _as_owner(command: list[str]) -> list[str]:
    return ["runuser", "-u", SERVER_USER, "--", *command] if os.geteuid() == 0 else command


def _owned_folder(folder: Path, mode: int = 0o700) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(folder, SERVER_USER, SERVER_USER)
    folder.chmod(mode)


def one_sentence(output: str) -> str:
    """PostgreSQL's own complaint from a tool's output, as one sentence: its error lines, else its last line."""
    # The server's log lines start "2026-11-24 16:15:29.287 UTC [10324] LOG:  "; only the words after count.
    lines = [re.sub(r"^.*?\[\d+\]\s+(LOG|WARNING):\s+", "", line).strip() for line in output.splitlines()]
    lines = [re.sub(r"^.*?\[\d+\]\s+", "", line) for line in lines if line]
    errors = [line for line in lines if re.search(r"\b(error|fatal|panic)\b|could not|cannot", line, re.I)]
    chosen = "; ".join(dict.fromkeys(errors or lines[-1:])) or "no message"
    return chosen.rstrip(".") + "."


def _pg(command: list[str], what: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL tool; a failure exits with its own message in one sentence, not a traceback."""
    result = subprocess.run(command, capture_output=True, text=True, cwd=cwd)
    if result.returncode != 0:
        raise SystemExit(f"{what} failed: {one_sentence(result.stderr or result.stdout)}")
    return result


def init_cluster(data: Path) -> None:
    """``initdb`` into ``data`` (which must not hold a cluster yet) as the server's user."""
    command = [str(_pg_bin() / "initdb"), "-D", str(data), "-U", ROLE, "--auth=trust", "-E", "UTF8"]
    # cwd: the server user may not be able to enter ours (a clone in /root).
    _pg(_as_owner([*command, "--locale=C.UTF-8"]), f"initdb of {data}", cwd=Path("/"))


def _running_port(data: Path) -> int | None:
    """The port of the server running on ``data``, or None when none runs."""
    status = subprocess.run(
        _as_owner([str(_pg_bin() / "pg_ctl"), "-D", str(data), "status"]), capture_output=True, cwd="/"
    )
    if status.returncode != 0:
        return None
    with contextlib.suppress(OSError, IndexError, ValueError):
        return int((data / "postmaster.pid").read_text().splitlines()[3])
    return -1


def start_postgres(var: Path, port: int, fast: bool = False) -> str:
    """Start (or reuse our own) cluster for ``var`` on 127.0.0.1:``port``; returns its database URL."""
    binaries, base = _pg_bin(), cluster_folder(var)
    data, run = base / "pg", base / "pg-run"  # pg-run holds the log
    if base != var.resolve():
        _owned_folder(base)
    _owned_folder(data)
    _owned_folder(run, 0o755)
    if not (data / "PG_VERSION").exists():
        init_cluster(data)
    running = _running_port(data)
    if running not in (None, port):  # ours, left on another port by an earlier run
        stop_postgres(var)
        running = None
    if running is None:
        # TCP on loopback only, no Unix socket: a socket path under a deep folder can pass the 107-byte limit.
        options = f"-p {port} -k '' -c listen_addresses=127.0.0.1"
        if fast:  # tests throw their data away; durability only costs time there
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        log = run / "postgres.log"
        before = log.stat().st_size if log.exists() else 0  # the log is appended to: read this start's lines only
        started = subprocess.run(
            _as_owner([str(binaries / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start"]),
            capture_output=True,
            text=True,
            cwd="/",
        )
        if started.returncode != 0:
            output = log.read_bytes()[before:].decode(errors="replace") if log.exists() else started.stderr
            raise SystemExit(
                f"PostgreSQL did not start on 127.0.0.1:{port}: {one_sentence(output)} "
                "If another server holds that port, stop it or choose another port (docs/configuration.md)."
            )
    connect = ["-h", "127.0.0.1", "-p", str(port), "-U", ROLE]
    query = f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"
    exists = _pg([str(binaries / "psql"), *connect, "-d", "postgres", "-tAc", query], "psql", cwd=Path("/"))
    if exists.stdout.strip() != "1":
        _pg([str(binaries / "createdb"), *connect, DATABASE], "createdb", cwd=Path("/"))
    return f"postgresql://{ROLE}@127.0.0.1:{port}/{DATABASE}"


def fresh_database(port: int, name: str) -> str:
    """Drop and recreate database ``name`` on the local server at ``port`` (benchmarks start empty); its URL."""
    psql = [str(_pg_bin() / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", ROLE, "-d", "postgres", "-qc"]
    _pg([*psql, f"DROP DATABASE IF EXISTS {name}"], "psql", cwd=Path("/"))
    _pg([*psql, f"CREATE DATABASE {name}"], "psql", cwd=Path("/"))
    return f"postgresql://{ROLE}@127.0.0.1:{port}/{name}"


def postgres_pid(var: Path) -> int | None:
    """The postmaster's pid for ``var``'s cluster, from its pid file, or None."""
    with contextlib.suppress(OSError, IndexError, ValueError):
        return int((cluster_folder(var) / "pg" / "postmaster.pid").read_text().splitlines()[0])
    return None


def stop_postgres(var: Path) -> None:
    data = cluster_folder(var) / "pg"
    if (data / "PG_VERSION").exists():
        subprocess.run(
            _as_owner([str(_pg_bin() / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
            capture_output=True,
            cwd="/",
        )


def _redis_pid(folder: Path) -> int | None:
    """The pid of the Redis we started with files in ``folder``, if it still runs there."""
    try:
        pid = int((folder / "redis.pid").read_text().strip())
        running_in = os.readlink(f"/proc/{pid}/cwd")  # redis-server chdirs into --dir
    except (OSError, ValueError):
        return None
    return pid if running_in == str(folder) else None


def start_redis(var: Path, port: int) -> str:
    """Start (or reuse our own) Redis on 127.0.0.1:``port`` with its files in ``var/redis``; returns its URL."""
    folder = var.resolve() / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    url = f"redis://127.0.0.1:{port}/0"
    if redis_answers(port):
        if _redis_pid(folder) is not None:
            return url
        raise SystemExit(
            f"Something already answers on 127.0.0.1:{port} that was not started from {folder} (perhaps a Redis "
            f"left by a deleted clone); stop it (redis-cli -p {port} shutdown) or choose another port."
        )
    server = shutil.which("redis-server")
    if server is None:
        raise SystemExit("redis-server was not found; run deploy/setup (it installs it).")
    started = subprocess.run(
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
        ],
        capture_output=True,
        text=True,
    )
    if started.returncode != 0:
        raise SystemExit(f"Redis did not start on port {port}: {one_sentence(started.stderr or started.stdout)}")
    deadline = time.monotonic() + 10
    while not redis_answers(port):
        if time.monotonic() > deadline:
            raise SystemExit(f"Redis did not start on port {port}; see {folder / 'redis.log'}.")
        time.sleep(0.05)
    return url


def redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def stop_redis(var: Path, port: int) -> None:
    """Stop our Redis (by its pid file) and wait until the port is quiet; never touches another's."""
    pid = _redis_pid(var.resolve() / "redis")
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 15)
        deadline = time.monotonic() + 10
        while redis_answers(port) and time.monotonic() < deadline:
            time.sleep(0.05)


def free_port() -> int:
    """A TCP port nobody listens on now (the kernel's pick), for a run that must share nothing."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
