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


WSGI = """
from audit_app import wsgi
from audit_app.services import prompts
print("loaded" if prompts._open.cache_info().currsize else "not loaded")
"""


def _import_wsgi(model_path: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "audit_app.settings", "MAGISTRAL_MODEL_PATH": model_path}
    return subprocess.run([sys.executable, "-c", WSGI], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_a_web_worker_loads_the_prompt_builder_before_its_first_request(tiny_model_dir: Path) -> None:
    done = _import_wsgi(str(tiny_model_dir))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "loaded"


def test_a_web_worker_starts_without_a_usable_model_folder_and_leaves_it_unloaded(
    tmp_path: Path,
) -> None:
    done = _import_wsgi(str(tmp_path))  # an empty folder: no weights, no tokenizer
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "not loaded"
    assert "Traceback" not in done.stderr
