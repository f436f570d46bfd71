"""The web process's tokenizer-only view of the model, to check prompts against the context limit."""

from __future__ import annotations

import contextlib
import functools
import threading

from django.conf import settings

from inference.engine import PromptBuilder
from inference.errors import InferenceError

# transformers imports its tokenizer classes lazily, and that import fails when threads race through it
# (ImportError "cannot import name 'AutoTokenizer'"): a threaded web process loads the builder once, under a lock.
_loading = threading.Lock()


def prompt_builder() -> PromptBuilder:
    """Loaded once per process; raises ``InferenceError`` (one sentence) if the model folder is unusable."""
    with _loading:
        return _open()


def warm_up() -> None:
    """Load the builder now, as a web worker starts; an unusable model folder is left for the submission that needs
    it, which refuses with the sentence (the web pages still serve everything else)."""
    with contextlib.suppress(InferenceError):
        prompt_builder()


@functools.cache
def _open() -> PromptBuilder:
    config = settings.GLASSBOX
    # A site whose model is served elsewhere (GLASSBOX_ENGINE=openai) keeps only its tokenizer and config here.
    return PromptBuilder.open(
        config["MODEL_PATH"] or None, config["CONTEXT_LIMIT"], weights_needed=config["ENGINE"] == "local"
    )


__all__ = ["InferenceError", "prompt_builder", "warm_up"]
