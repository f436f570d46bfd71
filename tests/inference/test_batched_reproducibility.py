"""What the same seed reproduces on the batching engine (docs/inference.md, "Batched engine"): a solo re-run
repeats a solo run token for token; beside other jobs, only what is asserted below holds."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from inference.engine import Engine
from inference.types import GenerationSettings, ReasoningRequest, ReasoningResult

QUESTION = "Is a verbal contract binding?"


@pytest.fixture(scope="module")
def engine(tiny_model_dir: Path) -> Engine:
    """A fresh engine, so the first solo run below is the first job it ever runs: the prefix cache is off
    (``BatchSettings.prefix_cache``) because with it a prompt's cached pages changed the prefill steps, and so the
    random draws, before the first token, and the first job after an engine start did not repeat."""
    return Engine.load(tiny_model_dir, quantization="bf16")


def ask(engine: Engine, question: str = QUESTION, **settings: object) -> ReasoningResult:
    request = ReasoningRequest("legal", question, settings=GenerationSettings(**settings))  # type: ignore[arg-type]
    return engine.generate(request)


def alongside(engine: Engine, settings: dict[str, object], others: int = 3) -> list[ReasoningResult]:
    """The job with ``settings`` and ``others`` different jobs, started together; the job's result first."""
    results: list[ReasoningResult | None] = [None] * (others + 1)
    barrier = threading.Barrier(others + 1)

    def run(index: int) -> None:
        barrier.wait()
        if index == 0:
            results[0] = ask(engine, **settings)
        else:  # other questions, budgets and seeds: they outlive the job, so it shares every step
            results[index] = ask(engine, f"{QUESTION} Case {index}.", thinking_budget=96, answer_budget=48, seed=index)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(others + 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(result is not None for result in results)
    return [result for result in results if result is not None]


@pytest.mark.parametrize(
    ("settings", "thinking_end"),
    [
        ({"temperature": 0.7, "thinking_budget": 12, "answer_budget": 16, "seed": 3}, "thinking_budget"),
        ({"temperature": 0, "thinking_budget": 2000, "answer_budget": 8, "seed": 11}, "loop_detected"),
    ],
    ids=["sampled-budget-forced", "loop-cut"],
)
def test_a_solo_rerun_reproduces_a_solo_run(engine: Engine, settings: dict[str, object], thinking_end: str):
    first = ask(engine, **settings)
    again = ask(engine, **settings)
    assert first.thinking_end == thinking_end  # the run crossed a forced [/THINK]: more than one segment
    assert first.provenance["engine"]["segments"] > 1
    assert first.provenance["engine"]["shared_batches"] is False
    assert again.output_token_ids == first.output_token_ids
    assert again.forced_tokens == first.forced_tokens


def test_what_holds_beside_other_jobs(engine: Engine):
    sampled = {"temperature": 0.7, "thinking_budget": 12, "answer_budget": 16, "seed": 3}
    greedy = {"temperature": 0, "thinking_budget": 24, "answer_budget": 16, "seed": 3}
    solo_sampled, solo_greedy = ask(engine, **sampled), ask(engine, **greedy)
    batched_sampled = alongside(engine, sampled)
    batched_greedy = alongside(engine, greedy)
    assert solo_sampled.provenance["engine"]["shared_batches"] is False
    for batched in (*batched_sampled, *batched_greedy):
        assert batched.provenance["engine"]["shared_batches"] is True
    # Sampled: one generator serves the whole batch and is not reseeded for a shared job, so its draws depend
    # on the other jobs; the budgets still force [/THINK] at the same place.
    assert batched_sampled[0].output_token_ids != solo_sampled.output_token_ids
    assert batched_sampled[0].forced_tokens == solo_sampled.forced_tokens
    # Greedy beside other jobs is NOT asserted equal: bf16 arithmetic over a different batch shape can flip a
    # near tie (observed on this CPU: equal in 2 of 3 tries). What holds: the run is complete under its budgets.
    assert batched_greedy[0].thinking_tokens <= 24
    assert batched_greedy[0].answer_tokens <= 16
    # Shared batches leave nothing behind: a solo re-run afterwards still repeats the first solo run.
    assert ask(engine, **sampled).output_token_ids == solo_sampled.output_token_ids
    assert ask(engine, **greedy).output_token_ids == solo_greedy.output_token_ids
