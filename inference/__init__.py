"""Glassbox inference: Magistral Small 1.1 on transformers + bitsandbytes, with full provenance.

Plain Python with no Django import, usable alone: ``python -m inference --help``.
"""

from inference.engine import Engine, PromptBuilder
from inference.errors import (
    ContextLimitError,
    DeviceError,
    GenerationError,
    InferenceError,
    InvalidRequestError,
    ModelDirectoryError,
    NotMagistralError,
    QuantizationError,
)
from inference.types import Document, GenerationSettings, Progress, ReasoningRequest, ReasoningResult

__all__ = [
    "ContextLimitError",
    "DeviceError",
    "Document",
    "Engine",
    "GenerationError",
    "GenerationSettings",
    "InferenceError",
    "InvalidRequestError",
    "ModelDirectoryError",
    "NotMagistralError",
    "Progress",
    "PromptBuilder",
    "QuantizationError",
    "ReasoningRequest",
    "ReasoningResult",
]
