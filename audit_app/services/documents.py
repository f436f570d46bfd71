"""Turn an uploaded file into a document: original bytes, SHA-256, and the text the prompt will use.

Every refusal is a ``SubmissionError`` with one sentence, and each is reached within bounded time
and memory: the size is checked before anything is decoded, text that cannot fit the context is
refused before it is tokenized, and PDF extraction stops at its page, stream and time limits.
"""

from __future__ import annotations

import dataclasses
from pathlib import PurePath

from audit_app.ledger.canonical import sha256_hex
from audit_app.services.errors import SubmissionError
from audit_app.services.names import check_visible_name
from audit_app.services.pdf_text import pdf_text

CONTENT_TYPES = {".txt": "text/plain", ".md": "text/markdown", ".pdf": "application/pdf"}
MAX_NAME_LENGTH = 255  # Document.name's column
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


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
    suffix = PurePath(name).suffix.lower()
    if suffix not in CONTENT_TYPES:
        raise SubmissionError(
            "documents", f"{name}: only .txt, .md and .pdf files are accepted, not {suffix or 'files without one'}."
        )
    if len(data) > max_bytes:
        raise SubmissionError(
            "documents", f"{name} is {len(data):,} bytes, over the limit of {max_bytes:,} bytes per file."
        )
    text = pdf_text(name, data, max_chars) if suffix == ".pdf" else _plain_text(name, data)
    if max_chars is not None and len(text) > max_chars:
        raise too_long(name, max_chars)
    if not text.strip():
        raise SubmissionError("documents", f"{name} contains no text.")
    return ExtractedDocument(name, CONTENT_TYPES[suffix], data, sha256_hex(data), text)


def too_long(name: str, max_chars: int) -> SubmissionError:
    return SubmissionError(
        "documents",
        f"{name} holds more than {max_chars:,} characters of text, which cannot fit in what is left of the "
        "model's context after the thinking and answer budgets; shorten it or lower the budgets.",
    )


def _plain_text(name: str, data: bytes) -> str:
    # Windows tools save "Unicode" text as UTF-16 with a byte-order mark; the BOM makes it unambiguous.
    encoding = "utf-16" if data.startswith(UTF16_BOMS) else "utf-8-sig"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        raise SubmissionError(
            "documents", f"{name} is not UTF-8 text (nor UTF-16 with a byte-order mark); save it as UTF-8."
        ) from None
    if "\x00" in text:
        # PostgreSQL text cannot hold NUL, and text that holds it is a binary file or UTF-16 without a BOM.
        raise SubmissionError(
            "documents",
            f"{name} contains NUL bytes, so it is not plain text (a binary file, or UTF-16 without a "
            "byte-order mark?); save it as UTF-8 text.",
        )
    return text
