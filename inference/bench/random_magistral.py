"""Magistral Small 1.1's exact architecture with random weights, quantized in place.

Decode speed depends on shapes and bytes moved, not on weight values, so random weights give
the real model's speed without the real weights. Linear layers are swapped for bitsandbytes
modules one at a time, so peak memory stays near the final model size.
"""

from __future__ import annotations

from typing import Any

import torch

MAGISTRAL_SMALL_1_1 = {
    "vocab_size": 131_072,
    "hidden_size": 5_120,
    "intermediate_size": 32_768,
    "num_hidden_layers": 40,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "max_position_embeddings": 131_072,
    "rope_parameters": {"rope_type": "default", "rope_theta": 1e9},
    "rms_norm_eps": 1e-5,
    "tie_word_embeddings": False,
    "sliding_window": None,
}


def magistral_config(**overrides: Any) -> Any:
    """A ``MistralConfig`` of Magistral Small 1.1; ``overrides`` shrink it for smoke runs."""
    from transformers import MistralConfig

    return MistralConfig(**(MAGISTRAL_SMALL_1_1 | overrides))


def build_random_model(config: Any, mode: str, device: str, attn_implementation: str = "sdpa") -> Any:
    """A random ``MistralForCausalLM`` on ``device`` in ``mode`` (nf4, int8 or bf16)."""
    from transformers import MistralForCausalLM

    torch.manual_seed(0)
    config._attn_implementation = attn_implementation
    with torch.device(device):
        model = MistralForCausalLM._from_config(config, dtype=torch.bfloat16)
    if mode != "bf16":
        for layer in model.model.layers:
            for parent in (layer.self_attn, layer.mlp):
                for name, child in list(parent.named_children()):
                    if isinstance(child, torch.nn.Linear):
                        setattr(parent, name, _quantized(child, mode, device))
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
    return model.eval()


def _quantized(linear: torch.nn.Linear, mode: str, device: str) -> torch.nn.Module:
    import bitsandbytes as bnb

    weight = linear.weight.data
    module: torch.nn.Module
    if mode == "nf4":
        module = bnb.nn.Linear4bit(
            linear.in_features,
            linear.out_features,
            bias=False,
            compute_dtype=torch.bfloat16,
            compress_statistics=True,
            quant_type="nf4",
            device="meta",
        )
        module.weight = bnb.nn.Params4bit(
            weight.to("cpu") if device == "cpu" else weight,
            requires_grad=False,
            compress_statistics=True,
            quant_type="nf4",
        )
    elif mode == "int8":
        module = bnb.nn.Linear8bitLt(
            linear.in_features, linear.out_features, bias=False, has_fp16_weights=False, device="meta"
        )
        module.weight = bnb.nn.Int8Params(weight.to(torch.float16), requires_grad=False, has_fp16_weights=False)
    else:
        raise ValueError(f"unknown quantization {mode!r}")
    return module.to(device)  # bitsandbytes quantizes on this move


def weight_bytes_per_token(model: Any) -> int:
    """Bytes of weights one decode step reads: every layer and the LM head, not the embedding table."""
    total = 0
    embedding = model.get_input_embeddings()
    seen: set[int] = set()
    for module in model.modules():
        if module is embedding:
            continue
        for tensor in [*module.parameters(recurse=False), *module.buffers(recurse=False)]:
            if id(tensor) not in seen:
                seen.add(id(tensor))
                total += tensor.numel() * tensor.element_size()
        total += _quant_state_bytes(getattr(module, "weight", None))
    return total


def _quant_state_bytes(weight: Any) -> int:
    state = getattr(weight, "quant_state", None)
    extra = 0
    if state is not None:
        for tensor in (state.absmax, getattr(state, "code", None)):
            if isinstance(tensor, torch.Tensor):
                extra += tensor.numel() * tensor.element_size()
        nested = getattr(state, "state2", None)
        if nested is not None:
            extra += nested.absmax.numel() * nested.absmax.element_size()
    scales = getattr(weight, "SCB", None)
    if isinstance(scales, torch.Tensor):
        extra += scales.numel() * scales.element_size()
    return extra
