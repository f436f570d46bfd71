"""The engine's request, settings, progress and result values (plain data, JSON-friendly)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Literal

FinishReason = Literal["eos", "thinking_budget", "answer_budget", "loop_detected", "cancelled"]
ThinkingEnd = Literal["model", "thinking_budget", "loop_detected", "none"]

# Model-card defaults for Magistral Small 1.1.
DEFAULT_TEMPERATURE = 0.7
DEFAULT_TOP_P = 0.95
DEFAULT_CONTEXT_LIMIT = 40_000
DEFAULT_THINKING_BUDGET = 16_384
DEFAULT_ANSWER_BUDGET = 4_096


@dataclasses.dataclass(frozen=True)
class Document:
    """A named document whose extracted text goes into the prompt."""

    name: str
    text: str


@dataclasses.dataclass(frozen=True)
class GenerationSettings:
    """Sampling and budget settings; validated by ``validate_settings``."""

    temperature: float = DEFAULT_TEMPERATURE
    top_p: float = DEFAULT_TOP_P
    seed: int = 0
    thinking_budget: int = DEFAULT_THINKING_BUDGET
    answer_budget: int = DEFAULT_ANSWER_BUDGET
    # Magistral opens every reply with [THINK]; forcing it guarantees a trace and that the
    # thinking budget applies. The forced position is recorded in the result.
    force_think_start: bool = True
    loop_min_repeats: int = 4
    loop_min_tokens: int = 64
    loop_max_period: int = 256

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class ReasoningRequest:
    """One question in a domain, with its documents and settings."""

    domain: str
    question: str
    documents: tuple[Document, ...] = ()
    settings: GenerationSettings = GenerationSettings()


@dataclasses.dataclass(frozen=True)
class Progress:
    """A streaming update: text deltas since the last update and running token counts."""

    phase: Literal["thinking", "answer"]
    thinking_delta: str
    answer_delta: str
    thinking_tokens: int
    answer_tokens: int
    generated_tokens: int
    elapsed_seconds: float


ProgressCallback = Callable[[Progress], None]
CancelCheck = Callable[[], bool]


@dataclasses.dataclass(frozen=True)
class RenderedPrompt:
    """The exact prompt the model is given, as token ids, with what it was made from."""

    token_ids: tuple[int, ...]
    text: str
    template_id: str
    system_prompt_source: str
    system_prompt_sha256: str
    messages: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "template_id": self.template_id,
            "system_prompt_source": self.system_prompt_source,
            "system_prompt_sha256": self.system_prompt_sha256,
            "token_count": len(self.token_ids),
            "token_ids": list(self.token_ids),
            "text": self.text,
            "messages": list(self.messages),
        }


@dataclasses.dataclass(frozen=True)
class ThinkingSplit:
    """Output divided by control-token ids: thinking blocks, answer, and where [THINK] blocks were."""

    thinking: str
    answer: str
    thinking_blocks: tuple[str, ...]
    thinking_token_count: int
    answer_token_count: int
    closed: bool


@dataclasses.dataclass(frozen=True)
class ReasoningResult:
    """Everything one generation produced, with the provenance needed to audit it."""

    prompt: RenderedPrompt
    settings: GenerationSettings
    output_token_ids: tuple[int, ...]
    raw_output: str
    thinking: str
    answer: str
    thinking_blocks: tuple[str, ...]
    finish_reason: FinishReason
    thinking_end: ThinkingEnd
    forced_tokens: tuple[dict[str, Any], ...]
    thinking_tokens: int
    answer_tokens: int
    generated_tokens: int
    timings: dict[str, float]
    provenance: dict[str, Any]

    @property
    def is_test_model(self) -> bool:
        return bool(self.provenance.get("is_test_model"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt.to_dict(),
            "settings": self.settings.to_dict(),
            "output_token_ids": list(self.output_token_ids),
            "raw_output": self.raw_output,
            "thinking": self.thinking,
            "answer": self.answer,
            "thinking_blocks": list(self.thinking_blocks),
            "finish_reason": self.finish_reason,
            "thinking_end": self.thinking_end,
            "forced_tokens": list(self.forced_tokens),
            "thinking_tokens": self.thinking_tokens,
            "answer_tokens": self.answer_tokens,
            "generated_tokens": self.generated_tokens,
            "timings": dict(self.timings),
            "provenance": self.provenance,
            "is_test_model": self.is_test_model,
        }
