"""The import contract (pyproject.toml, run by deploy/test) holds, and a violating import breaks it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=tree,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's packages and contract, copied so a test can add a forbidden import."""
    tree = tmp_path_factory.mktemp("contract")
    for package in ("audit_app", "inference"):
        shutil.copytree(ROOT / package, tree / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tree)
    return tree


def test_the_project_keeps_its_contract(copy: Path):
    done = lint(copy)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 kept, 0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("inference/errors.py", "import django", "inference is plain Python"),
        ("inference/extraction.py", "from audit_app.services import errors", "inference is plain Python"),
        ("audit_app/web/forms.py", "from audit_app.ledger import merkle", "Web reaches the ledger only"),
        ("audit_app/web/views.py", "from audit_app.services.store import store_evidence", "Only services write"),
        ("audit_app/tasks.py", "from audit_app.ledger.log import record_evidence", "Only services write"),
        ("audit_app/ledger/derived.py", "from audit_app.services import store", "Layers"),
        ("audit_app/models/jobs.py", "from audit_app.services import queueing", "Layers"),
    ],
)
def test_a_violating_import_breaks_the_contract(copy: Path, module: str, line: str, contract: str):
    path = copy / module
    original = path.read_text()
    path.write_text(original + f"\n{line}  # the violation under test\n")
    try:
        done = lint(copy)
    finally:
        path.write_text(original)
    assert done.returncode == 1, done.stdout + done.stderr
    broken = [row for row in done.stdout.splitlines() if row.endswith("BROKEN")]
    assert any(contract in row for row in broken), done.stdout
