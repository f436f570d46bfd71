"""An OpenAI-compatible server (vLLM) as the engine: the same per-job control through ``/v1/completions``.

For sites that already serve the model. The prompt is rendered here, with the model directory's own tokenizer,
exactly as for the local engine, and sent as token ids; each segment of ``phases.run_phased`` is one streamed
completion that stops at the phase's control tokens (vLLM's ``stop_token_ids``) and returns the new token ids
(``return_token_ids``, vLLM 0.10.2 or later). Budgets, forced tokens, loops, cancel and streaming are decided
here, token by token, by the same ``GenerationController``; the server only samples. It batches requests as it
likes, so whether another request shared a step is unknown and recorded as such.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.client import HTTPException, HTTPResponse
from typing import Any, cast
from urllib.parse import urlparse

from inference.controller import GenerationController
from inference.engine import PromptBuilder, build_result
from inference.errors import GenerationError, InferenceError
from inference.hashing import combined_digest, hash_files
from inference.kv import job_tokens
from inference.model_dir import ModelFiles
from inference.phases import Sampling, run_phased
from inference.provenance import library_versions
from inference.tiny_model import TEST_MODEL_MARKER
from inference.tokenizer import ControlTokens
from inference.types import (
    DEFAULT_CONTEXT_LIMIT,
    CancelCheck,
    ProgressCallback,
    ReasoningRequest,
    ReasoningResult,
)

BACKEND = "openai-compatible"
UNKNOWN = "unknown"
# How long a request may wait for its next byte: a busy server queues a request before its first token.
DEFAULT_TIMEOUT_SECONDS = 600.0


class OpenAIServer:
    """The HTTP side: one base URL (``http://host:8000/v1``), an optional bearer key, a read timeout."""

    def __init__(self, base_url: str, api_key: str = "", timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        parsed = urlparse(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise InferenceError(
                f"The inference server URL {base_url!r} is not an http(s) URL; give one like http://gpu-host:8000/v1."
            )
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout

    def served_model(self, name: str) -> dict[str, Any]:
        """What ``GET /models`` reports for ``name``, as the server wrote it; a sentence if it is not served."""
        with self.open("GET", "/models") as response:
            try:
                listing = json.loads(response.read())
                models = [entry for entry in listing["data"] if isinstance(entry, dict)]
            except (ValueError, KeyError, TypeError, OSError) as exc:
                raise GenerationError(
                    f"The inference server at {self.base_url} answered /models with no model list ({exc})."
                ) from exc
        for entry in models:
            if entry.get("id") == name:
                return entry
        served = ", ".join(str(entry.get("id")) for entry in models) or "none"
        raise GenerationError(
            f"The inference server at {self.base_url} serves no model named {name!r} (it serves: {served})."
        )

    def open(self, method: str, path: str, body: dict[str, Any] | None = None) -> HTTPResponse:
        """The response to one request, its headers read; every failure is one sentence."""
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, headers=headers, method=method)
        try:
            return cast(HTTPResponse, urllib.request.urlopen(request, timeout=self.timeout))
        except urllib.error.HTTPError as exc:
            raise GenerationError(
                f"The inference server at {self.base_url} answered {method} {path} with HTTP {exc.code}"
                f"{_error_detail(exc)}."
            ) from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise GenerationError(
                f"The inference server at {self.base_url} cannot be reached ({reason}); "
                "check that it is running and that the URL is right."
            ) from exc


def _error_detail(error: urllib.error.HTTPError) -> str:
    """The server's own message (OpenAI's ``{"error": {"message"}}``, or vLLM's older ``{"message"}``)."""
    try:
        body = json.loads(error.read(4096))
        message = body["error"]["message"] if isinstance(body.get("error"), dict) else body.get("message")
    except (ValueError, AttributeError, TypeError, KeyError, OSError):
        message = None
    if not message:
        return ""
    first = str(message).strip().splitlines()[0].rstrip(".")
    return f" ({first[:300]})"


class CompletionStream:
    """One segment: a streamed ``/completions`` response read as token ids; ``cancel`` closes the connection."""

    def __init__(self, response: HTTPResponse, server: OpenAIServer, stop_ids: tuple[int, ...]) -> None:
        self.response = response
        self.base_url = server.base_url
        self.timeout = server.timeout
        self.stop_ids = stop_ids

    def tokens(self) -> Iterator[int]:
        last: int | None = None
        try:
            for raw in self.response:
                line = raw.decode("utf-8").strip()
                if not line.startswith("data:"):
                    continue  # SSE comments and the blank lines between events
                data = line.removeprefix("data:").strip()
                if data == "[DONE]":
                    return
                for choice in self._choices(data):
                    ids = choice.get("token_ids")
                    finish = choice.get("finish_reason")
                    if ids is None and (choice.get("text") or finish is None):
                        raise GenerationError(
                            f"The inference server at {self.base_url} streams no token ids; Glassbox needs them "
                            "(vLLM 0.10.2 or later returns them with return_token_ids)."
                        )
                    for token in ids or ():
                        last = int(token)
                        yield last
                    if finish == "stop" and last not in self.stop_ids:
                        # Stop strings are never sent, so "stop" means a stop token; one not returned would
                        # leave a hole in the recorded output.
                        raise GenerationError(
                            f"The inference server at {self.base_url} stopped a request without returning "
                            "the stop token's id."
                        )
        except TimeoutError as exc:
            raise GenerationError(
                f"The inference server at {self.base_url} sent nothing for {self.timeout:g} seconds; "
                "the job was stopped."
            ) from exc
        except (OSError, HTTPException) as exc:
            raise GenerationError(
                f"The connection to the inference server at {self.base_url} broke mid-stream ({exc})."
            ) from exc

    def _choices(self, data: str) -> list[dict[str, Any]]:
        try:
            chunk = json.loads(data)
        except ValueError as exc:
            raise GenerationError(f"The inference server at {self.base_url} sent an unreadable event.") from exc
        if not isinstance(chunk, dict):
            raise GenerationError(f"The inference server at {self.base_url} sent an unreadable event.")
        error = chunk.get("error")
        if error is not None or chunk.get("object") == "error":
            message = error.get("message") if isinstance(error, dict) else chunk.get("message", error)
            first = str(message).strip().splitlines()[0].rstrip(".") if str(message).strip() else "no reason given"
            raise GenerationError(f"The inference server at {self.base_url} failed the request mid-stream ({first}).")
        choices = chunk.get("choices") or []  # a usage-only chunk has none
        return [choice for choice in choices if isinstance(choice, dict)]

    def cancel(self) -> None:
        self.response.close()  # the server sees the connection drop and aborts the request


class Completions:
    """A ``SegmentEngine`` over one served model: each segment is a streamed ``POST /completions``."""

    def __init__(self, server: OpenAIServer, model: str) -> None:
        self.server = server
        self.model = model

    def start(
        self, token_ids: list[int], max_new_tokens: int, stop_ids: tuple[int, ...], sampling: Sampling
    ) -> CompletionStream:
        body = {
            "model": self.model,
            "prompt": token_ids,
            "max_tokens": max_new_tokens,
            "stop_token_ids": list(stop_ids),
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "seed": sampling.seed,
            "stream": True,
            "skip_special_tokens": False,
            "include_stop_str_in_output": True,
            "return_token_ids": True,
        }
        return CompletionStream(self.server.open("POST", "/completions", body), self.server, stop_ids)


class RemoteEngine:
    """The ``Engine`` surface (``prompts``, ``control``, ``provenance``, ``generate``) over a served model."""

    def __init__(self, prompts: PromptBuilder, server: OpenAIServer, model: str, provenance: dict[str, Any]) -> None:
        self.prompts = prompts
        self.server = server
        self.model = model
        self.provenance = provenance

    @property
    def control(self) -> ControlTokens:
        return self.prompts.control

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str] | None,
        base_url: str,
        model: str,
        api_key: str = "",
        context_limit: int = DEFAULT_CONTEXT_LIMIT,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> RemoteEngine:
        """The tokenizer of the local directory at ``path`` (weights not needed) and the server's ``model``."""
        server = OpenAIServer(base_url, api_key, timeout)  # a malformed URL fails before any file is read
        return cls.from_prompts(PromptBuilder.open(path, context_limit, weights_needed=False), server, model)

    @classmethod
    def from_prompts(cls, prompts: PromptBuilder, server: OpenAIServer, model: str) -> RemoteEngine:
        """Check that the server serves ``model`` now; its report goes into the provenance."""
        reported = server.served_model(model)
        return cls(prompts, server, model, remote_provenance(prompts.files, server.base_url, model, reported))

    def generate(
        self,
        request: ReasoningRequest,
        on_progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
        progress_interval: float = 0.5,
        on_wait: Callable[[int], None] | None = None,
    ) -> ReasoningResult:
        """Reason about ``request`` on the server, in segments. ``on_wait`` is never called: the server
        queues requests itself and does not say where."""
        prompt = self.prompts.render(request)
        settings = request.settings
        reported = self.server.served_model(self.model)  # the server as it is for this job, not at start-up
        needed = job_tokens(len(prompt.token_ids), settings.thinking_budget, settings.answer_budget)
        limit = reported.get("max_model_len")
        if isinstance(limit, int) and needed > limit:
            raise GenerationError(
                f"The prompt and budgets need up to {needed} tokens, over the {limit} the inference server's "
                f"model {self.model!r} takes (its max_model_len); lower the budgets or shorten the documents."
            )
        controller = GenerationController(
            self.control, settings, self.prompts.decode, on_progress, should_cancel, progress_interval
        )
        completions = Completions(self.server, self.model)
        run = run_phased(completions, prompt.token_ids, controller)
        engine = {
            "engine": BACKEND,
            "base_url": self.server.base_url,
            "model": self.model,
            "segments": run.segments,
            "shared_batches": None,  # unknown: the server batches requests as it likes
        }
        provenance = dict(self.provenance, server=_server_facts(self.server.base_url, self.model, reported))
        return build_result(self.prompts, provenance, request, prompt, run.output_ids, controller, engine)


def _server_facts(base_url: str, model: str, reported: dict[str, Any]) -> dict[str, Any]:
    return {"base_url": base_url, "model": model, "reported": reported}


def remote_provenance(files: ModelFiles, base_url: str, model: str, reported: dict[str, Any]) -> dict[str, Any]:
    """Provenance for a served model: the same keys as ``provenance.model_provenance``, saying ``unknown`` where
    the server does not tell (OpenAI's model list names no weights hash, revision, quantization or device)."""
    tokenizer = hash_files(files.path, files.tokenizer_files)
    return {
        "backend": BACKEND,
        "model_id": model,
        "revision": UNKNOWN,
        "model_path": str(files.path),
        "architecture": (files.config.get("architectures") or [UNKNOWN])[0],
        "is_test_model": bool(files.config.get(TEST_MODEL_MARKER, False)),
        "weights_sha256": UNKNOWN,
        "weight_files": {},
        "tokenizer_kind": files.tokenizer_kind,
        "tokenizer_files": tokenizer,
        "tokenizer_sha256": combined_digest(tokenizer),
        "quantization": {"mode": UNKNOWN},
        "libraries": library_versions(),
        "device": {"type": "remote", "torch_device": "remote", "name": base_url},
        "server": _server_facts(base_url, model, reported),
    }
