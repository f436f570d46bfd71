from __future__ import annotations

import os
import shutil
from pathlib import Path

from inference.engine import Engine
from inference.hashing import hash_files, sha256_file
from inference.loading import quantization_settings
from inference.model_dir import inspect_model_dir
from inference.provenance import model_provenance


def test_provenance_names_model_weights_tokenizer_libraries_and_device(tiny_model_dir: Path):
    files = inspect_model_dir(tiny_model_dir)
    provenance = model_provenance(files, quantization_settings("nf4"), "cpu")
    weights = tiny_model_dir / "model.safetensors"
    assert provenance["weight_files"] == {"model.safetensors": sha256_file(weights)}
    assert set(provenance["tokenizer_files"]) >= {"tokenizer.json", "tokenizer_config.json"}
    assert provenance["model_id"] == "glassbox/tiny-magistral-test-model"
    assert provenance["revision"] == "tiny-seed-1234"
    assert provenance["is_test_model"] is True
    assert provenance["quantization"]["bnb_4bit_use_double_quant"] is True
    assert {"torch", "transformers", "bitsandbytes"} <= set(provenance["libraries"])
    assert provenance["device"]["type"] == "cpu"


def test_hash_cache_is_keyed_by_size_and_mtime(tmp_path: Path):
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"a" * 1000)
    original = hash_files(tmp_path, (weights,))
    stat = weights.stat()
    weights.write_bytes(b"b" * 1000)  # same size; restore the mtime so the cache entry still matches
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert hash_files(tmp_path, (weights,)) == original
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert hash_files(tmp_path, (weights,)) == {"model.safetensors": sha256_file(weights)} != original


def test_revision_comes_from_hub_download_metadata(tiny_model_dir: Path, tmp_path: Path):
    copy = Path(shutil.copytree(tiny_model_dir, tmp_path / "m"))
    metadata = copy / ".cache" / "huggingface" / "download"
    metadata.mkdir(parents=True)
    (metadata / "config.json.metadata").write_text("0123abcd\netag\n1.0\n")
    provenance = model_provenance(inspect_model_dir(copy), quantization_settings("bf16"), "cpu")
    assert provenance["revision"] == "0123abcd"


def test_nf4_engine_runs_on_cpu_and_records_it(tiny_model_dir: Path):
    engine = Engine.load(tiny_model_dir)
    assert engine.provenance["quantization"]["mode"] == "nf4"
    assert type(engine.model.model.layers[0].mlp.up_proj).__name__ == "Linear4bit"
