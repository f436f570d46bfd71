"""Load Magistral from a local directory with bitsandbytes quantization, never touching the hub."""

from __future__ import annotations

import logging
import os
import re
from typing import Any

from inference.errors import DeviceError, ModelDirectoryError, QuantizationError
from inference.model_dir import ModelFiles

QUANTIZATION_MODES = ("nf4", "int8", "bf16")
DEFAULT_QUANTIZATION = "nf4"
# One worker per GPU: each worker sees its own GPU through CUDA_VISIBLE_DEVICES, where it is
# cuda:0. This variable overrides the device for a worker or the CLI (e.g. "cpu", "cuda:1").
DEVICE_VARIABLE = "GLASSBOX_DEVICE"


def force_offline() -> None:
    """Make every hub client offline unless the operator already said otherwise."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    _quiet_hub_kernel_notes()  # the hub-kernel notes are logged on every model load, bf16 too


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


class _NoHubKernelNote(logging.Filter):
    """Drops one note that a library logs when it looks for a kernel on the hub (see ``_HUB_KERNEL_NOTES``).
    Fetching kernels from the hub is exactly what an offline deployment must not do, and each library then
    falls back to its own kernel, which is what we want. Every other warning of the same logger passes."""

    def __init__(self, start: str) -> None:
        super().__init__()
        self.start = start

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.start)


# (logger, how the note starts): bitsandbytes tries the hub's gemm_4bit_forward at import on every CPU with
# AVX512-BF16; the kernels package (a dependency of transformers) notes, for that try and for transformers'
# probes of the flash-attention kernels at every model load, that it cannot check the publisher offline.
_HUB_KERNEL_NOTES = (
    ("bitsandbytes.backends.cpu.ops", "Failed to load CPU gemm_4bit_forward from kernels-community"),
    ("kernels._internals.hf_hub", "Skipping publisher trust check for 'kernels-community/"),
)


def _quiet_hub_kernel_notes() -> None:
    """Install the filters (once each) before the libraries log: bitsandbytes logs its note at import."""
    for name, start in _HUB_KERNEL_NOTES:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, _NoHubKernelNote) for existing in logger.filters):
            logger.addFilter(_NoHubKernelNote(start))


def bitsandbytes_config(mode: str) -> Any:
    """transformers' ``BitsAndBytesConfig`` for ``mode``, or None for plain bf16."""
    settings = quantization_settings(mode)
    if mode == "bf16":
        return None
    _quiet_hub_kernel_notes()
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


def resolve_device(device: str | None = None) -> str:
    """The one device to load onto: ``device``, else ``$GLASSBOX_DEVICE``, else cuda:0 with a GPU, else cpu."""
    import torch

    name = (device if device is not None else os.environ.get(DEVICE_VARIABLE, "")).strip().lower()
    if not name:
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return name
    match = re.fullmatch(r"cuda(?::(\d+))?", name)
    if match is None:
        raise DeviceError(f"Unknown device {name!r}; use cpu or cuda:N, for example cuda:0.")
    index = int(match[1] or 0)
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if index >= count:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        seen = f"CUDA_VISIBLE_DEVICES={visible!r}" if visible is not None else "CUDA_VISIBLE_DEVICES unset"
        raise DeviceError(
            f"The device cuda:{index} does not exist: this process sees {count} GPU(s) ({seen}); "
            f"set {DEVICE_VARIABLE} to cpu or to one of them."
        )
    return f"cuda:{index}"


def load_model(files: ModelFiles, mode: str, attn_implementation: str | None = None, device: str = "cpu") -> Any:
    """``AutoModelForCausalLM`` from ``files`` in ``mode``, wholly on ``device`` (from ``resolve_device``)."""
    import torch
    from transformers import AutoModelForCausalLM

    quantization = bitsandbytes_config(mode)
    try:
        model, info = AutoModelForCausalLM.from_pretrained(
            str(files.path),
            local_files_only=True,
            dtype=torch.bfloat16,
            quantization_config=quantization,
            # One explicit device for the whole model, never "auto": that would spread one worker's
            # model over every GPU it can see, and share GPUs with the worker beside it.
            device_map={"": device},
            attn_implementation=attn_implementation,
            output_loading_info=True,
        )
    except torch.cuda.OutOfMemoryError as exc:
        raise QuantizationError(
            f"The GPU ran out of memory loading the model in {mode} on {device}; choose nf4, or a GPU with more memory."
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
    placed = {str(parameter.device) for parameter in model.parameters()}
    if placed != {device}:
        raise DeviceError(f"The model was to load on {device} alone but landed on {', '.join(sorted(placed))}.")
    model.eval()
    return model
