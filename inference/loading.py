"""Load Magistral from a local directory with bitsandbytes quantization, never touching the hub."""

from __future__ import annotations

import os
from typing import Any

from inference.errors import ModelDirectoryError, QuantizationError
from inference.model_dir import ModelFiles

QUANTIZATION_MODES = ("nf4", "int8", "bf16")
DEFAULT_QUANTIZATION = "nf4"


def force_offline() -> None:
    """Make every hub client offline unless the operator already said otherwise."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def quantization_settings(mode: str) -> dict[str, Any]:
    """The quantization as recorded in provenance; a clear error for an unknown mode."""
    if mode == "nf4":
        return {
            "mode": "nf4",
            "load_in_4bit": True,
            "bnb_4bit_quant_type": "nf4",
            "bnb_4bit_compute_dtype": "bfloat16",
            "bnb_4bit_use_double_quant": True,
        }
    if mode == "int8":
        return {"mode": "int8", "load_in_8bit": True}
    if mode == "bf16":
        return {"mode": "bf16", "dtype": "bfloat16"}
    choices = ", ".join(QUANTIZATION_MODES)
    raise QuantizationError(f"Unknown quantization {mode!r}; choose one of {choices}.")


def bitsandbytes_config(mode: str) -> Any:
    """transformers' ``BitsAndBytesConfig`` for ``mode``, or None for plain bf16."""
    settings = quantization_settings(mode)
    if mode == "bf16":
        return None
    try:
        import bitsandbytes  # noqa: F401
    except ImportError as exc:
        raise QuantizationError(
            f"Quantization {mode!r} needs the bitsandbytes package, which is not installed; "
            "install it or choose --quantization bf16."
        ) from exc
    import torch
    from transformers import BitsAndBytesConfig

    if mode == "int8":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=settings["bnb_4bit_quant_type"],
        bnb_4bit_compute_dtype=torch.bfloat16,
        bnb_4bit_use_double_quant=True,
    )


def load_model(files: ModelFiles, mode: str, attn_implementation: str | None = None) -> Any:
    """``AutoModelForCausalLM`` from ``files`` in ``mode``, on the GPU when there is one."""
    import torch
    from transformers import AutoModelForCausalLM

    quantization = bitsandbytes_config(mode)
    device_map = "auto" if torch.cuda.is_available() else "cpu"
    try:
        model, info = AutoModelForCausalLM.from_pretrained(
            str(files.path),
            local_files_only=True,
            dtype=torch.bfloat16,
            quantization_config=quantization,
            device_map=device_map,
            attn_implementation=attn_implementation,
            output_loading_info=True,
        )
    except torch.cuda.OutOfMemoryError as exc:
        raise QuantizationError(
            f"The GPU ran out of memory loading the model in {mode}; choose nf4, or a GPU with more memory."
        ) from exc
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelDirectoryError(f"The model in {files.path} cannot be loaded ({first}).") from exc
    # transformers fills tensors absent from the checkpoint with random values and only warns:
    # that would be fabricated output, so a checkpoint that lacks any weight is refused.
    missing = sorted(info.get("missing_keys") or []) + sorted(info.get("mismatched_keys") or [])
    if missing:
        raise ModelDirectoryError(
            f"The weights in {files.path} lack or mis-shape {len(missing)} of the model's tensors "
            f"(first: {missing[0]}); copy the weight files again."
        )
    model.eval()
    return model
