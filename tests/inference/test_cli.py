"""The command line: the acceptance commands as a person would type them, and every bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from inference.cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "inference", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("quantization", [[], ["--quantization", "nf4"]])
def test_run_prints_sections_and_provenance_labelled_as_test_model(tmp_path: Path, quantization: list[str]):
    assert run_cli("make-tiny-model", str(tmp_path / "m")).returncode == 0
    budgets = ["--thinking-budget", "24", "--answer-budget", "16"]
    done = run_cli(
        "run",
        "--model",
        str(tmp_path / "m"),
        "--domain",
        "legal",
        *quantization,
        *budgets,
        "Is a verbal contract binding?",
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.index("===== THINKING =====") < out.index("===== ANSWER =====") < out.index("finish reason: ")
    assert "weights sha256: " in out
    assert "TEST MODEL" in out
    assert "quantization: nf4" in out


def test_missing_model_directory_exits_2_with_one_sentence():
    done = run_cli("run", "--model", "/nonexistent", "--domain", "legal", "Is a verbal contract binding?")
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: There is no model directory at /nonexistent:")


def test_prompt_prints_json_with_token_ids(tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    document = tmp_path / "lease.txt"
    document.write_text("Rent is due monthly.", encoding="utf-8")
    code = main(["prompt", "--model", str(tiny_model_dir), "--domain", "finance", "--document", str(document), "Q?"])
    prompt = json.loads(capsys.readouterr().out)
    assert code == 0
    assert prompt["template_id"] == "finance/v1"
    assert prompt["token_count"] == len(prompt["token_ids"]) > 0
    assert 'name="lease.txt"' in prompt["text"]


def test_run_json_output_has_the_whole_result(tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]):
    args = ["run", "--model", str(tiny_model_dir), "--domain", "legal", "--quantization", "bf16", "--json"]
    code = main([*args, "--thinking-budget", "8", "--answer-budget", "8", "--seed", "5", "Q?"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0
    assert result["is_test_model"] is True
    assert result["provenance"]["seed"] == 5
    assert result["finish_reason"] in {"eos", "thinking_budget", "answer_budget", "loop_detected"}


@pytest.mark.parametrize(
    ("args", "sentence"),
    [
        (["--domain", "tax", "Q?"], "Unknown domain 'tax'"),
        (["--domain", "legal", " "], "The question is empty"),
        (["--domain", "legal", "--temperature", "-1", "Q?"], "The temperature must be between 0 and 2"),
        (["--domain", "legal", "--top-p", "0", "Q?"], "top_p must be above 0 and at most 1"),
        (["--domain", "legal", "--top-p", "1.5", "Q?"], "top_p must be above 0 and at most 1"),
        (["--domain", "legal", "--thinking-budget", "0", "Q?"], "The thinking budget must be a whole number above 0"),
        (["--domain", "legal", "--answer-budget", "-3", "Q?"], "The answer budget must be a whole number above 0"),
        (["--domain", "legal", "--document", "/nonexistent.txt", "Q?"], "There is no document file at"),
        (["--domain", "legal", "--context-limit", "100", "Q?"], "over the context limit of 100 tokens"),
    ],
)
def test_bad_input_exits_2_with_one_sentence(
    tiny_model_dir: Path, capsys: pytest.CaptureFixture[str], args: list[str], sentence: str
):
    for command in ("run", "prompt"):
        assert main([command, "--model", str(tiny_model_dir), *args]) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err.startswith("error: ")
        assert sentence in captured.err
        assert len(captured.err.strip().splitlines()) == 1


def test_wrong_tokenizer_exits_2(tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    model = tmp_path / "model"
    model.mkdir()
    for name in ("config.json", "model.safetensors"):
        (model / name).write_bytes((tiny_model_dir / name).read_bytes())
    (model / "tokenizer.json").write_text("not json", encoding="utf-8")
    assert main(["prompt", "--model", str(model), "--domain", "legal", "Q?"]) == 2
    assert "tokenizer" in capsys.readouterr().err
