"""Not collected by default: tests/deploy/test_test_command_servers.py runs it in its own pytest process.
It records the servers the plugin started for it, then fails unless told to pass."""

from __future__ import annotations

import json
import os

import localservices

from tests.services_plugin import PG_PORT, REDIS_PORT, VAR


def test_record_servers_then_fail_unless_told():
    pid = (VAR / "redis" / "redis.pid").read_text().strip()
    servers = {"redis": [int(pid), REDIS_PORT], "postgres": [localservices.postgres_pid(VAR), PG_PORT]}
    (VAR / "servers.json").write_text(json.dumps(servers))
    assert os.environ.get("GLASSBOX_INNER_PASS") == "1", "this run fails on purpose"
