"""Detect a thinking trace stuck in a loop: its tail repeats one n-gram over and over.

For each period p up to ``max_period`` we keep how many consecutive tokens have equalled the
token p places earlier. A tail that is periodic with period p for ``min_repeats`` periods and
at least ``min_tokens`` tokens is a loop. Each token costs O(max_period), with no re-scanning.
"""

from __future__ import annotations


class LoopDetector:
    """Feed tokens one at a time; ``feed`` returns True once the tail is a loop."""

    def __init__(self, min_repeats: int, min_tokens: int, max_period: int) -> None:
        self.min_repeats = min_repeats
        self.min_tokens = min_tokens
        self.max_period = max_period
        self._history: list[int] = []
        self._runs = [0] * (max_period + 1)
        self.period: int | None = None

    def reset(self) -> None:
        """Forget every token fed so far, as if freshly made."""
        self._history.clear()
        self._runs = [0] * (self.max_period + 1)
        self.period = None

    def feed(self, token: int) -> bool:
        history = self._history
        history.append(token)
        size = len(history)
        for period in range(1, min(self.max_period, size - 1) + 1):
            if history[-1] == history[-1 - period]:
                self._runs[period] += 1
            else:
                self._runs[period] = 0
            span = self._runs[period] + period
            if span >= self.min_tokens and span >= self.min_repeats * period:
                self.period = period
                return True
        # Only the last max_period tokens are ever compared; keep memory bounded on long traces.
        if size > 4 * self.max_period:
            del history[: size - self.max_period - 1]
        return False
