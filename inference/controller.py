"""The per-step state machine of one generation: phases, budgets, forcing, loops, cancel, streaming.

It is plain Python so it can be reasoned about and tested without a model; ``generation``
plugs it into transformers' ``generate`` as a logits processor (forcing) and a stopping
criterion (observing each new token).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

from inference.loops import LoopDetector
from inference.tokenizer import ControlTokens
from inference.types import CancelCheck, FinishReason, GenerationSettings, Progress, ProgressCallback, ThinkingEnd

Phase = Literal["start", "thinking", "answer"]
Decode = Callable[[list[int]], str]


class _TextStream:
    """Decodes a growing list of ids and hands out only the new text since the last call."""

    def __init__(self, decode: Decode) -> None:
        self.decode = decode
        self.ids: list[int] = []
        self.emitted = 0

    def delta(self, final: bool = False) -> str:
        text = self.decode(self.ids)
        # A multi-byte character split across tokens decodes to U+FFFD until its last byte arrives; the last
        # update sends it as it stands, since no byte will come to complete it.
        if text.endswith("\ufffd") and not final:
            return ""
        new, self.emitted = text[self.emitted :], len(text)
        return new


class GenerationController:
    """Decides, before each step, whether a token is forced, and after it whether to stop."""

    def __init__(
        self,
        control: ControlTokens,
        settings: GenerationSettings,
        decode: Decode,
        on_progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
        progress_interval: float = 0.5,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.control = control
        self.settings = settings
        self.on_progress = on_progress
        self.should_cancel = should_cancel
        self.progress_interval = progress_interval
        self.clock = clock
        self.loops = LoopDetector(settings.loop_min_repeats, settings.loop_min_tokens, settings.loop_max_period)
        self.phase: Phase = "start"
        self.generated: list[int] = []
        self.thinking_tokens = 0
        self.answer_tokens = 0
        self.thinking_end: ThinkingEnd = "none"
        self.stop_reason: FinishReason | None = None
        self.forced: list[dict[str, Any]] = []
        self._pending: tuple[int, str] | None = None
        self._loop_found = False
        self._thinking_text = _TextStream(decode)
        self._answer_text = _TextStream(decode)
        self.started_at = clock()
        self.started_wall = time.time()  # comparable with other processes' clocks (queue latency)
        self.first_token_at: float | None = None
        self._last_progress = float("-inf")
        self._final_sent = False

    def forced_token(self) -> int | None:
        """The token the next step must produce, or None to let the model sample."""
        if self.stop_reason is not None:
            return None
        if not self.generated and self.settings.force_think_start:
            self._pending = (self.control.think, "think_start")
        elif self.phase == "thinking" and self._loop_found:
            self._pending = (self.control.end_think, "loop_detected")
        elif self.phase == "thinking" and self.thinking_tokens >= self.settings.thinking_budget:
            self._pending = (self.control.end_think, "thinking_budget")
        else:
            self._pending = None
        return self._pending[0] if self._pending else None

    def observe(self, token: int) -> bool:
        """Take the token just generated; True means generation must stop now."""
        now = self.clock()
        if self.first_token_at is None and self._pending is None:
            # The first token the model produced: a forced [THINK] is appended without running the model, so
            # counting it would make time to first token say nothing about prefill.
            self.first_token_at = now
        if self._pending is not None:
            self.forced.append(
                {"position": len(self.generated), "token": self.control.name(token), "reason": self._pending[1]}
            )
            if self._pending[1] != "think_start":
                self.thinking_end = "loop_detected" if self._pending[1] == "loop_detected" else "thinking_budget"
            self._pending = None
        elif token == self.control.end_think and self.phase == "thinking":
            self.thinking_end = "model"
        self.generated.append(token)
        self._advance(token)
        if self.stop_reason is None and self.should_cancel is not None and self.should_cancel():
            self.stop_reason = "cancelled"
        self._report(now, final=self.stop_reason is not None)
        return self.stop_reason is not None

    def finish_reason(self) -> FinishReason:
        """Why generation ended (see docs/inference.md): a length limit or a cancel says so first;
        only a run the model itself ended says, through the reason, how its thinking was cut."""
        if self.stop_reason is None:
            # transformers stopped on its own token cap (both budgets plus a few control tokens): a
            # length limit, whatever thinking did before it, so never a thinking cut.
            return "answer_budget"
        if self.stop_reason in ("cancelled", "answer_budget"):
            return self.stop_reason
        if self.thinking_end in ("loop_detected", "thinking_budget"):
            return self.thinking_end
        return "eos"

    def finish(self) -> None:
        """Send the last progress update (the tail that throttling held back)."""
        self._report(self.clock(), final=True)

    def _advance(self, token: int) -> None:
        control = self.control
        if token == control.eos:
            self.stop_reason = "eos"
        elif token == control.think and self.phase != "thinking":
            self.phase = "thinking"
            # A reopened block is judged on its own tokens; the last block's loop must not cut its first.
            self._loop_found = False
            self.loops.reset()
        elif token == control.end_think:
            if self.phase == "thinking":
                self.phase = "answer"
        elif self.phase == "thinking":
            self.thinking_tokens += 1
            self._thinking_text.ids.append(token)
            if self.loops.feed(token):
                self._loop_found = True
        else:
            self.phase = "answer"
            self.answer_tokens += 1
            self._answer_text.ids.append(token)
            if self.answer_tokens >= self.settings.answer_budget:
                self.stop_reason = "answer_budget"

    def _report(self, now: float, final: bool) -> None:
        if self.on_progress is None or self._final_sent:
            return
        first = len(self.generated) == 1
        if not (final or first or now - self._last_progress >= self.progress_interval):
            return
        self._last_progress = now
        self._final_sent = final
        thinking_delta, answer_delta = self._thinking_text.delta(final), self._answer_text.delta(final)
        self.on_progress(
            Progress(
                phase="answer" if self.phase == "answer" else "thinking",
                thinking_delta=thinking_delta,
                answer_delta=answer_delta,
                thinking_tokens=self.thinking_tokens,
                answer_tokens=self.answer_tokens,
                generated_tokens=len(self.generated),
                elapsed_seconds=now - self.started_at,
            )
        )
