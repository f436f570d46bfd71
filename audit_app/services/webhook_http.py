"""One webhook POST with ``http.client``, to an address the guard already checked; never a redirect.

The connection goes to the resolved address itself (the Host header and the TLS name stay the URL's host),
so the name is not looked up a second time between the check and the connect. ``http.client`` follows no
redirect and reads no proxy settings: a 3xx is just a status code, counted as a failed attempt.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from dataclasses import dataclass

from audit_app.services.webhook_guard import Target

READ_AT_MOST = 64 * 1024  # of the receiver's answer, which nobody reads: enough to end the exchange politely


@dataclass(frozen=True)
class Answer:
    status_code: int | None
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        self.tls = ssl.create_default_context()  # certificates checked against the URL's host name
        super().__init__(host, port, timeout=timeout, context=self.tls)
        self.address = address

    def connect(self) -> None:
        raw = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(raw, server_hostname=self.host)


def post(target: Target, headers: dict[str, str], body: bytes, timeout: float) -> Answer:
    """POST ``body`` to the target's first address that accepts a connection; the status or an error sentence."""
    started = time.monotonic()
    errors: list[str] = []
    for address in target.addresses:
        kind = _PinnedHTTPS if target.scheme == "https" else _PinnedHTTP
        connection = kind(target.host, target.port, address, timeout)
        try:
            connection.request("POST", target.path, body=body, headers=headers)
            response = connection.getresponse()
            response.read(READ_AT_MOST)
            return Answer(response.status, "", _since(started))
        except (OSError, http.client.HTTPException) as error:
            errors.append(f"{address}: {type(error).__name__}: {error}"[:200])
            if _connected(connection):
                break  # the request may have reached the receiver: the next address would send it twice
        finally:
            connection.close()
    return Answer(None, "; ".join(errors)[:500], _since(started))


def _connected(connection: http.client.HTTPConnection) -> bool:
    return connection.sock is not None


def _since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
