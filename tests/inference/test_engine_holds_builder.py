"""``Engine`` holds a ``PromptBuilder`` (the tokenizer side) and is not one."""

from __future__ import annotations

from pathlib import Path

from inference import Engine, PromptBuilder, ReasoningRequest


def test_engine_holds_its_prompt_builder_rather_than_inheriting(tiny_model_dir: Path):
    assert not issubclass(Engine, PromptBuilder)
    prompts = PromptBuilder.open(tiny_model_dir)
    engine = Engine.from_prompts(prompts, "bf16", device="cpu")
    assert engine.prompts is prompts
    request = ReasoningRequest("legal", "Q?")
    assert engine.generate(request).prompt == prompts.render(request)  # one renderer, the builder's
