"""The engine: a model loaded once, turning reasoning requests into results with provenance."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from inference.batching import BatchEngine, BatchSettings, JobSession, QueueCancelled
from inference.controller import GenerationController
from inference.kv import job_tokens, kv_bytes_per_token
from inference.loading import DEFAULT_QUANTIZATION, force_offline, load_model, quantization_settings, resolve_device
from inference.model_dir import ModelFiles, inspect_model_dir, resolve_model_path
from inference.phases import run_phased
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
        cls,
        path: str | os.PathLike[str] | None = None,
        context_limit: int = DEFAULT_CONTEXT_LIMIT,
        weights_needed: bool = True,
    ) -> PromptBuilder:
        """Check the directory (``MAGISTRAL_MODEL_PATH`` when ``path`` is None) and load its tokenizer;
        ``weights_needed=False`` accepts a tokenizer-and-config directory (the model is served elsewhere)."""
        force_offline()
        files = inspect_model_dir(resolve_model_path(path), weights_needed)
        tokenizer = load_tokenizer(files)
        return cls(files, tokenizer, find_control_tokens(tokenizer, str(files.path)), context_limit)

    def render(self, request: ReasoningRequest) -> RenderedPrompt:
        """Validate ``request`` and render its exact prompt token ids."""
        return render_prompt(self.tokenizer, self.files, request, self.context_limit)

    def decode(self, token_ids: list[int]) -> str:
        return str(self.tokenizer.decode(token_ids, skip_special_tokens=False))


class Engine:
    """A resident model: load once per GPU, then call ``generate`` from any number of threads; their jobs
    share one continuous-batching engine (``inference/batching.py``).

    It holds the ``PromptBuilder`` it renders with (the tokenizer side) beside the weights, rather than
    being one: what renders a prompt needs no model, and the web process uses the builder alone.
    """

    def __init__(
        self,
        prompts: PromptBuilder,
        model: Any,
        provenance: dict[str, Any],
        batch_settings: BatchSettings | None = None,
    ) -> None:
        self.prompts = prompts
        self.model = model
        self.provenance = provenance
        self.batch_settings = batch_settings or BatchSettings()
        self._batch: BatchEngine | None = None
        self._batch_lock = threading.Lock()

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
        batch: BatchSettings | None = None,
    ) -> Engine:
        """Load the checkpoint at ``path`` in ``quantization`` (nf4, int8 or bf16), offline, onto one device:
        ``device``, else ``$GLASSBOX_DEVICE``, else cuda:0 when there is a GPU, else cpu."""
        quantization_settings(quantization)  # an unknown mode or device fails before any file is read
        device = resolve_device(device)
        prompts = PromptBuilder.open(path, context_limit)
        return cls.from_prompts(prompts, quantization, attn_implementation, device, batch)

    @classmethod
    def from_prompts(
        cls,
        prompts: PromptBuilder,
        quantization: str = DEFAULT_QUANTIZATION,
        attn_implementation: str | None = None,
        device: str | None = None,
        batch: BatchSettings | None = None,
    ) -> Engine:
        """Load the weights behind an already opened ``PromptBuilder``."""
        quant = quantization_settings(quantization)
        device = resolve_device(device)
        started = time.perf_counter()
        model = load_model(prompts.files, quantization, attn_implementation, device)
        provenance = model_provenance(prompts.files, quant, device)
        provenance["load_seconds"] = round(time.perf_counter() - started, 3)
        return cls(prompts, model, provenance, batch)

    def batch_engine(self) -> BatchEngine:
        """The continuous-batching engine over this model, started on first use (and again if it died)."""
        with self._batch_lock:
            if self._batch is None or not self._batch.manager.is_running():
                per_token = kv_bytes_per_token(self.prompts.files.config)
                self._batch = BatchEngine(self.model, self.control.eos, self.batch_settings, per_token)
            return self._batch

    def generate(
        self,
        request: ReasoningRequest,
        on_progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
        progress_interval: float = 0.5,
        on_wait: Callable[[int], None] | None = None,
    ) -> ReasoningResult:
        """Reason about ``request`` in the shared batching engine: wait (``on_wait`` gets the queue position)
        until its KV memory is free, then run it in segments; ``on_progress`` streams the trace and
        ``should_cancel`` is polled after every token."""
        prompt = self.prompts.render(request)
        settings = request.settings
        controller = GenerationController(
            self.control, settings, self.prompts.decode, on_progress, should_cancel, progress_interval
        )
        batch = self.batch_engine()
        needed = job_tokens(len(prompt.token_ids), settings.thinking_budget, settings.answer_budget)
        try:
            ticket = batch.admission.reserve(needed, on_wait, should_cancel)
        except QueueCancelled:
            controller.stop_reason = "cancelled"  # cancelled before its first token: an empty, cancelled run
            controller.finish()
            return self._result(request, prompt, [], controller, dict(batch.describe(), segments=0))
        try:
            run = run_phased(JobSession(batch, ticket), prompt.token_ids, controller)
        finally:
            batch.admission.release(ticket)
        engine = dict(
            batch.describe(),
            segments=run.segments,
            shared_batches=ticket.shared,
            queued_for_memory_seconds=ticket.waited_seconds,
            kv_tokens_reserved=needed,
        )
        return self._result(request, prompt, run.output_ids, controller, engine)

    def _result(
        self,
        request: ReasoningRequest,
        prompt: RenderedPrompt,
        output_ids: list[int],
        controller: GenerationController,
        engine: dict[str, Any],
    ) -> ReasoningResult:
        return build_result(self.prompts, self.provenance, request, prompt, output_ids, controller, engine)


def build_result(
    prompts: PromptBuilder,
    provenance: dict[str, Any],
    request: ReasoningRequest,
    prompt: RenderedPrompt,
    output_ids: list[int],
    controller: GenerationController,
    engine: dict[str, Any],
) -> ReasoningResult:
    """One job's result from its output ids, split by control-token ids; any engine (local or remote) ends here."""
    ended = controller.clock()
    control = prompts.control
    split = split_thinking(output_ids, control.think, control.end_think, control.eos, prompts.decode)
    first = controller.first_token_at or ended
    decode_seconds = ended - first
    return ReasoningResult(
        prompt=prompt,
        settings=request.settings,
        output_token_ids=tuple(output_ids),
        raw_output=prompts.decode(output_ids),
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
        provenance=dict(provenance, seed=request.settings.seed, engine=engine),
    )
