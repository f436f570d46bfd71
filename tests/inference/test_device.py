"""One worker per GPU means one GPU: the model loads wholly onto one named device, recorded in provenance."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import AutoModelForCausalLM

from inference.cli import main
from inference.engine import Engine
from inference.errors import DeviceError

NO_SUCH_GPU = f"cuda:{torch.cuda.device_count()}"  # one past the last GPU this process can see


def watch_from_pretrained(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record the keyword arguments of each real ``from_pretrained`` call (it still runs)."""
    calls: list[dict[str, Any]] = []
    original = AutoModelForCausalLM.from_pretrained

    def recording(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", recording)
    return calls


@pytest.fixture(scope="module")
def cpu_engine(tiny_model_dir: Path) -> Engine:
    return Engine.load(tiny_model_dir, quantization="bf16", device="cpu")


def test_the_whole_model_is_loaded_onto_the_one_named_device(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch):
    calls = watch_from_pretrained(monkeypatch)
    engine = Engine.load(tiny_model_dir, quantization="bf16", device="cpu")
    # One explicit device for the whole model, never "auto" (which spreads over every visible GPU).
    assert [call["device_map"] for call in calls] == [{"": "cpu"}]
    assert {str(parameter.device) for parameter in engine.model.parameters()} == {"cpu"}
    assert not hasattr(engine.model, "hf_device_map")  # accelerate sets it only for a model split over devices
    assert engine.provenance["device"]["type"] == "cpu"
    assert engine.provenance["device"]["torch_device"] == "cpu"


def test_device_comes_from_the_environment(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch):
    calls = watch_from_pretrained(monkeypatch)
    monkeypatch.setenv("GLASSBOX_DEVICE", "cpu")
    engine = Engine.load(tiny_model_dir, quantization="bf16")
    assert [call["device_map"] for call in calls] == [{"": "cpu"}]
    assert engine.provenance["device"]["torch_device"] == "cpu"
    monkeypatch.setenv("GLASSBOX_DEVICE", NO_SUCH_GPU)
    with pytest.raises(DeviceError, match=rf"^The device {NO_SUCH_GPU} does not exist: this process sees"):
        Engine.load(tiny_model_dir, quantization="bf16")


@pytest.mark.parametrize(
    ("device", "sentence"),
    [
        (NO_SUCH_GPU, f"The device {NO_SUCH_GPU} does not exist: this process sees {torch.cuda.device_count()} GPU(s)"),
        ("tpu", "Unknown device 'tpu'; use cpu or cuda:N, for example cuda:0."),
        ("cuda:x", "Unknown device 'cuda:x'"),
    ],
)
def test_a_device_that_does_not_exist_is_refused_in_one_sentence(tiny_model_dir: Path, device: str, sentence: str):
    with pytest.raises(DeviceError) as error:
        Engine.load(tiny_model_dir, quantization="bf16", device=device)
    assert str(error.value).startswith(sentence)
    assert str(error.value).count(". ") == 0  # one sentence
    assert str(error.value).endswith(".")


def test_cli_refuses_a_missing_device_with_exit_2(tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]):
    model = str(tiny_model_dir)
    args = ["run", "--model", model, "--domain", "legal", "--quantization", "bf16", "--device", NO_SUCH_GPU, "Q?"]
    assert main(args) == 2
    assert f"The device {NO_SUCH_GPU} does not exist" in capsys.readouterr().err


def test_generation_runs_on_the_pinned_device(cpu_engine: Engine):
    from inference.types import GenerationSettings, ReasoningRequest

    result = cpu_engine.generate(ReasoningRequest("legal", "Q?", settings=GenerationSettings(thinking_budget=4)))
    assert result.provenance["device"]["torch_device"] == "cpu"
    assert result.generated_tokens > 0
