from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from inference.engine import PromptBuilder
from inference.errors import NotMagistralError


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
