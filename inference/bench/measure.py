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


def _continuous_batching(
    model: Any, input_ids: torch.Tensor, new_tokens: int, device: str
) -> tuple[float, float, float]:
    """transformers' continuous batching (paged cache; CUDA graphs on a GPU) over ``input_ids``' rows: mean
    time to first token, mean per-stream decode tokens/s, and aggregate tokens/s (all tokens over the wall time)."""
    from transformers import GenerationConfig
    from transformers.generation.configuration_utils import ContinuousBatchingConfig

    prompts = input_ids.tolist()
    # An end-of-sequence id no model emits: every stream decodes exactly new_tokens.
    generation = GenerationConfig(do_sample=False, max_new_tokens=new_tokens, eos_token_id=-1, pad_token_id=0)
    gpu = device.startswith("cuda")
    needed = len(prompts) * (len(prompts[0]) + new_tokens)
    config = ContinuousBatchingConfig(
        # A GPU sizes the paged cache from free memory; a CPU gets just what these streams need.
        num_blocks=None if gpu else needed // 256 + len(prompts) + 1,
        page_size=256,
        use_cuda_graph=gpu,
        max_batch_tokens=None if gpu else 256,
        max_requests_per_batch=len(prompts),
        scheduler_type="fifo",
    )
    with torch.inference_mode():
        outputs = model.generate_batch(
            prompts, generation, config, record_timestamps=True, warmup=gpu, max_new_tokens=new_tokens
        )
    # Timed from the first request's arrival to the last token: the manager's start and cache allocation
    # (once per process in a server) are left out.
    started = min(output.created_time for output in outputs.values())
    wall = max((output.timestamps or [started])[-1] for output in outputs.values()) - started
    firsts, rates, total = [], [], 0
    for output in outputs.values():
        if output.error:
            raise RuntimeError(output.error)
        stamps = output.timestamps or []
        total += len(output.generated_tokens)
        firsts.append(stamps[0] - output.created_time)
        rates.append(
            (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 and stamps[-1] > stamps[0] else 0.0
        )
    return sum(firsts) / len(firsts), sum(rates) / len(rates), total / wall


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
    if variant == "continuous-batching":
        return _measure_batching(model, result, input_ids, new_tokens, bandwidth, device)
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


def _measure_batching(
    model: Any, result: Measurement, input_ids: torch.Tensor, new_tokens: int, bandwidth: float, device: str
) -> Measurement:
    try:
        if device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        _continuous_batching(model, input_ids, min(new_tokens, 16), device)  # warm-up (graphs, allocator)
        ttft, rate, aggregate = _continuous_batching(model, input_ids, new_tokens, device)
    except Exception as exc:  # a variant that cannot run here is reported, not fatal
        result.error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''}"
        return result
    result.ttft_seconds = ttft
    result.decode_tokens_per_second = rate
    result.aggregate_tokens_per_second = aggregate
    result.peak_memory_bytes = peak_memory(device)
    result.weight_bytes = weight_bytes_per_token(model)
    result.roofline_tokens_per_second = bandwidth / result.weight_bytes
    return result
