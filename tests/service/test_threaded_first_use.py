"""The first requests of a threaded web process (gunicorn gthread) may all need the prompt builder at once:
each must get it. transformers imports its tokenizer classes lazily, and that import is not safe to run in
several threads at once (seen as an ImportError when four submissions raced in a fresh process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RACE = """
import threading, django
django.setup()
from audit_app.services.prompts import prompt_builder
barrier, errors = threading.Barrier(8), []
def first_use():
    barrier.wait()
    try:
        prompt_builder().files
    except Exception as error:  # the test reports every one
        errors.append(repr(error))
threads = [threading.Thread(target=first_use) for _ in range(8)]
[t.start() for t in threads]
[t.join() for t in threads]
print(errors)
assert not errors
"""


def test_eight_threads_get_the_prompt_builder_at_first_use() -> None:
    for _ in range(3):  # a fresh process each time: the race is only at the very first use
        done = subprocess.run(
            [sys.executable, "-c", RACE],
            cwd=ROOT,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "audit_app.settings"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr[-2000:]
