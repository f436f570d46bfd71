"""The command line and the web form refuse a bad document with the very same sentence (one extraction)."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit_app.services.documents import extract_document
from audit_app.services.errors import SubmissionError
from inference.cli import main
from tests.inference.test_cli_documents import pdf


@pytest.mark.parametrize(
    ("name", "data"),
    [("bad.txt", b"\xc3\x28 bad"), ("scan.pdf", pdf(None)), ("broken.pdf", b"%PDF-1.7 no"), ("memo.docx", b"PK")],
)
def test_cli_and_form_give_one_sentence(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, data: bytes
):
    with pytest.raises(SubmissionError) as refused:
        extract_document(name, data, max_bytes=10 * 1024 * 1024)
    document = tmp_path / name
    document.write_bytes(data)
    assert main(["prompt", "--model", str(tiny_model_dir), "--domain", "legal", "--document", str(document), "Q"]) == 2
    assert capsys.readouterr().err == f"error: {refused.value}\n"
