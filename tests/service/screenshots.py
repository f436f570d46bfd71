"""Screenshots from browser tests: always under var/screenshots/, and into docs/img/ only when asked.

A test run must not rewrite tracked files; ``GLASSBOX_UPDATE_DOCS_IMAGES=1 deploy/test tests/service`` refreshes
the pictures the docs show.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SAVED = ROOT / "var" / "screenshots"
DOCS = ROOT / "docs" / "img"


def save_screenshot(page: Any, name: str) -> Path:
    """Save ``page`` (a Playwright page) as ``name``.png; return where it was saved under var/."""
    SAVED.mkdir(parents=True, exist_ok=True)
    path = SAVED / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("GLASSBOX_UPDATE_DOCS_IMAGES") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS / f"{name}.png")
    return path
