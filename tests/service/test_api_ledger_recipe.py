"""The monitor's recipe in docs/api.md ("Proofs for outside monitors") runs as written: its ``curl`` lines
against a live server with a real key, then the copied standalone verifier with ``--since``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from audit_app.ledger import standalone
from audit_app.ledger.signer import sign_now
from audit_app.models import Team
from audit_app.services.access_events import record_access
from audit_app.services.api_keys import create_key

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)


def section_blocks() -> list[str]:
    """The ``sh`` blocks of the section, in order (list items indent theirs)."""
    text = (ROOT / "docs" / "api.md").read_text()
    section = text.split("## Proofs for outside monitors", 1)[1].split("\n## ", 1)[0]
    return [unindent(block) for block in re.findall(r"^ *```sh\n(.*?)^ *```", section, re.S | re.M)]


def unindent(block: str) -> str:
    return "\n".join(line.strip() for line in block.splitlines() if line.strip())


def grow(entries: int) -> None:
    for number in range(entries):
        record_access(None, "view", f"job:{number}", actor_name="recipe test")


def test_the_documented_monitor_recipe_runs_as_written(live_server, tmp_path: Path):
    blocks = section_blocks()
    assert len(blocks) == 5, blocks  # the key, the examples, then the recipe's three steps
    # The demo's command; the key itself is made here.
    assert blocks[0].startswith("GLASSBOX_KEY=$(deploy/manage api_key create")
    key = create_key("Monitor", Team.objects.create(name="Demo team"), "read", None, "test setup").secret
    shutil.copy(standalone.__file__, tmp_path / "standalone.py")
    shims = tmp_path / "bin"
    shims.mkdir()
    (shims / "python").write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    (shims / "python").chmod(0o755)
    env = {**os.environ, "GLASSBOX_KEY": key, "PATH": f"{shims}:{os.environ['PATH']}"}

    def run(block: str) -> str:
        script = "set -euo pipefail\n" + block.replace("http://localhost:8000", live_server.url)
        done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout

    grow(5)
    sign_now()
    examples = run(blocks[1])
    assert '"root_hash"' in examples
    assert '"inclusion_proof"' in examples
    assert "glassbox.test/ledger+" in examples
    run(blocks[2])
    assert (tmp_path / "old-checkpoint.txt").read_text().startswith("glassbox.test/ledger\n")
    grow(40)
    sign_now()
    run(blocks[3])
    verified = run(blocks[4])
    assert verified.startswith("VALID: The log glassbox.test/ledger at tree size"), verified
