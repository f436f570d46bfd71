"""PAdES signing of audit reports with the organisation's key and certificate (pyHanko).

FOUNDATION PLACEHOLDER: returns the PDF unchanged. The signing helper replaces this module's body; nothing
may ship with it as it is (``produce_report`` is the only caller).
"""

from __future__ import annotations


def sign_pdf(pdf: bytes) -> bytes:
    return pdf
