"""Upload handling that enforces the per-file size and the file count while the request is read.

Django's default handlers read every file completely (to memory or a temporary file) before any
view can check it, and answer a 101st file with a bare "Bad Request". This handler keeps at most
``MAX_UPLOAD_BYTES`` of each file, skips the rest of a file that goes over (the parser then
discards its bytes as they arrive), skips every file beyond ``MAX_DOCUMENTS``, and leaves one
sentence per refusal for the submit view to show on the form.
"""

from __future__ import annotations

import io
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import HttpRequest

from audit_app.services.names import visible

_REFUSALS = "_glassbox_upload_refusals"


def upload_refusals(request: HttpRequest) -> list[str]:
    """Sentences for the files this request's upload refused (empty when none was)."""
    refusals: list[str] = getattr(request, _REFUSALS, [])
    return refusals


class BoundedUploadHandler(FileUploadHandler):
    """Each file in memory up to the per-file limit; oversized and surplus files refused as they arrive."""

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.files_seen = 0
        self.buffer: io.BytesIO | None = None

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.files_seen += 1
        self.buffer = None
        if self.files_seen > settings.GLASSBOX["MAX_DOCUMENTS"]:
            raise SkipFile  # counted in upload_complete, so the sentence can say how many came
        self.buffer = io.BytesIO()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        assert self.buffer is not None
        limit = settings.GLASSBOX["MAX_UPLOAD_BYTES"]
        if start + len(raw_data) > limit:
            self.buffer = None
            self._refuse(f"{visible(self.file_name or '')} is over the limit of {limit:,} bytes per file.")
            raise SkipFile
        self.buffer.write(raw_data)
        return None

    def file_complete(self, file_size: int) -> InMemoryUploadedFile | None:
        if self.buffer is None:
            return None
        self.buffer.seek(0)
        return InMemoryUploadedFile(
            file=self.buffer,
            field_name=self.field_name,
            name=self.file_name,
            content_type=self.content_type,
            size=file_size,
            charset=self.charset,
            content_type_extra=self.content_type_extra,
        )

    def upload_complete(self) -> None:
        most = settings.GLASSBOX["MAX_DOCUMENTS"]
        if self.files_seen > most:
            self._refuse(f"{self.files_seen} files were sent; at most {most} documents can go with one question.")

    def _refuse(self, sentence: str) -> None:
        if self.request is not None:
            setattr(self.request, _REFUSALS, [*upload_refusals(self.request), sentence])
