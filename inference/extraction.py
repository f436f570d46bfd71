"""A document file's text: the one extraction the web form and ``python -m inference run --document`` share.

Plain Python (no Django), so the command line reads a ``.pdf``, ``.md`` or ``.txt`` exactly as an
upload is read, and refuses a bad file with the same sentence. Every refusal is an
``InvalidRequestError`` on the ``documents`` field, reached within bounded time and memory: the size
is checked before anything is decoded, and PDF extraction stops at its page, stream and time limits.
"""

from __future__ import annotations

import dataclasses
from pathlib import PurePath

from inference.errors import InvalidRequestError
from inference.pdf_text import pdf_text

CONTENT_TYPES = {".txt": "text/plain", ".md": "text/markdown", ".pdf": "application/pdf"}
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# The web's default per-file limit (GLASSBOX_MAX_UPLOAD_BYTES); the command line uses it too.
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
# Generous: prose averages about 4 characters per token; 64 leaves a wide margin for tokens that cover
# long runs of spaces or rule characters in tables. Only a text that no tokenizer could fit is refused early.
MAX_CHARS_PER_TOKEN = 64


@dataclasses.dataclass(frozen=True)
class ExtractedText:
    content_type: str
    text: str


def extract_text(name: str, data: bytes, max_bytes: int, max_chars: int | None = None) -> ExtractedText:
    """Check type and size and read the text (at most ``max_chars``); the error's sentence says what is wrong."""
    suffix = PurePath(name).suffix.lower()
    if suffix not in CONTENT_TYPES:
        raise InvalidRequestError(
            "documents", f"{name}: only .txt, .md and .pdf files are accepted, not {suffix or 'files without one'}."
        )
    check_size(name, len(data), max_bytes)
    text = pdf_text(name, data, max_chars) if suffix == ".pdf" else plain_text(name, data)
    if max_chars is not None and len(text) > max_chars:
        raise too_long(name, max_chars)
    if not text.strip():
        raise InvalidRequestError("documents", f"{name} contains no text.")
    return ExtractedText(CONTENT_TYPES[suffix], text)


def check_size(name: str, size: int, max_bytes: int) -> None:
    """Refuse a file over ``max_bytes`` before any of it is decoded."""
    if size > max_bytes:
        raise InvalidRequestError(
            "documents", f"{name} is {size:,} bytes, over the limit of {max_bytes:,} bytes per file."
        )


def text_bound(free_tokens: int) -> int:
    """Characters beyond which text cannot fit in ``free_tokens``, whatever the tokenizer.

    Tokenizing costs time and memory in proportion to the text (a 10 MiB file held a web worker for
    30 s at 2.4 GB), so text that cannot fit is refused before it is tokenized: with no token covering
    more than ``MAX_CHARS_PER_TOKEN`` characters, more than that many per free token cannot fit. The
    exact check after tokenizing still decides every text below the bound.
    """
    return free_tokens * MAX_CHARS_PER_TOKEN


def too_long(name: str, max_chars: int) -> InvalidRequestError:
    return InvalidRequestError(
        "documents",
        f"{name} holds more than {max_chars:,} characters of text, which cannot fit in what is left of the "
        "model's context after the thinking and answer budgets; shorten it or lower the budgets.",
    )


def plain_text(name: str, data: bytes) -> str:
    # Windows tools save "Unicode" text as UTF-16 with a byte-order mark; the BOM makes it unambiguous.
    encoding = "utf-16" if data.startswith(UTF16_BOMS) else "utf-8-sig"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        raise InvalidRequestError(
            "documents", f"{name} is not UTF-8 text (nor UTF-16 with a byte-order mark); save it as UTF-8."
        ) from None
    if "\x00" in text:
        # PostgreSQL text cannot hold NUL, and text that holds it is a binary file or UTF-16 without a BOM.
        raise InvalidRequestError(
            "documents",
            f"{name} contains NUL bytes, so it is not plain text (a binary file, or UTF-16 without a "
            "byte-order mark?); save it as UTF-8 text.",
        )
    return text
