"""Per-job control on engines that take no per-request logits processor: generation in segments.

Batching engines (transformers' continuous batching, vLLM behind an OpenAI-compatible server) run every
request with the same sampling code, so a token cannot be forced by masking logits. Instead a job runs as a
chain of *segments*, each an ordinary engine request:

- ``[THINK]`` at the start is appended to the prompt, not sampled;
- a thinking segment may generate at most the thinking budget left and stops at ``[/THINK]`` or EOS;
- an answer segment may generate at most the answer budget left and stops at EOS or a reopened ``[THINK]``;
- when the controller wants a token forced (``[/THINK]`` at the budget or after a loop), the segment is
  cancelled, the token is appended, and the next segment starts from prompt + everything so far. That
  costs one prefill of the text so far (absorbed by a prefix cache where the engine keeps one: off by
  default in ``batching``, for reproducibility).

Every token still passes through the same ``GenerationController`` as before, one at a time, so budgets,
forced positions, loop detection, cancel, streaming and finish reasons are decided by the same code; tokens
an engine produced after the controller's decision are discarded, never recorded.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from typing import Protocol

from inference.controller import GenerationController
from inference.errors import GenerationError
from inference.kv import CONTROL_TOKEN_ALLOWANCE


@dataclasses.dataclass(frozen=True)
class Sampling:
    """One request's sampling: temperature 0 means greedy."""

    temperature: float
    top_p: float
    seed: int


class Segment(Protocol):
    """A running engine request: its new tokens as they come, and a way to stop it."""

    def tokens(self) -> Iterator[int]:
        """Each new token once; ends when the engine finished the request (stop token or length)."""

    def cancel(self) -> None:
        """Stop generating; tokens not yet read are dropped."""


class SegmentEngine(Protocol):
    """What the phased driver needs from an engine."""

    def start(
        self, token_ids: list[int], max_new_tokens: int, stop_ids: tuple[int, ...], sampling: Sampling
    ) -> Segment: ...


def segment_seed(seed: int, position: int) -> int:
    """The seed a segment starting at output ``position`` samples with: a function of the job's seed and the
    position only, so a solo re-run draws the same numbers however far an earlier segment ran past its cut."""
    digest = hashlib.sha256(f"glassbox-segment:{seed}:{position}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & (2**63 - 1)


@dataclasses.dataclass
class PhasedRun:
    """The output ids of one job and how many engine requests it took."""

    output_ids: list[int]
    segments: int


def run_phased(engine: SegmentEngine, prompt_ids: tuple[int, ...], controller: GenerationController) -> PhasedRun:
    """Generate for one prompt under ``controller`` as a chain of segments (see the module docstring)."""
    settings = controller.settings
    control = controller.control
    # The same overall cap as transformers' max_new_tokens had: both budgets plus the control tokens.
    cap = settings.thinking_budget + settings.answer_budget + CONTROL_TOKEN_ALLOWANCE
    generated: list[int] = []
    segments = 0
    stopped = False
    while not stopped and len(generated) < cap:
        forced = controller.forced_token()
        if forced is not None:
            generated.append(forced)
            stopped = controller.observe(forced)
            continue
        if controller.phase == "thinking":
            room = settings.thinking_budget - controller.thinking_tokens
            stop_ids: tuple[int, ...] = (control.end_think, control.eos)
        else:
            room = settings.answer_budget - controller.answer_tokens
            stop_ids = (control.think, control.eos)
        sampling = Sampling(settings.temperature, settings.top_p, segment_seed(settings.seed, len(generated)))
        segment = engine.start(
            list(prompt_ids) + generated, max(1, min(room, cap - len(generated))), stop_ids, sampling
        )
        segments += 1
        produced = len(generated)
        try:
            for token in segment.tokens():
                generated.append(token)
                stopped = controller.observe(token)
                if stopped or len(generated) >= cap or controller.forced_token() is not None:
                    break
        finally:
            segment.cancel()  # a no-op for a finished request; frees a cut one's cache at once
        if len(generated) == produced:
            raise GenerationError("The engine ended a request without producing a token; the worker log has details.")
    controller.finish()
    return PhasedRun(generated, segments)
