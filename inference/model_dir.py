"""Find out what a local model directory holds, and say plainly what is missing."""

from __future__ import annotations

import dataclasses
import json
import os
import struct
from pathlib import Path
from typing import Any, Literal

from inference.errors import ModelDirectoryError

MODEL_PATH_VARIABLE = "MAGISTRAL_MODEL_PATH"
HUB_REPO = "mistralai/Magistral-Small-2507"
HOW_TO_PLACE_WEIGHTS = (
    f"on a connected machine run `hf download {HUB_REPO} --local-dir Magistral-Small-2507`, "
    f"copy that folder to this server and point {MODEL_PATH_VARIABLE} (or --model) at it"
)
HF_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja")
TEKKEN_FILE = "tekken.json"
SYSTEM_PROMPT_FILE = "SYSTEM_PROMPT.txt"


@dataclasses.dataclass(frozen=True)
class ModelFiles:
    """The files of a checked model directory that Glassbox loads and hashes."""

    path: Path
    config: dict[str, Any]
    weight_files: tuple[Path, ...]
    tokenizer_kind: Literal["hf", "tekken"]
    tokenizer_files: tuple[Path, ...]
    system_prompt_file: Path | None


def resolve_model_path(path: str | os.PathLike[str] | None) -> Path:
    """The directory given, else ``MAGISTRAL_MODEL_PATH``; a clear error when neither is set."""
    chosen = path if path is not None else os.environ.get(MODEL_PATH_VARIABLE)
    if not chosen:
        raise ModelDirectoryError(f"No model directory is set: {HOW_TO_PLACE_WEIGHTS}.")
    return Path(chosen).expanduser().resolve()


def inspect_model_dir(path: Path, weights_needed: bool = True) -> ModelFiles:
    """Check that ``path`` holds a complete Mistral-architecture checkpoint and list its files.

    ``weights_needed=False`` is for a model served elsewhere (``inference/remote.py``): the directory then
    needs only the config and tokenizer, and no local weight file is listed or hashed.
    """
    if not path.is_dir():
        raise ModelDirectoryError(f"There is no model directory at {path}: {HOW_TO_PLACE_WEIGHTS}.")
    config = _read_config(path)
    weights = _weight_files(path) if weights_needed else ()
    for weight in weights:
        _check_safetensors_complete(weight)
    if (path / "tokenizer.json").is_file():
        kind: Literal["hf", "tekken"] = "hf"
        tokenizer_files = tuple(path / name for name in HF_TOKENIZER_FILES if (path / name).is_file())
    elif (path / TEKKEN_FILE).is_file():
        kind = "tekken"
        tokenizer_files = (path / TEKKEN_FILE,)
    else:
        raise ModelDirectoryError(
            f"The model directory {path} has no tokenizer (neither tokenizer.json nor tekken.json): "
            f"{HOW_TO_PLACE_WEIGHTS}."
        )
    prompt_file = path / SYSTEM_PROMPT_FILE
    return ModelFiles(
        path=path,
        config=config,
        weight_files=weights,
        tokenizer_kind=kind,
        tokenizer_files=tokenizer_files,
        system_prompt_file=prompt_file if prompt_file.is_file() else None,
    )


def _read_config(path: Path) -> dict[str, Any]:
    config_path = path / "config.json"
    if not config_path.is_file():
        raise ModelDirectoryError(f"The model directory {path} has no config.json: {HOW_TO_PLACE_WEIGHTS}.")
    try:
        config: dict[str, Any] = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelDirectoryError(f"The config.json in {path} cannot be read ({exc}); copy it again.") from exc
    if config.get("model_type") != "mistral":
        raise ModelDirectoryError(
            f"The model in {path} is of type {config.get('model_type')!r}, not a Mistral-architecture "
            "model; Glassbox runs Magistral Small 1.1 (MistralForCausalLM)."
        )
    return config


def _weight_files(path: Path) -> tuple[Path, ...]:
    index = path / "model.safetensors.index.json"
    if index.is_file():
        try:
            shards = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            shards = []
        if not shards:
            raise ModelDirectoryError(
                f"The model.safetensors.index.json in {path} is damaged or lists no weight files; copy it again."
            )
        missing = [name for name in shards if not (path / name).is_file()]
        if missing:
            raise ModelDirectoryError(
                f"The model directory {path} is incomplete: {len(missing)} of {len(shards)} weight files "
                f"listed in model.safetensors.index.json are missing (first: {missing[0]}); "
                "copy the whole folder again."
            )
        return tuple(path / name for name in shards)
    single = path / "model.safetensors"
    if single.is_file():
        return (single,)
    raise ModelDirectoryError(
        f"The model directory {path} has no weights in transformers format "
        f"(model.safetensors or model.safetensors.index.json): {HOW_TO_PLACE_WEIGHTS}."
    )


def _check_safetensors_complete(weight: Path) -> None:
    # A copy cut short keeps its header but loses the tail; the header says how long the file is.
    size = weight.stat().st_size
    try:
        with weight.open("rb") as handle:
            (header_len,) = struct.unpack("<Q", handle.read(8))
            header = json.loads(handle.read(header_len))
        tensors = [entry for key, entry in header.items() if key != "__metadata__"]
        data_end = max((int(entry["data_offsets"][1]) for entry in tensors), default=0)
    except (struct.error, ValueError, OSError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise ModelDirectoryError(f"The weight file {weight} is damaged or truncated; copy it again.") from exc
    if size != 8 + header_len + data_end:
        raise ModelDirectoryError(
            f"The weight file {weight} is truncated ({size} bytes, its header expects {8 + header_len + data_end}); "
            "copy it again."
        )
