"""Timing, memory and memory-bandwidth roofline for one configuration."""

from __future__ import annotations

import dataclasses
import resource
import time
from typing import Any

import torch

from inference.bench.random_magistral import weight_bytes_per_token


@dataclasses.dataclass
class Measurement:
    model: str
    mode: str
    variant: str
    batch: int
    prompt_tokens: int
    new_tokens: int
    ttft_seconds: float = 0.0
    decode_tokens_per_second: float = 0.0  # one stream
    aggregate_tokens_per_second: float = 0.0  # all streams together
    peak_memory_bytes: int = 0
    weight_bytes: int = 0
    roofline_tokens_per_second: float = 0.0
    error: str = ""

    @property
    def roofline_ratio(self) -> float:
        if not self.roofline_tokens_per_second:
            return 0.0
        return self.decode_tokens_per_second / self.roofline_tokens_per_second


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def copy_bandwidth(device: str, size_bytes: int) -> float:
    """Bytes per second a large on-device copy moves, counting bytes read and written."""
    source = torch.empty(size_bytes // 2, dtype=torch.bfloat16, device=device)
    target = torch.empty_like(source)
    target.copy_(source)
    synchronize(device)
    repeats = 10
    started = time.perf_counter()
    for _ in range(repeats):
        target.copy_(source)
    synchronize(device)
    elapsed = time.perf_counter() - started
    return 2 * size_bytes * repeats / elapsed


def peak_memory(device: str) -> int:
    if device.startswith("cuda"):
        return int(torch.cuda.max_memory_allocated())
    # ru_maxrss is KiB on Linux: the whole process, Python and torch included.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _generate(model: Any, input_ids: torch.Tensor, new_tokens: int, variant: str, device: str) -> float:
    options: dict[str, Any] = {}
    if variant.startswith("static"):
        options["cache_implementation"] = "static"
        options["disable_compile"] = variant == "static"
    synchronize(device)
    started = time.perf_counter()
    with torch.inference_mode():
        model.generate(
            input_ids=input_ids,
            attention_mask=torch.ones_like(input_ids),
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,  # never stop early on a random end-of-sequence
            do_sample=False,
            pad_token_id=0,
            **options,
        )
    synchronize(device)
    return time.perf_counter() - started


def measure(
    model: Any,
    label: str,
    mode: str,
    variant: str,
    batch: int,
    prompt_tokens: int,
    new_tokens: int,
    bandwidth: float,
    device: str,
) -> Measurement:
    """Time to first token (prefill + one step) and steady decode speed for ``batch`` streams."""
    result = Measurement(label, mode, variant, batch, prompt_tokens, new_tokens)
    vocab = model.config.vocab_size
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(3, vocab, (batch, prompt_tokens), generator=generator).to(device)
    try:
        if device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        for _ in range(3 if variant == "static+compile" else 1):  # warm-up (compilation, allocator)
            _generate(model, input_ids, min(new_tokens, 16), variant, device)
        first = min(_generate(model, input_ids, 1, variant, device) for _ in range(3))
        full = _generate(model, input_ids, new_tokens, variant, device)
    except Exception as exc:  # a variant that cannot run here is reported, not fatal
        result.error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''}"
        return result
    per_step = (full - first) / (new_tokens - 1)
    result.ttft_seconds = first
    result.decode_tokens_per_second = 1 / per_step
    result.aggregate_tokens_per_second = batch / per_step
    result.peak_memory_bytes = peak_memory(device)
    result.weight_bytes = weight_bytes_per_token(model)
    result.roofline_tokens_per_second = bandwidth / result.weight_bytes
    return result
