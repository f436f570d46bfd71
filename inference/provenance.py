"""What a result must carry to be traced to the exact model, tokenizer, libraries and device."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from inference.hashing import combined_digest, hash_files
from inference.loading import resolve_device
from inference.model_dir import ModelFiles
from inference.tiny_model import TEST_MODEL_MARKER

_LIBRARIES = ("torch", "transformers", "bitsandbytes", "tokenizers", "mistral_common", "safetensors", "accelerate")


def model_revision(path: Path, config: dict[str, Any]) -> str:
    """The hub commit recorded by ``hf download --local-dir``, else the config's own, else 'unknown'."""
    metadata_file = path / ".cache" / "huggingface" / "download" / "config.json.metadata"
    if metadata_file.is_file():
        first = metadata_file.read_text(encoding="utf-8").splitlines()[:1]
        if first and first[0].strip():
            return first[0].strip()
    return str(config.get("glassbox_revision") or config.get("revision") or "unknown")


def model_id(config: dict[str, Any], path: Path) -> str:
    return str(config.get("glassbox_model_id") or config.get("_name_or_path") or path.name)


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def device_description(device: str | None = None) -> dict[str, Any]:
    """The one device the model was loaded onto (``cpu`` or ``cuda:N``; None: the one a load would pick)."""
    import torch

    device = resolve_device(device)
    if device.startswith("cuda"):
        index = torch.device(device).index or 0
        properties = torch.cuda.get_device_properties(index)
        return {
            "type": "cuda",
            "torch_device": device,
            "name": torch.cuda.get_device_name(index),
            # cuda:0 is whichever GPU CUDA_VISIBLE_DEVICES exposes first; its UUID names it for good.
            "uuid": str(getattr(properties, "uuid", "unknown")),
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "cuda": torch.version.cuda,
            "capability": ".".join(map(str, torch.cuda.get_device_capability(index))),
        }
    return {"type": "cpu", "torch_device": "cpu", "name": _cpu_name(), "threads": torch.get_num_threads()}


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def model_provenance(files: ModelFiles, quantization: dict[str, Any], device: str) -> dict[str, Any]:
    """Provenance fixed at load time; each result adds its seed."""
    weights = hash_files(files.path, files.weight_files)
    tokenizer = hash_files(files.path, files.tokenizer_files)
    return {
        "model_id": model_id(files.config, files.path),
        "revision": model_revision(files.path, files.config),
        "model_path": str(files.path),
        "architecture": (files.config.get("architectures") or ["unknown"])[0],
        "is_test_model": bool(files.config.get(TEST_MODEL_MARKER, False)),
        "weights_sha256": combined_digest(weights),
        "weight_files": weights,
        "tokenizer_kind": files.tokenizer_kind,
        "tokenizer_files": tokenizer,
        "tokenizer_sha256": combined_digest(tokenizer),
        "quantization": quantization,
        "libraries": library_versions(),
        "device": device_description(device),
    }
