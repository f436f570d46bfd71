"""``python -m inference run --document`` reads .pdf, .md and .txt as the web form does, with its sentences."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inference.cli import main
from tests.service.test_submission import pdf  # the web form's tests build the same PDFs

RUN = ["run", "--quantization", "bf16", "--json", "--thinking-budget", "4", "--answer-budget", "4"]


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("lease.pdf", pdf("Rent is due monthly."), "Rent is due monthly."),
        ("notes.md", b"# Notes\n\nRent is **due**.", "Rent is **due**."),
        ("unicode.txt", "Rent é due.".encode("utf-16"), "Rent é due."),  # UTF-16 with its byte-order mark
    ],
)
def test_run_reads_each_accepted_type(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, data: bytes, expected: str
):
    document = tmp_path / name
    document.write_bytes(data)
    code = main([*RUN, "--model", str(tiny_model_dir), "--domain", "legal", "--document", str(document), "Q?"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    prompt = json.loads(captured.out)["prompt"]
    assert f'name="{name}"' in prompt["text"]
    assert expected in prompt["text"]


@pytest.mark.parametrize(
    ("name", "data", "sentence"),
    [
        (
            "bad.txt",
            b"\xc3\x28 bad",
            "bad.txt is not UTF-8 text (nor UTF-16 with a byte-order mark); save it as UTF-8.",
        ),
        ("scan.pdf", pdf(None), "scan.pdf has no extractable text (a scanned PDF?); upload a PDF with a text layer."),
        ("broken.pdf", b"%PDF-1.7 not really", "broken.pdf is not a readable PDF."),
        ("memo.docx", b"PK", "memo.docx: only .txt, .md and .pdf files are accepted, not .docx."),
        ("blank.md", b"  \n", "blank.md contains no text."),
        ("nul.txt", b"a\x00b", "nul.txt contains NUL bytes, so it is not plain text"),
    ],
)
def test_a_bad_document_exits_2_with_the_web_forms_sentence(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, data: bytes, sentence: str
):
    document = tmp_path / name
    document.write_bytes(data)
    for command in (RUN, ["prompt"]):
        args = [*command, "--model", str(tiny_model_dir), "--domain", "legal", "--document", str(document), "Q?"]
        assert main(args) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err.startswith(f"error: {sentence}")
        assert len(captured.err.strip().splitlines()) == 1


def test_a_document_over_the_size_limit_is_refused_before_it_is_read(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    from inference.extraction import DEFAULT_MAX_BYTES

    document = tmp_path / "huge.txt"
    document.write_bytes(b"a" * (DEFAULT_MAX_BYTES + 5))
    assert main(["prompt", "--model", str(tiny_model_dir), "--domain", "legal", "--document", str(document), "Q?"]) == 2
    assert f"huge.txt is {DEFAULT_MAX_BYTES + 5:,} bytes, over the limit" in capsys.readouterr().err
