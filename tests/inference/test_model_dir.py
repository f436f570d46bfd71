"""A missing or incomplete model directory gives one sentence saying what is missing and what to do."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from inference.engine import Engine, PromptBuilder
from inference.errors import ModelDirectoryError


def copy_model(source: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(source, tmp_path / "model"))


def refusal(path: Path | None) -> str:
    with pytest.raises(ModelDirectoryError) as error:
        PromptBuilder.open(path)
    message = str(error.value)
    assert "\n" not in message
    assert message.endswith(".")
    return message


def test_missing_directory_says_how_to_place_weights(tmp_path: Path):
    message = refusal(tmp_path / "absent")
    assert "There is no model directory at" in message
    assert "on a connected machine" in message
    assert "MAGISTRAL_MODEL_PATH" in message


def test_unset_path_names_the_setting():
    assert "No model directory is set" in refusal(None)


def test_model_path_setting_is_used(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MAGISTRAL_MODEL_PATH", str(tiny_model_dir))
    assert PromptBuilder.open().files.path == tiny_model_dir


def test_missing_config(tiny_model_dir: Path, tmp_path: Path):
    model = copy_model(tiny_model_dir, tmp_path)
    (model / "config.json").unlink()
    assert "has no config.json" in refusal(model)


def test_missing_shard_listed_in_index(tiny_model_dir: Path, tmp_path: Path):
    model = copy_model(tiny_model_dir, tmp_path)
    (model / "model.safetensors").rename(model / "model-00001-of-00002.safetensors")
    index = {"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}
    (model / "model.safetensors.index.json").write_text(json.dumps(index))
    message = refusal(model)
    assert "1 of 2 weight files" in message
    assert "model-00002-of-00002.safetensors" in message


@pytest.mark.parametrize("index", ["{", "{}", '{"weight_map": {}}'])
def test_damaged_index(tiny_model_dir: Path, tmp_path: Path, index: str):
    model = copy_model(tiny_model_dir, tmp_path)
    (model / "model.safetensors.index.json").write_text(index)
    assert "is damaged or lists no weight files" in refusal(model)


@pytest.mark.parametrize("header", [b"\x05\x00\x00\x00\x00\x00\x00\x00[1,2]", b"abc"])
def test_damaged_weight_header(tiny_model_dir: Path, tmp_path: Path, header: bytes):
    model = copy_model(tiny_model_dir, tmp_path)
    (model / "model.safetensors").write_bytes(header)
    assert "is damaged or truncated" in refusal(model)


def test_weights_missing_from_a_valid_file_are_refused_not_randomised(tiny_model_dir: Path, tmp_path: Path):
    model = copy_model(tiny_model_dir, tmp_path)
    (model / "model.safetensors").write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")  # valid, no tensors
    with pytest.raises(ModelDirectoryError, match=r"lack or mis-shape 21 of the model's tensors \(first: lm_head"):
        Engine.load(model, quantization="bf16")


def test_truncated_weights(tiny_model_dir: Path, tmp_path: Path):
    model = copy_model(tiny_model_dir, tmp_path)
    weights = model / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    assert "is truncated" in refusal(model)


def test_no_weights(tiny_model_dir: Path, tmp_path: Path):
    model = copy_model(tiny_model_dir, tmp_path)
    (model / "model.safetensors").unlink()
    assert "has no weights" in refusal(model)


def test_no_tokenizer(tiny_model_dir: Path, tmp_path: Path):
    model = copy_model(tiny_model_dir, tmp_path)
    (model / "tokenizer.json").unlink()
    assert "has no tokenizer" in refusal(model)


def test_other_architecture(tiny_model_dir: Path, tmp_path: Path):
    model = copy_model(tiny_model_dir, tmp_path)
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps(config | {"model_type": "llama"}))
    assert "not a Mistral-architecture model" in refusal(model)
