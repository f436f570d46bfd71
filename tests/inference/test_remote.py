"""The OpenAI-compatible backend, against a small server over the tiny test model (``openai_server.py``)."""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from inference.engine import Engine, PromptBuilder
from inference.errors import GenerationError, InferenceError, ModelDirectoryError
from inference.remote import RemoteEngine
from inference.tiny_model import TEST_MODEL_ID
from inference.types import GenerationSettings, Progress, ReasoningRequest
from tests.inference.openai_server import TinyModelServer


@pytest.fixture(scope="module")
def server(engine: Engine) -> Iterator[TinyModelServer]:
    served = TinyModelServer(engine)
    yield served
    served.close()


@pytest.fixture
def remote(server: TinyModelServer, tiny_model_dir: Path) -> Iterator[RemoteEngine]:
    server.served.clear()
    yield RemoteEngine.open(tiny_model_dir, server.url, TEST_MODEL_ID)
    server.fail_status, server.omit_token_ids = None, False
    server.max_model_len = 40_000


def ask(engine: Engine | RemoteEngine, **settings: object):
    request = ReasoningRequest("legal", "Is a verbal contract binding?", settings=GenerationSettings(**settings))  # type: ignore[arg-type]
    return engine.generate(request)


def one_sentence(error: Exception) -> str:
    text = str(error)
    assert text.endswith(".")
    assert "\n" not in text
    assert "Traceback" not in text
    return text


def test_budget_forcing_through_the_server_matches_the_local_engine(remote, engine, server):
    # The first run of a prompt fills the engine's prefix cache, and a cached prefix changes the logits in the last
    # bits (enough to move a sample of the near-flat tiny model): compare runs that both find it cached.
    ask(engine, thinking_budget=16, answer_budget=24, seed=0)
    local = ask(engine, thinking_budget=16, answer_budget=24, seed=0)
    result = ask(remote, thinking_budget=16, answer_budget=24, seed=0)
    ids, control = result.output_token_ids, remote.control
    assert ids[0] == control.think
    assert ids.index(control.end_think) == 17
    assert {"position": 17, "token": "[/THINK]", "reason": "thinking_budget"} in result.forced_tokens
    assert result.answer_tokens == 24
    assert result.finish_reason == "answer_budget"
    # [THINK] was appended to the prompt, not asked for; the thinking segment stopped at [/THINK] or EOS.
    first, second = (served.body for served in server.served)
    assert first["prompt"] == [*result.prompt.token_ids, control.think]
    assert (first["max_tokens"], first["stop_token_ids"]) == (16, [control.end_think, control.eos])
    assert first["stream"]
    assert first["return_token_ids"]
    assert first["skip_special_tokens"] is False
    assert second["prompt"] == [*result.prompt.token_ids, *ids[:18]]
    assert second["stop_token_ids"] == [control.think, control.eos]
    # Solo on both sides, the same seeds per segment: the server returns exactly what the local engine makes.
    assert ids == local.output_token_ids


def test_greedy_loop_is_cut_through_the_server(remote):
    result = ask(remote, temperature=0, thinking_budget=2000, answer_budget=8)
    assert result.thinking_end == "loop_detected"
    assert result.thinking_tokens < 2000
    assert any(forced["reason"] == "loop_detected" for forced in result.forced_tokens)


def test_cancel_stops_within_one_step_and_the_server_sees_the_connection_close(remote, server):
    seen: list[Progress] = []
    request = ReasoningRequest("finance", "What is EBITDA?", settings=GenerationSettings(thinking_budget=500))
    result = remote.generate(
        request, on_progress=seen.append, should_cancel=lambda: len(seen) >= 5, progress_interval=0
    )
    assert result.finish_reason == "cancelled"
    assert result.generated_tokens == 6
    deadline = time.monotonic() + 10
    while server.served[-1].ended == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.served[-1].ended == "client closed"
    assert server.served[-1].sent < 500


def test_stream_deltas_and_provenance_say_what_ran_where(remote, server, engine, tiny_model_dir):
    updates: list[Progress] = []
    request = ReasoningRequest(
        "clinical", "Fever and cough?", settings=GenerationSettings(thinking_budget=40, answer_budget=24, seed=3)
    )
    result = remote.generate(request, on_progress=updates.append, progress_interval=0)
    assert "".join(u.thinking_delta for u in updates).strip() == result.thinking
    assert "".join(u.answer_delta for u in updates).strip() == result.answer
    assert updates[-1].generated_tokens == result.generated_tokens
    provenance = result.provenance
    assert provenance["backend"] == "openai-compatible"
    assert provenance["model_id"] == TEST_MODEL_ID
    assert provenance["server"]["base_url"] == server.url
    reported = provenance["server"]["reported"]
    assert reported["id"] == TEST_MODEL_ID
    assert reported["root"] == str(tiny_model_dir.resolve())
    assert reported["max_model_len"] == 40_000
    assert "TEST model" in reported["owned_by"]
    assert provenance["weights_sha256"] == "unknown"
    assert provenance["weight_files"] == {}
    assert provenance["tokenizer_sha256"] == engine.provenance["tokenizer_sha256"]
    assert provenance["engine"] == {
        "engine": "openai-compatible",
        "base_url": server.url,
        "model": TEST_MODEL_ID,
        "segments": 2,
        "shared_batches": None,
    }
    assert provenance["seed"] == 3
    assert result.is_test_model


def test_a_tokenizer_only_directory_serves_the_remote_engine_alone(server, tiny_model_dir, tmp_path):
    for item in tiny_model_dir.iterdir():
        if item.is_file() and not item.name.startswith("model.safetensors"):
            shutil.copy(item, tmp_path / item.name)
    with pytest.raises(ModelDirectoryError, match="has no weights"):
        PromptBuilder.open(tmp_path)
    remote = RemoteEngine.open(tmp_path, server.url, TEST_MODEL_ID)
    assert remote.provenance["is_test_model"] is True
    result = ask(remote, thinking_budget=4, answer_budget=4)
    assert result.is_test_model
    assert result.thinking_tokens == 4


def test_server_errors_are_one_sentence_each(remote, server, tiny_model_dir):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    with pytest.raises(GenerationError) as down:
        RemoteEngine.open(tiny_model_dir, closed, TEST_MODEL_ID)
    assert "cannot be reached" in one_sentence(down.value)
    with pytest.raises(GenerationError) as unknown:
        RemoteEngine.open(tiny_model_dir, server.url, "mistralai/Magistral-Small-2507")
    assert f"serves no model named 'mistralai/Magistral-Small-2507' (it serves: {TEST_MODEL_ID})" in one_sentence(
        unknown.value
    )
    with pytest.raises(InferenceError, match="not an http"):
        RemoteEngine.open(tiny_model_dir, "gpu-host:8000", TEST_MODEL_ID)
    server.fail_status = 500
    with pytest.raises(GenerationError) as failed:
        ask(remote, thinking_budget=4, answer_budget=4)
    assert "with HTTP 500 (Test server told to fail)" in one_sentence(failed.value)
    server.fail_status, server.omit_token_ids = None, True
    with pytest.raises(GenerationError) as no_ids:
        ask(remote, thinking_budget=4, answer_budget=4)
    assert "streams no token ids" in one_sentence(no_ids.value)
    server.omit_token_ids, server.max_model_len = False, 100
    count = len(server.served)
    with pytest.raises(GenerationError) as too_long:
        ask(remote, thinking_budget=64, answer_budget=64)
    assert "its max_model_len" in one_sentence(too_long.value)
    assert len(server.served) == count  # refused before any completion was asked for
