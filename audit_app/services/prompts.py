"""The web process's tokenizer-only view of the model, to check prompts against the context limit."""

from __future__ import annotations

import functools

from django.conf import settings

from inference.engine import PromptBuilder
from inference.errors import InferenceError


@functools.cache
def prompt_builder() -> PromptBuilder:
    """Loaded once per process; raises ``InferenceError`` (one sentence) if the model folder is unusable."""
    config = settings.GLASSBOX
    return PromptBuilder.open(config["MODEL_PATH"] or None, config["CONTEXT_LIMIT"])


__all__ = ["InferenceError", "prompt_builder"]
