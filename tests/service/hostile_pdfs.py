"""Hostile PDFs built with pypdf in memory: a flate bomb, an encrypted file, twenty thousand pages."""

from __future__ import annotations

import functools
import io
import zlib

from pypdf import PdfWriter
from pypdf.generic import DictionaryObject, NameObject, StreamObject

from tests.service.test_submission import pdf


def _written(writer: PdfWriter) -> bytes:
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


@functools.cache
def flate_bomb(inflated_mib: int = 100) -> bytes:
    """One page whose ~100 KB content stream inflates to ``inflated_mib`` MiB (pypdf's own limit is 75 MB)."""
    writer = PdfWriter()
    page = writer.add_blank_page(width=300, height=300)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
    )
    stream = StreamObject()
    stream.set_data(zlib.compress(b"BT /F1 12 Tf (x) Tj ET\n" + b" " * (inflated_mib * 1024 * 1024), 9))
    stream[NameObject("/Filter")] = NameObject("/FlateDecode")
    page[NameObject("/Contents")] = writer._add_object(stream)
    return _written(writer)


def encrypted(user_password: str, text: str = "Secret clause") -> bytes:
    """A text PDF encrypted with AES-256; an empty user password only restricts editing."""
    from pypdf import PdfReader

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf(text))))
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm="AES-256")
    return _written(writer)


def many_pages(count: int = 20_000) -> bytes:
    writer = PdfWriter()
    for _ in range(count):
        writer.add_blank_page(width=100, height=100)
    return _written(writer)
