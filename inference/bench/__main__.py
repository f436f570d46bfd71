"""``python -m inference.bench``: the tiny model on CPU always; Magistral's architecture where a GPU is present."""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
from pathlib import Path

import torch

from inference.bench.measure import Measurement, copy_bandwidth, measure, peak_memory
from inference.bench.random_magistral import build_random_model, magistral_config, weight_bytes_per_token
from inference.bench.report import section, table, write_section
from inference.engine import Engine
from inference.loading import QUANTIZATION_MODES, force_offline
from inference.provenance import device_description, library_versions
from inference.tiny_model import make_tiny_model
from inference.types import GenerationSettings, ReasoningRequest


def machine_description(device: str) -> str:
    described = device_description()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    libraries = library_versions()
    host = f"{described['name']}" if device == "cpu" else f"{described['name']} (CUDA {described['cuda']})"
    return (
        f"{host}; {os.cpu_count()} CPU cores, {memory:.0f} GiB RAM; {platform.system()} {platform.machine()}; "
        f"torch {libraries['torch']}, transformers {libraries['transformers']}, "
        f"bitsandbytes {libraries['bitsandbytes']}"
    )


def tiny_rows(args: argparse.Namespace, bandwidth: float) -> list[Measurement]:
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        model_dir = make_tiny_model(Path(directory) / "tiny")
        for mode in args.modes:
            engine = Engine.load(model_dir, quantization=mode)
            for batch in args.batches:
                for variant in ("dynamic", "static", "continuous-batching"):
                    rows.append(
                        measure(
                            engine.model,
                            "tiny (test)",
                            mode,
                            variant,
                            batch,
                            args.prompt_tokens,
                            args.new_tokens,
                            bandwidth,
                            "cpu",
                        )
                    )
            rows.append(engine_row(engine, mode, args.new_tokens, bandwidth))
    return rows


def engine_row(engine: Engine, mode: str, new_tokens: int, bandwidth: float) -> Measurement:
    """The full engine path (controller, forcing, streaming) for comparison with bare ``generate``."""
    settings = GenerationSettings(thinking_budget=new_tokens, answer_budget=new_tokens, seed=0)
    result = engine.generate(
        ReasoningRequest("legal", "Is a verbal contract binding?", settings=settings),
        on_progress=lambda progress: None,
    )
    timings = result.timings
    weights = weight_bytes_per_token(engine.model)
    return Measurement(
        "tiny (test)",
        mode,
        "engine.generate",
        1,
        len(result.prompt.token_ids),
        result.generated_tokens,
        ttft_seconds=timings["time_to_first_token_seconds"],
        decode_tokens_per_second=timings["decode_tokens_per_second"],
        aggregate_tokens_per_second=timings["decode_tokens_per_second"],
        peak_memory_bytes=peak_memory("cpu"),
        weight_bytes=weights,
        roofline_tokens_per_second=bandwidth / weights,
    )


def magistral_rows(args: argparse.Namespace, bandwidth: float, device: str) -> list[Measurement]:
    rows = []
    config = magistral_config(num_hidden_layers=args.magistral_layers)
    label = "Magistral arch (random)" + ("" if args.magistral_layers == 40 else f", {args.magistral_layers} layers")
    for mode in args.modes:
        model = build_random_model(config, mode, device)
        variants: tuple[str, ...] = (
            ("dynamic", "static", "static+compile") if mode == "nf4" else ("dynamic", "static+compile")
        )
        variants += ("continuous-batching",)
        for batch in args.batches:
            for variant in variants:
                row = measure(
                    model, label, mode, variant, batch, args.prompt_tokens, args.new_tokens, bandwidth, device
                )
                print(table([row]).splitlines()[-1], flush=True)
                rows.append(row)
        del model
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m inference.bench", description=__doc__)
    parser.add_argument("--prompt-tokens", type=int, default=512)
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--modes", type=lambda s: s.split(","), default=list(QUANTIZATION_MODES))
    parser.add_argument("--batches", type=lambda s: [int(b) for b in s.split(",")], default=[1, 16])
    parser.add_argument("--magistral-layers", type=int, default=40, help="fewer only for a smoke run")
    parser.add_argument("--magistral-on-cpu", action="store_true", help="smoke-run the Magistral path on CPU")
    parser.add_argument("--write", type=Path, default=None, help="replace the bench section of this Markdown file")
    args = parser.parse_args()
    force_offline()

    gpu = "cuda" if torch.cuda.is_available() else None
    cpu_bandwidth = copy_bandwidth("cpu", 512 * 2**20)
    rows = tiny_rows(args, cpu_bandwidth)
    notes = [
        "tiny (test): the project's own random test model on CPU; its ~0.4 MB of weights sit in CPU cache, so "
        "its roofline ratio says nothing about Magistral and only tracks regressions of the code path.",
        "engine.generate: the full engine (think forcing, budgets, loop check, streaming) at batch 1; compare "
        "with the dynamic row of the same quantization to see the controller's overhead.",
    ]
    bandwidth_text = f"CPU {cpu_bandwidth / 1e9:.1f} GB/s"
    magistral_device = gpu or ("cpu" if args.magistral_on_cpu else None)
    if magistral_device:
        bandwidth = copy_bandwidth(magistral_device, (4 if gpu else 1) * 2**30)
        bandwidth_text += f"; {magistral_device} {bandwidth / 1e9:.1f} GB/s"
        rows += magistral_rows(args, bandwidth, magistral_device)
        notes.append(
            "Magistral arch (random): MistralForCausalLM with Magistral Small 1.1's exact shapes and random weights; "
            "roofline = copy bandwidth / weight bytes read per token (all layers and the LM head); ratio = one "
            "stream's decode speed over it (one step reads the weights once for every stream). dynamic = eager "
            "`generate`; static+compile = static cache and `torch.compile`; continuous-batching = transformers' "
            "`generate_batch` (paged cache, CUDA graphs on), the manager `inference.batching.BatchEngine` drives."
        )
    else:
        notes.append("No GPU on this machine: the Magistral-architecture rows were not measured here.")
    text = section(machine_description(magistral_device or "cpu"), bandwidth_text, rows, notes)
    print(text)
    if args.write:
        write_section(args.write, text)


if __name__ == "__main__":
    main()
