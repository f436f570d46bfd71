from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from inference.engine import Engine, PromptBuilder
from inference.errors import NotMagistralError
from inference.tiny_model import make_tiny_model
from inference.types import GenerationSettings, ReasoningRequest


def test_control_tokens_are_looked_up_by_name(tiny_model_dir: Path):
    builder = PromptBuilder.open(tiny_model_dir)
    tokenizer = builder.tokenizer
    assert builder.control.think == tokenizer.convert_tokens_to_ids("[THINK]")
    assert builder.control.end_think == tokenizer.convert_tokens_to_ids("[/THINK]")
    assert builder.control.eos == tokenizer.eos_token_id
    # The tiny model places them away from tekken's ids 34/35 on purpose.
    assert (builder.control.think, builder.control.end_think) != (34, 35)


def test_tokenizer_without_think_tokens_is_refused(tiny_model_dir: Path, tmp_path: Path):
    model = Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))
    path = model / "tokenizer.json"
    text = path.read_text(encoding="utf-8").replace("[/THINK]", "[/PLAN]").replace("[THINK]", "[PLAN]")
    Tokenizer.from_str(text).save(str(path))
    with pytest.raises(NotMagistralError, match=r"does not look like a Magistral Small 1\.1 checkpoint"):
        PromptBuilder.open(model)


@pytest.fixture(scope="module")
def tekken_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("tekken") / "model", tokenizer="tekken")


def test_tekken_json_alone_goes_through_mistral_common(tekken_model_dir: Path):
    builder = PromptBuilder.open(tekken_model_dir)
    assert builder.files.tokenizer_kind == "tekken"
    assert type(builder.tokenizer).__name__ == "MistralCommonBackend"
    prompt = builder.render(ReasoningRequest("legal", "Is a verbal contract binding?"))
    assert list(prompt.token_ids).count(builder.control.think) == 1
    assert prompt.text.startswith("<s>[SYSTEM_PROMPT]First draft your thinking process")


def test_tekken_model_generates_with_budget_forcing(tekken_model_dir: Path):
    engine = Engine.load(tekken_model_dir, quantization="bf16")
    settings = GenerationSettings(thinking_budget=12, answer_budget=6)
    result = engine.generate(ReasoningRequest("finance", "What is EBITDA?", settings=settings))
    assert result.output_token_ids[13] == engine.control.end_think
    assert result.provenance["tokenizer_kind"] == "tekken"
    assert set(result.provenance["tokenizer_files"]) == {"tekken.json"}
