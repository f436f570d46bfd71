"""The benchmark's table, for the terminal and for docs/benchmarks.md."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from inference.bench.measure import Measurement

START = "<!-- inference-bench:start -->"
END = "<!-- inference-bench:end -->"
HEADER = (
    "| model | quant | variant | batch | prompt | new | TTFT s | decode tok/s (1 stream) | aggregate tok/s "
    "| peak memory GiB | weights read/token GiB | roofline tok/s | ratio |"
)


def table(rows: Sequence[Measurement]) -> str:
    lines = [HEADER, "|" + "---|" * 13]
    for row in rows:
        head = f"| {row.model} | {row.mode} | {row.variant} | {row.batch} | {row.prompt_tokens} | {row.new_tokens} |"
        if row.error:
            lines.append(f"{head} failed: {row.error} |" + " |" * 6)
            continue
        lines.append(
            f"{head} {row.ttft_seconds:.3f} | {row.decode_tokens_per_second:.1f} | "
            f"{row.aggregate_tokens_per_second:.1f} | {row.peak_memory_bytes / 2**30:.2f} | "
            f"{row.weight_bytes / 2**30:.4f} | {row.roofline_tokens_per_second:.1f} | {row.roofline_ratio:.2f} |"
        )
    return "\n".join(lines)


def section(machine: str, bandwidth: str, rows: Sequence[Measurement], notes: Sequence[str]) -> str:
    body = [START, f"Machine: {machine}", "", f"Measured copy bandwidth: {bandwidth}", "", table(rows), ""]
    body += [f"- {note}" for note in notes]
    return "\n".join([*body, END])


def write_section(path: Path, text: str, start: str = START, end: str = END) -> None:
    """Replace one benchmark's own section of ``path`` (between its markers), keeping everything around it."""
    current = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n\n"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
    updated = pattern.sub(lambda _: text, current) if pattern.search(current) else current.rstrip() + "\n\n" + text
    path.write_text(updated.rstrip() + "\n", encoding="utf-8")
