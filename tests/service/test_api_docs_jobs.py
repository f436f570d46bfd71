"""The "Jobs" examples of docs/api.md run as written: the key from the documented command, then the curl
lines against a live server (only the host and port are swapped for the live server's)."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command

from audit_app.models import Job, Team

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)


def blocks() -> list[str]:
    section = (ROOT / "docs" / "api.md").read_text().split("\n## Jobs\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^```bash\n(.*?)^```", section, re.S | re.M)


def test_the_documented_job_examples_run_as_written(live_server) -> None:  # type: ignore[no-untyped-def]
    make_key, use = blocks()
    command = re.fullmatch(r"GLASSBOX_KEY=\$\(deploy/manage (.*) \| tail -n 1\)\n", make_key)
    assert command is not None, make_key
    Team.objects.create(name="Demo team")  # what seed_demo makes
    args = [a.strip('"') for a in re.findall(r'"[^"]*"|\S+', command[1])]  # the documented arguments, unquoted
    printed = io.StringIO()
    call_command(*args, stdout=printed)
    key = printed.getvalue().strip().splitlines()[-1]
    script = "set -euo pipefail\n" + use.replace("http://localhost:8000", live_server.url)
    env = {**os.environ, "GLASSBOX_KEY": key}
    done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    decoder, text = json.JSONDecoder(), done.stdout.strip()
    shown, end = decoder.raw_decode(text)  # curl prints each body without a newline after it
    listed, _ = decoder.raw_decode(text[end:].lstrip())
    job = Job.objects.get()
    assert shown["id"] == job.pk
    assert shown["case_reference"] == "M-4711"
    assert [j["id"] for j in listed["results"]] == [job.pk]
