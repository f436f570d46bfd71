"""A JSON parser that stops reading at the size limit (413), however the body is sent (chunked included)."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from rest_framework import exceptions, parsers


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_code = "payload_too_large"


def body_limit() -> int:
    return int(settings.GLASSBOX["API_MAX_BODY_BYTES"])


def read_bounded(stream: Any) -> bytes:
    limit = body_limit()
    data = stream.read(limit + 1) if stream is not None else b""
    if len(data) > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit:,} bytes; send fewer or smaller documents.")
    return bytes(data)


class BoundedJSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        data = read_bounded(stream)
        try:
            return json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise exceptions.ParseError(f"The body is not valid UTF-8 JSON: {error}.") from None
