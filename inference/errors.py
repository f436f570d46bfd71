"""Typed errors of the inference engine.

Every error carries one sentence meant for a person: the CLI prints it and exits 2,
the service stores it as the job's reason. No traceback is ever the message.
"""

from __future__ import annotations


class InferenceError(Exception):
    """Base class: ``str(error)`` is a complete sentence for an operator or analyst."""


class ModelDirectoryError(InferenceError):
    """The model directory is missing, incomplete or unreadable."""


class NotMagistralError(InferenceError):
    """The tokenizer lacks the Magistral 1.1 control tokens."""


class QuantizationError(InferenceError):
    """The quantization mode is unknown or cannot run on this machine."""


class DeviceError(InferenceError):
    """The configured device is malformed or does not exist in this process."""


class GenerationError(InferenceError):
    """Generation itself failed (for example the GPU ran out of memory)."""


class InvalidRequestError(InferenceError):
    """A request field is invalid; ``field`` names it so a form can show the error beside it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class ContextLimitError(InvalidRequestError):
    """Prompt plus generation budget exceed the context limit."""

    def __init__(self, prompt_tokens: int, budget_tokens: int, limit: int) -> None:
        super().__init__(
            "documents",
            f"The prompt is {prompt_tokens} tokens and the generation budget {budget_tokens} tokens, "
            f"{prompt_tokens + budget_tokens} in all, over the context limit of {limit} tokens; "
            "shorten the documents or lower the budgets.",
        )
        self.prompt_tokens = prompt_tokens
        self.budget_tokens = budget_tokens
        self.limit = limit
