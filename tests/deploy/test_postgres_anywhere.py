"""PostgreSQL for a clone in any directory: inside a private (0700) home as root, its cluster lives where
the server's user can reach it, one per clone, and the home keeps its mode. initdb's failures are one
sentence with PostgreSQL's own words, never a traceback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import localservices
import pytest


def test_a_clone_inside_a_private_home_gets_its_own_cluster(tmp_path: Path):
    home = tmp_path / "root-like-home"
    home.mkdir(mode=0o700)
    first, second = home / "clone-a" / "var" / "demo", home / "clone-b" / "var" / "demo"
    assert localservices.cluster_folder(first) != localservices.cluster_folder(second)
    port = localservices.free_port()
    try:
        url = localservices.start_postgres(first, port, fast=True)
        assert url == f"postgresql://glassbox@127.0.0.1:{port}/glassbox"
        psql = localservices._pg_bin() / "psql"
        answer = subprocess.run([psql, url, "-tAc", "SELECT current_database()"], capture_output=True, text=True)
        assert answer.stdout.strip() == "glassbox", answer.stderr
        assert (home.stat().st_mode & 0o777) == 0o700
    finally:
        localservices.stop_postgres(first)
        if os.geteuid() == 0:
            shutil.rmtree(localservices.cluster_folder(first))
    assert localservices.postgres_pid(first) is None or not Path(f"/proc/{localservices.postgres_pid(first)}").exists()


def test_a_failing_initdb_says_why_in_one_sentence(tmp_path: Path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)  # nobody but root may write here, and the server's user is never root
    if os.geteuid() == 0:
        shutil.chown(locked, "root", "root")
        locked.chmod(0o700)
    with pytest.raises(SystemExit) as failure:
        localservices.init_cluster(locked / "pg")
    message = str(failure.value)
    assert message.startswith(f"initdb of {locked / 'pg'} failed: initdb: error: could not ")
    assert "Permission denied" in message
    assert "\n" not in message
    assert message.endswith(".")


def test_a_port_already_taken_gives_the_servers_words_in_one_sentence(tmp_path: Path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(SystemExit) as failure:
            localservices.start_postgres(tmp_path / "var", port, fast=True)
    if os.geteuid() == 0:
        shutil.rmtree(localservices.cluster_folder(tmp_path / "var"))
    message = str(failure.value)
    assert message.startswith(f'PostgreSQL did not start on 127.0.0.1:{port}: could not bind IPv4 address "127.0.0.1"')
    assert "\n" not in message
    assert " UTC [" not in message


def test_a_cluster_already_in_var_stays_there(tmp_path: Path):
    """A clone whose demo data predates the move (var/demo/pg) keeps using it rather than starting empty."""
    (tmp_path / "var" / "pg").mkdir(parents=True)
    (tmp_path / "var" / "pg" / "PG_VERSION").write_text("15\n")
    assert localservices.cluster_folder(tmp_path / "var") == (tmp_path / "var").resolve()
