"""KV-cache arithmetic: what one token of context costs, and whether a job can ever fit.

Plain arithmetic on the model's ``config.json`` (no torch), so the web process can refuse a job that no
engine could hold before it is stored, with the same numbers the engine admits by.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

# Tokens the budgets do not count: [THINK], [/THINK] and a few more that a reopened block may force.
CONTROL_TOKEN_ALLOWANCE = 8
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|TiB)?\s*$", re.IGNORECASE)
_UNITS = {"b": 1, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def kv_bytes_per_token(config: dict[str, Any], dtype_bytes: int = 2) -> int:
    """Keys and values of every layer for one token: layers x 2 x KV heads x head size x bytes.

    Magistral Small 1.1: 40 x 2 x 8 x 128 x 2 = 163,840 bytes (160 KiB) in bf16.
    """
    layers = int(config["num_hidden_layers"])
    kv_heads = int(config.get("num_key_value_heads") or config["num_attention_heads"])
    head_dim = int(config.get("head_dim") or int(config["hidden_size"]) // int(config["num_attention_heads"]))
    return layers * 2 * kv_heads * head_dim * dtype_bytes


def parse_size(text: str) -> int:
    """``"24GiB"``, ``"512 MiB"`` or a number of bytes; a clear error for anything else."""
    match = _SIZE.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a memory size; write it like 24GiB, 512MiB or 1048576.")
    return int(float(match[1]) * _UNITS[(match[2] or "b").lower()])


def job_tokens(prompt_tokens: int, thinking_budget: int, answer_budget: int) -> int:
    """The most KV cache positions a job can occupy: its prompt, both budgets and the control tokens."""
    return prompt_tokens + thinking_budget + answer_budget + CONTROL_TOKEN_ALLOWANCE


@dataclasses.dataclass(frozen=True)
class KvCapacity:
    """How many tokens of context an engine's KV cache holds, and what each costs."""

    tokens: int
    bytes_per_token: int

    @classmethod
    def from_memory(cls, config: dict[str, Any], memory_bytes: int) -> KvCapacity:
        per_token = kv_bytes_per_token(config)
        return cls(memory_bytes // per_token, per_token)

    @property
    def memory_bytes(self) -> int:
        return self.tokens * self.bytes_per_token

    def refusal(self, tokens: int) -> str | None:
        """The sentence that refuses a job needing ``tokens`` positions, or None when it fits an empty cache."""
        if tokens <= self.tokens:
            return None
        return (
            f"This job needs up to {tokens:,} tokens of context (prompt plus thinking and answer budgets), "
            f"{_gib(tokens * self.bytes_per_token)} of KV cache, but the engine holds {self.tokens:,} tokens "
            f"({_gib(self.memory_bytes)}); lower the budgets or shorten the documents."
        )


def _gib(size: int) -> str:
    return f"{size / 2**30:.2f} GiB"
