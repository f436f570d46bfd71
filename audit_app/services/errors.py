from __future__ import annotations


class SubmissionError(Exception):
    """A submission refused before anything is stored; ``field`` names the form field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
