from __future__ import annotations

from pathlib import Path

import pytest

from inference.engine import Engine


@pytest.fixture(scope="session")
def engine(tiny_model_dir: Path) -> Engine:
    """The tiny model in bf16, loaded once: the generation tests share it."""
    return Engine.load(tiny_model_dir, quantization="bf16")
