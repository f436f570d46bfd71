"""The engine: a model loaded once, turning reasoning requests into results with provenance."""

from __future__ import annotations

import os
import time
from typing import Any

from inference.controller import GenerationController
from inference.errors import GenerationError
from inference.loading import DEFAULT_QUANTIZATION, force_offline, load_model, quantization_settings, resolve_device
from inference.model_dir import ModelFiles, inspect_model_dir, resolve_model_path
from inference.prompting import render_prompt
from inference.provenance import model_provenance
from inference.splitting import split_thinking
from inference.tokenizer import ControlTokens, find_control_tokens, load_tokenizer
from inference.types import (
    DEFAULT_CONTEXT_LIMIT,
    CancelCheck,
    ProgressCallback,
    ReasoningRequest,
    ReasoningResult,
    RenderedPrompt,
)


class PromptBuilder:
    """Tokenizer and control tokens only: renders prompts without loading any weights."""

    def __init__(self, files: ModelFiles, tokenizer: Any, control: ControlTokens, context_limit: int) -> None:
        self.files = files
        self.tokenizer = tokenizer
        self.control = control
        self.context_limit = context_limit

    @classmethod
    def open(
        cls, path: str | os.PathLike[str] | None = None, context_limit: int = DEFAULT_CONTEXT_LIMIT
    ) -> PromptBuilder:
        """Check the directory (``MAGISTRAL_MODEL_PATH`` when ``path`` is None) and load its tokenizer."""
        force_offline()
        files = inspect_model_dir(resolve_model_path(path))
        tokenizer = load_tokenizer(files)
        return cls(files, tokenizer, find_control_tokens(tokenizer, str(files.path)), context_limit)

    def render(self, request: ReasoningRequest) -> RenderedPrompt:
        """Validate ``request`` and render its exact prompt token ids."""
        return render_prompt(self.tokenizer, self.files, request, self.context_limit)

    def decode(self, token_ids: list[int]) -> str:
        return str(self.tokenizer.decode(token_ids, skip_special_tokens=False))


class Engine:
    """A resident model: load once per worker process, then call ``generate`` per request.

    It holds the ``PromptBuilder`` it renders with (the tokenizer side) beside the weights, rather than
    being one: what renders a prompt needs no model, and the web process uses the builder alone.
    """

    def __init__(self, prompts: PromptBuilder, model: Any, provenance: dict[str, Any]) -> None:
        self.prompts = prompts
        self.model = model
        self.provenance = provenance

    @property
    def control(self) -> ControlTokens:
        return self.prompts.control

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str] | None = None,
        quantization: str = DEFAULT_QUANTIZATION,
        context_limit: int = DEFAULT_CONTEXT_LIMIT,
        attn_implementation: str | None = None,
        device: str | None = None,
    ) -> Engine:
        """Load the checkpoint at ``path`` in ``quantization`` (nf4, int8 or bf16), offline, onto one device:
        ``device``, else ``$GLASSBOX_DEVICE``, else cuda:0 when there is a GPU, else cpu."""
        quantization_settings(quantization)  # an unknown mode or device fails before any file is read
        device = resolve_device(device)
        return cls.from_prompts(PromptBuilder.open(path, context_limit), quantization, attn_implementation, device)

    @classmethod
    def from_prompts(
        cls,
        prompts: PromptBuilder,
        quantization: str = DEFAULT_QUANTIZATION,
        attn_implementation: str | None = None,
        device: str | None = None,
    ) -> Engine:
        """Load the weights behind an already opened ``PromptBuilder``."""
        quant = quantization_settings(quantization)
        device = resolve_device(device)
        started = time.perf_counter()
        model = load_model(prompts.files, quantization, attn_implementation, device)
        provenance = model_provenance(prompts.files, quant, device)
        provenance["load_seconds"] = round(time.perf_counter() - started, 3)
        return cls(prompts, model, provenance)

    def generate(
        self,
        request: ReasoningRequest,
        on_progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
        progress_interval: float = 0.5,
    ) -> ReasoningResult:
        """Reason about ``request``; ``on_progress`` streams the trace, ``should_cancel`` is polled each step."""
        import torch

        from inference.generation import run_generate

        prompt = self.prompts.render(request)
        controller = GenerationController(
            self.control, request.settings, self.prompts.decode, on_progress, should_cancel, progress_interval
        )
        try:
            output_ids = run_generate(self.model, prompt.token_ids, controller)
        except torch.cuda.OutOfMemoryError as exc:
            budget = request.settings.thinking_budget + request.settings.answer_budget
            raise GenerationError(
                f"The GPU ran out of memory generating up to {budget} tokens after a "
                f"{len(prompt.token_ids)}-token prompt; lower the budgets or shorten the documents."
            ) from exc
        return self._result(request, prompt, output_ids, controller)

    def _result(
        self, request: ReasoningRequest, prompt: RenderedPrompt, output_ids: list[int], controller: GenerationController
    ) -> ReasoningResult:
        ended = controller.clock()
        control = self.control
        split = split_thinking(output_ids, control.think, control.end_think, control.eos, self.prompts.decode)
        first = controller.first_token_at or ended
        decode_seconds = ended - first
        provenance = dict(self.provenance, seed=request.settings.seed)
        return ReasoningResult(
            prompt=prompt,
            settings=request.settings,
            output_token_ids=tuple(output_ids),
            raw_output=self.prompts.decode(output_ids),
            thinking=split.thinking,
            answer=split.answer,
            thinking_blocks=split.thinking_blocks,
            finish_reason=controller.finish_reason(),
            thinking_end=controller.thinking_end,
            forced_tokens=tuple(controller.forced),
            thinking_tokens=split.thinking_token_count,
            answer_tokens=split.answer_token_count,
            generated_tokens=len(output_ids),
            timings={
                "started_at_unix": round(controller.started_wall, 6),
                "time_to_first_token_seconds": round(first - controller.started_at, 4),
                "generation_seconds": round(ended - controller.started_at, 4),
                "decode_tokens_per_second": round((len(output_ids) - 1) / decode_seconds, 2)
                if decode_seconds > 0 and len(output_ids) > 1
                else 0.0,
            },
            provenance=provenance,
        )
