"""What one run of ``verify_ledger`` found: every problem (up to a cap) and the total."""

from __future__ import annotations

import dataclasses

from audit_app.ledger.problems import Problem


@dataclasses.dataclass
class Report:
    entries: int = 0
    checkpoints: int = 0
    root: bytes = b""
    seconds: float = 0.0
    problems: list[Problem] = dataclasses.field(default_factory=list)  # the first ``cap`` found
    problem_count: int = 0  # all of them
    cap: int = 100

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    def add(self, problem: Problem) -> None:
        """Count every problem, keep the first ``cap``: a flood of forged rows must not exhaust memory."""
        self.problem_count += 1
        if len(self.problems) < self.cap:
            self.problems.append(problem)

    def summary(self) -> str:
        rate = self.entries / self.seconds if self.seconds else 0.0
        facts = (
            f"{self.entries} entries, {self.checkpoints} checkpoints, root {self.root.hex()}, "
            f"{self.seconds:.2f} s ({rate:,.0f} entries/s)."
        )
        if self.ok:
            return f"Ledger verified: {facts}"
        shown = "" if len(self.problems) == self.problem_count else f" (the first {len(self.problems)} listed)"
        noun = "problem" if self.problem_count == 1 else "problems"
        return f"Ledger verification failed: {self.problem_count} {noun}{shown}; {facts}"
