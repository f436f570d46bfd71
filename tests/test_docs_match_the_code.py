"""The docs stay inside the repository and every claim of "tested" names a test that exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
TEST_REFERENCE = re.compile(r"`(tests/[\w/]+\.py)(?:::(\w+))?`")


def claims(text: str) -> list[str]:
    """Paragraphs and list items: the unit a "tested" claim and its reference must share."""
    units = re.split(r"\n\s*\n|\n(?=\s*[-|] )", text)
    return [" ".join(unit.split()) for unit in units if unit.strip()]


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: path.name)
def test_docs_link_nowhere_outside_the_repository(doc: Path):
    # A clone holds nothing beside itself: a "../" path must land on a file of this repository.
    for target in re.findall(r"(?:\]\(|`)(\.\./[^)`\s]*)", doc.read_text()):
        landed = (doc.parent / target).resolve()
        assert landed.is_relative_to(ROOT), f"{doc.name} points outside the clone: {target}"
        assert landed.exists(), f"{doc.name} points at {target}, which the clone does not hold"


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: path.name)
def test_every_tested_claim_says_where(doc: Path):
    for claim in claims(doc.read_text()):
        if re.search(r"\btested\b", claim, re.IGNORECASE):
            assert TEST_REFERENCE.search(claim), f"{doc.name}: a claim of 'tested' names no test: {claim[:160]}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: path.name)
def test_every_test_the_docs_name_exists(doc: Path):
    for path, name in TEST_REFERENCE.findall(doc.read_text()):
        assert (ROOT / path).is_file(), f"{doc.name} names {path}, which does not exist"
        if name:
            assert f"def {name}(" in (ROOT / path).read_text(), f"{doc.name} names {path}::{name}, not in it"


def test_the_checks_catch_what_they_are_for():
    # A check that cannot fail is a defect: the old wording ("(tested)" alone) is caught, a named test passes.
    assert not TEST_REFERENCE.search(claims("a clean prompt gets the template's own ids (tested).")[0])
    assert TEST_REFERENCE.search(claims("- seeds (tested on CPU: `tests/inference/test_generation.py`)")[0])
    assert claims("- one (tested)\n- two `tests/a.py`") == ["- one (tested)", "- two `tests/a.py`"]
