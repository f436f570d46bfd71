"""Turn an uploaded file into a document: original bytes, SHA-256, and the text the prompt will use.

The name is checked here (it is shown to people and kept as evidence); type, size, decoding and PDF
text come from ``inference.extraction``, the same code ``python -m inference run --document`` uses.
Every refusal is a ``SubmissionError`` with one sentence, reached within bounded time and memory.
"""

from __future__ import annotations

import dataclasses
from pathlib import PurePath

from audit_app.ledger.canonical import sha256_hex
from audit_app.services.errors import SubmissionError
from audit_app.services.names import check_visible_name
from inference import InvalidRequestError
from inference.extraction import extract_text

MAX_NAME_LENGTH = 255  # Document.name's column


@dataclasses.dataclass(frozen=True)
class ExtractedDocument:
    name: str
    content_type: str
    original: bytes
    sha256: str
    text: str


def extract_document(name: str, data: bytes, max_bytes: int, max_chars: int | None = None) -> ExtractedDocument:
    """Check name, type and size, extract the text (at most ``max_chars``); a ``SubmissionError`` says what is wrong."""
    name = PurePath(name).name  # never keep a client's directory path
    check_visible_name("documents", "The document name", name)
    if len(name) > MAX_NAME_LENGTH:
        raise SubmissionError("documents", f"A document name is {len(name)} characters long; at most 255 fit.")
    try:
        extracted = extract_text(name, data, max_bytes, max_chars)
    except InvalidRequestError as error:
        raise SubmissionError(error.field, str(error)) from None
    return ExtractedDocument(name, extracted.content_type, data, sha256_hex(data), extracted.text)
