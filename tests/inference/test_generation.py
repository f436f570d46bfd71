"""Generation on the real transformers path with the tiny test model."""

from __future__ import annotations

from inference.engine import Engine
from inference.loops import LoopDetector
from inference.types import GenerationSettings, Progress, ReasoningRequest


def ask(engine: Engine, **settings: object):
    request = ReasoningRequest("legal", "Is a verbal contract binding?", settings=GenerationSettings(**settings))  # type: ignore[arg-type]
    return engine.generate(request)


def test_budget_forcing_caps_trace_then_end_think_then_answer(engine: Engine):
    result = ask(engine, thinking_budget=16, answer_budget=24, seed=0)
    ids, control = result.output_token_ids, engine.control
    assert ids[0] == control.think
    assert ids.index(control.end_think) == 17
    assert result.thinking_tokens == 16
    assert result.answer_tokens > 0
    assert result.answer
    assert result.thinking_end == "thinking_budget"
    assert {"position": 17, "token": "[/THINK]", "reason": "thinking_budget"} in result.forced_tokens


def test_same_seed_same_output_other_seed_differs(engine: Engine):
    first = ask(engine, thinking_budget=32, answer_budget=16, seed=7)
    again = ask(engine, thinking_budget=32, answer_budget=16, seed=7)
    other = ask(engine, thinking_budget=32, answer_budget=16, seed=8)
    assert first.output_token_ids == again.output_token_ids
    assert first.output_token_ids != other.output_token_ids
    assert first.provenance["seed"] == 7


def test_greedy_loop_in_the_trace_is_detected_and_thinking_ends_early(engine: Engine):
    result = ask(engine, temperature=0, thinking_budget=2000, answer_budget=8)
    assert result.thinking_end == "loop_detected"
    assert result.thinking_tokens < 2000
    trace = result.output_token_ids[1 : 1 + result.thinking_tokens]
    detector = LoopDetector(min_repeats=4, min_tokens=64, max_period=256)
    assert any(detector.feed(token) for token in trace)


def test_cancel_stops_within_one_step_and_keeps_the_partial_run(engine: Engine):
    seen: list[Progress] = []
    request = ReasoningRequest("finance", "What is EBITDA?", settings=GenerationSettings(thinking_budget=500))
    result = engine.generate(
        request, on_progress=seen.append, should_cancel=lambda: len(seen) >= 5, progress_interval=0
    )
    # Asked for after the 5th token; the next poll, one step later, stops it.
    assert result.finish_reason == "cancelled"
    assert result.generated_tokens == 6
    assert result.thinking


def test_stream_deltas_rebuild_thinking_and_answer(engine: Engine):
    updates: list[Progress] = []
    request = ReasoningRequest("clinical", "Fever and cough?", settings=GenerationSettings(thinking_budget=40, seed=3))
    result = engine.generate(request, on_progress=updates.append, progress_interval=0)
    assert "".join(u.thinking_delta for u in updates).strip() == result.thinking
    assert "".join(u.answer_delta for u in updates).strip() == result.answer
    assert updates[-1].generated_tokens == result.generated_tokens


def test_result_is_labelled_as_test_model_with_timings(engine: Engine):
    result = ask(engine, thinking_budget=8, answer_budget=8)
    assert result.is_test_model
    assert result.to_dict()["is_test_model"] is True
    assert result.timings["time_to_first_token_seconds"] > 0
    assert result.raw_output.startswith("[THINK]")
