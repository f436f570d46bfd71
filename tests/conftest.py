"""Shared fixtures: one tiny test model per session, and a private hash cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference.loading import force_offline
from inference.tiny_model import make_tiny_model

force_offline()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "model")
