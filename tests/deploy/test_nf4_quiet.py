"""nf4 on CPU says nothing on stderr: the notes about optional kernel downloads from the hub (bitsandbytes' own,
and the kernels package's for each kernel it cannot check offline) are silenced, and only those notes (other
warnings of the same loggers still reach the log)."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from inference.loading import bitsandbytes_config

BNB_CPU_LOGGER = "bitsandbytes.backends.cpu.ops"
KERNELS_HUB_LOGGER = "kernels._internals.hf_hub"


def test_nf4_load_and_generate_on_cpu_prints_nothing_on_stderr(tiny_model_dir: Path):
    budgets = ["--thinking-budget", "8", "--answer-budget", "8"]
    command = [sys.executable, "-m", "inference", "run", "--model", str(tiny_model_dir), "--domain", "legal"]
    done = subprocess.run(
        [*command, "--quantization", "nf4", "--device", "cpu", *budgets, "Is it binding?"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "quantization: nf4" in done.stdout
    assert done.stderr == ""


def test_other_bitsandbytes_and_kernels_warnings_still_reach_the_log(caplog: pytest.LogCaptureFixture):
    bitsandbytes_config("nf4")  # imports bitsandbytes, behind the filters
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        logging.getLogger(BNB_CPU_LOGGER).warning("Failed to load CPU gemm_4bit_forward from kernels-community: x")
        logging.getLogger(BNB_CPU_LOGGER).warning("some other bitsandbytes warning")
        logging.getLogger(KERNELS_HUB_LOGGER).warning(
            "Skipping publisher trust check for 'kernels-community/flash-attn2' because Hugging Face Hub is in "
            "offline mode."
        )
        logging.getLogger(KERNELS_HUB_LOGGER).warning("Skipping publisher trust check for 'someone-else/kernel'")
    assert [record.getMessage() for record in caplog.records] == [
        "some other bitsandbytes warning",
        "Skipping publisher trust check for 'someone-else/kernel'",
    ]
