from __future__ import annotations

import json
from pathlib import Path

from inference.hashing import sha256_file
from inference.tiny_model import make_tiny_model


def test_same_seed_gives_the_same_bytes(tiny_model_dir: Path, tmp_path: Path):
    again = make_tiny_model(tmp_path / "again")
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        assert sha256_file(again / name) == sha256_file(tiny_model_dir / name)


def test_another_seed_gives_other_weights(tiny_model_dir: Path, tmp_path: Path):
    other = make_tiny_model(tmp_path / "other", seed=99)
    assert sha256_file(other / "model.safetensors") != sha256_file(tiny_model_dir / "model.safetensors")


def test_config_marks_a_mistral_test_model(tiny_model_dir: Path):
    config = json.loads((tiny_model_dir / "config.json").read_text())
    assert config["glassbox_test_model"] is True
    assert config["architectures"] == ["MistralForCausalLM"]
    assert "TEST MODEL" in (tiny_model_dir / "README.md").read_text()


def test_tokenizer_carries_magistral_control_tokens(tiny_model_dir: Path):
    added = json.loads((tiny_model_dir / "tokenizer.json").read_text())["added_tokens"]
    names = {token["content"] for token in added if token["special"]}
    assert names >= {"<s>", "</s>", "[INST]", "[/INST]", "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]", "[THINK]", "[/THINK]"}
