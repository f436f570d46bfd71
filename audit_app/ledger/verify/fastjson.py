"""Byte-level shortcuts for comparing rows with payloads without decoding the payloads' records.

A payload is RFC 8785 canonical JSON. For the values records hold (strings, safe integers, plain
decimals, lists, dicts with ASCII keys) the C JSON encoder with sorted keys and no spaces writes the
same bytes, at a fraction of the cost. Nothing here has to be canonical to be safe, only *faithful*:
``compact(value)`` decodes back to ``value``, so equal bytes prove equal values. Whenever the bytes
differ (a float written differently, a key order RFC 8785 sorts by UTF-16, a tampered row), the caller
decodes and compares the slow way, exactly as before.
"""

from __future__ import annotations

import json
from typing import Any

RECORD_KEY, NEXT_KEY = b'"record":{', b'},"record_sha256":'
_RECORD_FIELD = b'"record":'
_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def compact(value: Any) -> bytes | None:
    """Sorted-key, space-free JSON of ``value`` (which must hold only JSON types with string keys), or None."""
    try:
        return _ENCODE(value).encode()
    except (TypeError, ValueError, UnicodeEncodeError):  # not JSON, NaN, a lone surrogate
        return None


def split_payload(payload: bytes) -> tuple[dict[str, Any], bytes] | None:
    """The payload's top-level fields except its record (given as None), and the record's exact bytes.

    Only when the split is unambiguous: the payload with its record replaced by ``null`` decodes to an
    object whose own compact form is those very bytes, and ``"record":`` occurs there once, so it is the
    top-level key (inside a string its quotes would be escaped). Then, for any record bytes ``R`` that are
    the compact form of a value ``v``, the payload decodes to that object with ``record`` = ``v``.
    Anything else gives None and the caller decodes the whole payload.
    """
    start = payload.find(RECORD_KEY)
    end = payload.find(NEXT_KEY, start) if start >= 0 else -1
    if end < 0:
        return None
    value_start, value_end = start + len(RECORD_KEY) - 1, end + 1
    rest = payload[:value_start] + b"null" + payload[value_end:]
    if rest.count(_RECORD_FIELD) != 1:
        return None
    try:
        body = json.loads(rest)
    except ValueError:
        return None
    if not isinstance(body, dict) or "record" not in body or body["record"] is not None or compact(body) != rest:
        return None
    return body, payload[value_start:value_end]
