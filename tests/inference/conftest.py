from __future__ import annotations

from pathlib import Path

import pytest

from inference.engine import Engine


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # Keep manifests away from other tests, and make the engine's own tests say which model they use.
    monkeypatch.setenv("GLASSBOX_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.delenv("MAGISTRAL_MODEL_PATH", raising=False)


@pytest.fixture(scope="session")
def engine(tiny_model_dir: Path) -> Engine:
    """The tiny model in bf16, loaded once: the generation tests share it."""
    return Engine.load(tiny_model_dir, quantization="bf16")
