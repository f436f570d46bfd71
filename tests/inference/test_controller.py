"""The controller's rules, driven token by token without a model."""

from inference.controller import GenerationController
from inference.tokenizer import ControlTokens
from inference.types import GenerationSettings, Progress

CONTROL = ControlTokens(think=100, end_think=101, eos=2, special_texts=())


def decode(ids: list[int]) -> str:
    return "".join(chr(96 + token % 26) for token in ids)


def drive(controller: GenerationController, sampled: list[int]) -> list[int]:
    """Play ``sampled`` as the model's choices, honouring forced tokens as transformers would."""
    out: list[int] = []
    choices = iter(sampled)
    while True:
        forced = controller.forced_token()
        token = forced if forced is not None else next(choices)
        out.append(token)
        if controller.observe(token):
            return out


def make(**settings: object) -> GenerationController:
    return GenerationController(CONTROL, GenerationSettings(**settings), decode)  # type: ignore[arg-type]


def test_thinking_budget_forces_end_think_then_answer_runs():
    controller = make(thinking_budget=5, answer_budget=3)
    out = drive(controller, list(range(10, 40)))
    assert out[0] == CONTROL.think
    assert out[6] == CONTROL.end_think
    assert controller.thinking_tokens == 5
    assert controller.answer_tokens == 3
    assert controller.finish_reason() == "answer_budget"
    assert [f["reason"] for f in controller.forced] == ["think_start", "thinking_budget"]


def test_model_closing_thinking_itself_ends_with_eos():
    controller = make(thinking_budget=50)
    drive(controller, [10, 11, CONTROL.end_think, 12, CONTROL.eos])
    assert controller.thinking_end == "model"
    assert controller.finish_reason() == "eos"


def test_loop_in_thinking_forces_end_think_early():
    controller = make(thinking_budget=1000, loop_min_tokens=12, loop_min_repeats=3)
    out = drive(controller, [10, 11, 12] * 10 + [13, 14, CONTROL.eos])
    assert out[13] == CONTROL.end_think
    assert out[-3:] == [13, 14, CONTROL.eos]
    assert controller.thinking_end == "loop_detected"
    assert controller.finish_reason() == "loop_detected"


def test_answer_cut_by_its_budget_outranks_a_forced_end_of_thinking():
    controller = make(thinking_budget=2, answer_budget=2)
    drive(controller, list(range(10, 20)))
    assert (controller.thinking_end, controller.finish_reason()) == ("thinking_budget", "answer_budget")


def test_cancel_is_honoured_on_the_step_it_is_seen():
    calls = []
    controller = GenerationController(
        CONTROL, GenerationSettings(), decode, should_cancel=lambda: len(calls.append(1) or calls) >= 4
    )
    out = drive(controller, list(range(10, 100)))
    assert len(out) == 4
    assert controller.finish_reason() == "cancelled"


def test_no_forced_start_lets_answer_come_without_thinking():
    controller = make(force_think_start=False, answer_budget=3)
    out = drive(controller, [10, 11, 12, 13])
    assert out == [10, 11, 12]
    assert controller.thinking_end == "none"


def test_progress_is_throttled_and_deltas_add_up():
    now = [0.0]
    updates: list[Progress] = []
    controller = GenerationController(
        CONTROL,
        GenerationSettings(thinking_budget=20, answer_budget=20),
        decode,
        on_progress=updates.append,
        progress_interval=1.0,
        clock=lambda: now[0],
    )
    for token in [CONTROL.think, *range(3, 23), CONTROL.end_think, *range(3, 8), CONTROL.eos]:
        now[0] += 0.1
        if controller.observe(token):
            break
    controller.finish()
    assert 2 <= len(updates) <= 5
    assert "".join(u.thinking_delta for u in updates) == decode(list(range(3, 23)))
    assert "".join(u.answer_delta for u in updates) == decode(list(range(3, 8)))
    assert updates[-1].generated_tokens == 28
