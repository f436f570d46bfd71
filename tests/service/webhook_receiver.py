"""A local HTTP receiver for webhook tests: a thread on 127.0.0.1, port 0, that records what it is sent and
answers with the status codes it is given, in turn (the last one repeats). Given a server-side TLS context it
speaks HTTPS, and its URL names ``localhost``, the name a test certificate can carry."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() on arrival


@dataclass
class Receiver:
    url: str
    answers: list[int]
    location: str = ""  # sent with a 3xx answer
    requests: list[Received] = field(default_factory=list)


@contextmanager
def receiver(*answers: int, location: str = "", tls: ssl.SSLContext | None = None) -> Iterator[Receiver]:
    state = Receiver("", list(answers or (200,)), location)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            state.requests.append(Received(self.path, headers, body, time.monotonic()))
            status = state.answers[min(len(state.requests), len(state.answers)) - 1]
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", state.location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    state.url = f"http://127.0.0.1:{port}/hooks/glassbox"
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
        state.url = f"https://localhost:{port}/hooks/glassbox"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def standard_webhooks_valid(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The Standard Webhooks check, written here from the specification, independently of the product's code:
    HMAC-SHA256 keyed with the base64-decoded secret (after ``whsec_``) over ``{id}.{timestamp}.{body}``,
    base64-encoded, and compared with each ``v1,`` entry of the space-separated ``webhook-signature``."""
    key = base64.b64decode(secret.split("_", 1)[1])
    content = headers["webhook-id"].encode() + b"." + headers["webhook-timestamp"].encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    offered = [entry.split(",", 1)[1] for entry in headers["webhook-signature"].split(" ") if entry.startswith("v1,")]
    return any(hmac.compare_digest(expected, candidate) for candidate in offered)
