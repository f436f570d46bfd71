"""A 40,000-token trace renders in full: every page carries its furniture and the trace's last words are there.

The trace is test input (decoded token ids of the tiny tokenizer, with Markdown around them), stored as the
tiny test model's run through ``record_run``: layout, not reasoning. Time and page count are printed for
docs/benchmarks.md.
"""

from __future__ import annotations

import random
import re
import resource
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from tokenizers import Tokenizer

from tests.reports.rendering import exported, job_with_text, page_count, render, text

pytestmark = pytest.mark.django_db
TOKENS = 40_000


def long_trace(tokens: int = TOKENS) -> tuple[str, int]:
    """Paragraphs of the tiny tokenizer's own tokens, with a heading, a list and a formula now and then, until
    the text is ``tokens`` long by that tokenizer's count."""
    tokenizer = Tokenizer.from_file(str(Path(settings.GLASSBOX["MODEL_PATH"]) / "tokenizer.json"))
    words = [w for w in (tokenizer.decode([i]).strip() for i in range(tokenizer.get_vocab_size())) if w.isalpha()]
    pick = random.Random(40_000)
    parts: list[str] = []
    count = 0
    while count < tokens:
        n = len(parts)
        if n % 25 == 0:
            parts.append(f"## Step {n // 25 + 1}")
        elif n % 10 == 0:
            parts.append("\n".join(f"- {' '.join(pick.choices(words, k=6))}" for _ in range(3)))
        elif n % 17 == 0:
            parts.append(f"So $a_{{{n}}} = \\frac{{{n}}}{{2}}$ holds.")
        else:
            parts.append(" ".join(pick.choices(words, k=60)) + ".")
        count += len(tokenizer.encode(parts[-1] + "\n\n").ids)
    parts.append("Last words of the trace.")
    trace = "\n\n".join(parts)
    return trace, len(tokenizer.encode(trace).ids)


def test_a_40000_token_trace_renders_on_every_page(analyst: User) -> None:
    trace, tokens = long_trace()
    assert TOKENS <= tokens < TOKENS + 200
    job = job_with_text(analyst, thinking=trace)
    bundle = exported(job, analyst)
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    _, pdf = render(job, bundle)
    seconds = time.perf_counter() - started
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    pages = page_count(pdf)
    shown = text(pdf)
    print(
        f"\n40k-token trace: {tokens} tokens, {len(trace)} chars, {pages} pages, {seconds:.1f} s, RSS +{grown:.0f} MiB"
    )
    assert pages > 20
    assert "Last words of the trace." in " ".join(shown.split())
    assert sorted(int(n) for n in re.findall(rf"Page (\d+) of {pages}\b", shown)) == list(range(1, pages + 1))
    assert shown.count("TEST MODEL") >= pages
