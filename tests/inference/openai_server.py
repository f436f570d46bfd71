"""A small OpenAI-compatible server that serves the tiny TEST model, for the remote engine's tests.

Test code only: it answers ``GET /v1/models`` and ``POST /v1/completions`` (token-id prompts, ``max_tokens``,
``stop_token_ids``, ``temperature``/``top_p``/``seed``, streamed with vLLM's ``token_ids`` or not) the way vLLM
does, on top of the project's own ``BatchEngine``. Its model list says it serves a random test model.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from inference.engine import Engine
from inference.phases import Sampling
from inference.tiny_model import TEST_MODEL_ID


@dataclasses.dataclass
class Served:
    """What the server did with one completion request, for the tests to check."""

    body: dict[str, Any]
    sent: int = 0
    ended: str = "running"  # "stop", "length" or "client closed"


class TinyModelServer:
    """A threaded HTTP server on 127.0.0.1 (a free port), in this process; ``close`` stops it."""

    def __init__(self, engine: Engine, name: str = TEST_MODEL_ID) -> None:
        self.engine = engine
        self.name = name
        self.max_model_len = engine.prompts.context_limit
        self.fail_status: int | None = None  # answer completions with this HTTP status instead
        self.omit_token_ids = False  # stream like a server that ignores return_token_ids
        self.served: list[Served] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                if self.path == "/v1/models":
                    self.reply(200, {"object": "list", "data": [server.model_card()]})
                else:
                    self.reply(404, error(f"No route {self.path}.", 404))

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                refusal = server.refusal(self.path, body)
                if refusal is None:
                    server.complete(self, body)
                else:
                    self.reply(refusal[0], error(refusal[1], refusal[0]))

            def reply(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def chunk(self, text: str) -> None:
                data = text.encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def model_card(self) -> dict[str, Any]:
        return {
            "id": self.name,
            "object": "model",
            "created": int(time.time()),
            "owned_by": "glassbox-tests: a tiny random TEST model, not Magistral",
            "root": str(self.engine.prompts.files.path),
            "parent": None,
            "max_model_len": self.max_model_len,
        }

    def refusal(self, path: str, body: dict[str, Any]) -> tuple[int, str] | None:
        """The HTTP status and message this request gets instead of a completion, if any."""
        if path != "/v1/completions":
            return 404, f"No route {path}."
        if self.fail_status is not None:
            return self.fail_status, "Test server told to fail."
        if body.get("model") != self.name:
            return 404, f"The model `{body.get('model')}` does not exist."
        prompt = body.get("prompt")
        if not isinstance(prompt, list) or not all(isinstance(token, int) for token in prompt):
            return 400, "This test server takes prompts as token ids only."
        return None

    def complete(self, handler: Any, body: dict[str, Any]) -> None:
        served = Served(body)
        self.served.append(served)
        prompt: list[int] = body["prompt"]
        max_tokens = int(body.get("max_tokens") or 16)
        eos = self.engine.control.eos
        stops = (*tuple(int(token) for token in body.get("stop_token_ids") or ()), eos)
        sampling = Sampling(
            float(body.get("temperature", 1.0)), float(body.get("top_p", 1.0)), int(body.get("seed", 0))
        )
        batch = self.engine.batch_engine()
        ticket = batch.admission.reserve(len(prompt) + max_tokens)
        stream = batch.start(ticket, prompt, max_tokens, stops, sampling)
        try:
            if body.get("stream"):
                self._stream(handler, served, stream.tokens(), stops, max_tokens)
            else:
                tokens = list(stream.tokens())
                served.sent, served.ended = len(tokens), finish_reason(tokens, stops)
                choice = {"index": 0, "text": self.engine.prompts.decode(tokens), "token_ids": tokens}
                handler.reply(200, {"object": "text_completion", "choices": [dict(choice, finish_reason=served.ended)]})
        finally:
            stream.cancel()
            batch.admission.release(ticket)

    def _stream(self, handler: Any, served: Served, tokens: Any, stops: tuple[int, ...], max_tokens: int) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        produced: list[int] = []
        try:
            for token in tokens:
                produced.append(token)
                choice: dict[str, Any] = {
                    "index": 0,
                    "text": self.engine.prompts.decode([token]),
                    "finish_reason": None,
                }
                if not self.omit_token_ids:
                    choice["token_ids"] = [token]
                handler.chunk(event(choice))
                served.sent += 1
            served.ended = finish_reason(produced, stops)
            last = {"index": 0, "text": "", "token_ids": [], "finish_reason": served.ended}
            handler.chunk(event(last) + "data: [DONE]\n\n")
            handler.chunk("")
        except OSError:  # the client closed the connection: vLLM aborts the request, so does this
            served.ended = "client closed"
        handler.close_connection = True

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def event(choice: dict[str, Any]) -> str:
    return "data: " + json.dumps({"object": "text_completion", "choices": [choice]}) + "\n\n"


def finish_reason(tokens: list[int], stops: tuple[int, ...]) -> str:
    return "stop" if tokens and tokens[-1] in stops else "length"


def error(message: str, code: int) -> dict[str, Any]:
    return {"error": {"message": message, "type": "TestServerError", "code": code}}
