"""The text layer of a PDF document, within page, stream and time limits.

A PDF is a program for a reader: 3 MB can declare 20,000 pages, a 10 KB stream can inflate to
gigabytes, a content stream can hold millions of operators. pypdf's own safety limits are sized
for desktop use; a web worker gets tighter ones, so a hostile file is refused within about two
seconds with the limit it hit, and never holds the worker or its memory.
"""

from __future__ import annotations

import io
import time

from pypdf import PasswordType, PdfReader, apply_configuration
from pypdf.errors import LimitReachedError

from inference.errors import InvalidRequestError

# A context of 40,000 tokens holds roughly 50 dense pages; 2,000 pages is far beyond any PDF whose
# text could fit, so a longer one is refused before a single page is read.
MAX_PAGES = 2_000
# Decompressed bytes per stream: a dense page's content stream is well under 1 MB.
MAX_STREAM_BYTES = 8 * 1024 * 1024
# Operators parsed per content stream (pypdf's default is 2,000,000).
MAX_OPERATORS = 500_000
# Wall time for reading the text of all pages; checked between pages (each page is bounded above).
MAX_SECONDS = 1.5

PYPDF_LIMITS = {
    "maximum_declared_stream_length": MAX_STREAM_BYTES,
    "array_based_stream_maximum_output_length": MAX_STREAM_BYTES,
    "jbig2_maximum_output_length": MAX_STREAM_BYTES,
    "lzw_maximum_output_length": MAX_STREAM_BYTES,
    "run_length_maximum_output_length": MAX_STREAM_BYTES,
    "zlib_maximum_output_length": MAX_STREAM_BYTES,
    "brotli_maximum_output_length": MAX_STREAM_BYTES,
    "image_maximum_buffer_size": MAX_STREAM_BYTES,
    "stream_decoding_work_maximum_length": 4 * MAX_STREAM_BYTES,
    "stream_parsing_work_maximum_count": MAX_OPERATORS,
    "page_tree_maximum_entries": 2 * MAX_PAGES,
    "page_tree_maximum_page_entries": 2 * MAX_PAGES,
}


def pdf_text(name: str, data: bytes, max_chars: int | None = None) -> str:
    """The pages' text, joined; stops reading once it holds more than ``max_chars`` (the caller refuses that)."""
    try:
        with apply_configuration(**PYPDF_LIMITS):
            pages = _read_pages(name, data, max_chars)
    except InvalidRequestError:
        raise
    except LimitReachedError as error:
        raise InvalidRequestError(
            "documents", f"{name} exceeds a safety limit for PDFs ({error}); it was not read further."
        ) from None
    except Exception:  # pypdf raises many types (ValueError, KeyError, zlib.error, ...) on malformed files
        raise InvalidRequestError("documents", f"{name} is not a readable PDF.") from None
    text = "\n\n".join(page.strip() for page in pages if page.strip())
    if not text:
        raise InvalidRequestError(
            "documents", f"{name} has no extractable text (a scanned PDF?); upload a PDF with a text layer."
        )
    # PostgreSQL text cannot hold NUL, which odd font encodings produce; the original bytes stay exact.
    return text.replace("\x00", "\ufffd")


def _read_pages(name: str, data: bytes, max_chars: int | None) -> list[str]:
    deadline = time.monotonic() + MAX_SECONDS
    reader = PdfReader(io.BytesIO(data))
    # An owner password only restricts editing; such a file opens with the empty user password.
    if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
        raise InvalidRequestError("documents", f"{name} is encrypted with a password; upload an unencrypted copy.")
    try:
        # The declared /Count costs two object reads; flattening the tree to count its leaves costs one
        # read per page. A file whose /Count lies is stopped by the page-tree limits in PYPDF_LIMITS.
        declared = reader.trailer["/Root"]["/Pages"].get("/Count", 0)
        page_count = declared if isinstance(declared, int) and declared > MAX_PAGES else len(reader.pages)
    except LimitReachedError:  # the page tree holds more entries than PYPDF_LIMITS lets it flatten
        page_count = MAX_PAGES + 1
    if page_count > MAX_PAGES:
        raise InvalidRequestError(
            "documents",
            f"{name} has more than {MAX_PAGES:,} pages, more than any PDF whose text fits the model's "
            "context; upload the pages that matter.",
        )
    pages: list[str] = []
    total = 0
    for page in reader.pages:
        if time.monotonic() > deadline:
            raise InvalidRequestError(
                "documents",
                f"{name}: reading its text took over {MAX_SECONDS} s, the limit for one PDF; "
                "upload its text as a .txt file instead.",
            )
        pages.append(page.extract_text() or "")
        total += len(pages[-1])
        if max_chars is not None and total > max_chars:
            break
    return pages
