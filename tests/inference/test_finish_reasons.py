"""Finish reasons are true: a length limit is never reported as a thinking cut, and no loop is found
in a trace that has just reopened.

Driven first through the controller alone, then through transformers' real ``generate`` with the
tiny model's weights set so that greedy decoding always picks ``[THINK]``: after a forced
``[/THINK]`` it reopens thinking at once, the case the controller alone cannot show end to end.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch

from inference.controller import GenerationController
from inference.engine import Engine
from inference.tokenizer import ControlTokens
from inference.types import GenerationSettings, ReasoningRequest

CONTROL = ControlTokens(think=100, end_think=101, eos=2, special_texts=())


def drive(controller: GenerationController, sampled: list[int], cap: int) -> list[int]:
    """Play ``sampled`` as the model's choices; stop as transformers would, at ``cap`` tokens at most."""
    out: list[int] = []
    choices = iter(sampled)
    while len(out) < cap:
        forced = controller.forced_token()
        token = forced if forced is not None else next(choices)
        out.append(token)
        if controller.observe(token):
            break
    return out


def make(**settings: object) -> GenerationController:
    return GenerationController(CONTROL, GenerationSettings(**settings), lambda ids: "")  # type: ignore[arg-type]


def test_token_cap_after_a_forced_end_of_thinking_is_answer_budget():
    controller = make(thinking_budget=3, answer_budget=5)
    # The model keeps reopening thinking; each reopening is closed by force, so the answer never
    # reaches its budget and transformers' overall cap (both budgets + 8) ends the run.
    out = drive(controller, [10, 11, 12] + [CONTROL.think] * 50, cap=3 + 5 + 8)
    assert len(out) == 16
    assert controller.stop_reason is None
    assert (controller.thinking_end, controller.finish_reason()) == ("thinking_budget", "answer_budget")


def test_reopened_thinking_starts_a_fresh_loop_history():
    controller = make(thinking_budget=1000, loop_min_tokens=12, loop_min_repeats=3)
    looping = [10, 11, 12] * 4  # a loop after 12 tokens: [/THINK] is forced
    # The model reopens thinking and starts by echoing its old pattern once: one step, not a loop.
    reopened = [CONTROL.think, 10, 11, 12, *range(20, 30), CONTROL.end_think, 40, CONTROL.eos]
    out = drive(controller, looping + reopened, cap=200)
    reasons = [f["reason"] for f in controller.forced]
    assert reasons == ["think_start", "loop_detected"]  # the reopened block is not cut after its first token
    assert out[-3:] == [CONTROL.end_think, 40, CONTROL.eos]
    assert (controller.thinking_end, controller.finish_reason()) == ("model", "eos")


def test_eos_after_a_forced_end_of_thinking_still_names_the_cut():
    controller = make(thinking_budget=2, answer_budget=50)
    drive(controller, [10, 11, 12, 13, CONTROL.eos], cap=60)
    assert controller.finish_reason() == "thinking_budget"


@pytest.fixture(scope="module")
def always_think(tiny_model_dir: Path) -> Engine:
    """The tiny model, loaded by the real code, then set so that every greedy step picks ``[THINK]``."""
    engine = Engine.load(tiny_model_dir, quantization="bf16")
    model = engine.model
    with torch.no_grad():
        for layer in model.model.layers:  # no layer adds anything: the last hidden state is the embedding
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        model.model.embed_tokens.weight.fill_(1.0)
        model.model.norm.weight.fill_(1.0)
        model.lm_head.weight.zero_()
        model.lm_head.weight[engine.control.think] = 1.0
    return engine


def generate(engine: Engine, **settings: object):
    request = ReasoningRequest("legal", "Q?", settings=GenerationSettings(temperature=0, **settings))  # type: ignore[arg-type]
    return engine.generate(request)


def test_generate_hitting_the_cap_after_forced_end_of_thinking(always_think: Engine):
    result = generate(always_think, thinking_budget=4, answer_budget=6)
    assert result.generated_tokens == 4 + 6 + 8
    assert result.output_token_ids[5] == always_think.control.end_think
    assert result.thinking_end == "thinking_budget"
    assert result.finish_reason == "answer_budget"


def test_generate_reopened_thinking_is_not_a_false_loop(always_think: Engine):
    result = generate(always_think, thinking_budget=400, answer_budget=4, loop_min_tokens=64)
    cuts = [f["position"] for f in result.forced_tokens if f["reason"] == "loop_detected"]
    assert len(cuts) >= 2
    # Each cut needs a fresh run of 64 looping tokens after [THINK] reopens, never just one.
    assert all(later - earlier > 64 for earlier, later in itertools.pairwise(cuts))
