"""Turn an uploaded file into a document: original bytes, SHA-256, and the text the prompt will use."""

from __future__ import annotations

import dataclasses
import io
from pathlib import PurePath

from audit_app.ledger.canonical import sha256_hex
from audit_app.services.errors import SubmissionError

CONTENT_TYPES = {".txt": "text/plain", ".md": "text/markdown", ".pdf": "application/pdf"}


@dataclasses.dataclass(frozen=True)
class ExtractedDocument:
    name: str
    content_type: str
    original: bytes
    sha256: str
    text: str


def extract_document(name: str, data: bytes, max_bytes: int) -> ExtractedDocument:
    """Check type and size, extract the text; a ``SubmissionError`` names the file and what is wrong."""
    name = PurePath(name).name  # never keep a client's directory path
    suffix = PurePath(name).suffix.lower()
    if suffix not in CONTENT_TYPES:
        raise SubmissionError(
            "documents", f"{name}: only .txt, .md and .pdf files are accepted, not {suffix or 'files without one'}."
        )
    if len(data) > max_bytes:
        raise SubmissionError(
            "documents", f"{name} is {len(data):,} bytes, over the limit of {max_bytes:,} bytes per file."
        )
    text = _pdf_text(name, data) if suffix == ".pdf" else _plain_text(name, data)
    if not text.strip():
        raise SubmissionError("documents", f"{name} contains no text.")
    return ExtractedDocument(name, CONTENT_TYPES[suffix], data, sha256_hex(data), text)


def _plain_text(name: str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SubmissionError("documents", f"{name} is not UTF-8 text.") from None


def _pdf_text(name: str, data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError, OSError):
        raise SubmissionError("documents", f"{name} is not a readable PDF.") from None
    text = "\n\n".join(page.strip() for page in pages if page.strip())
    if not text:
        raise SubmissionError(
            "documents", f"{name} has no extractable text (a scanned PDF?); upload a PDF with a text layer."
        )
    return text
