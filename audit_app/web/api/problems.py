"""Every API error as RFC 9457 ``application/problem+json``, with a sentence a developer can act on."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

PROBLEM = "application/problem+json"
TYPE_BASE = "https://glassbox.invalid/problems/"  # a stable identifier per kind of problem, not a fetchable page


def problem(status: int, detail: str, kind: str = "", **extra: Any) -> dict[str, Any]:
    title = HTTPStatus(status).phrase
    slug = kind or title.lower().replace(" ", "-")
    return {"type": TYPE_BASE + slug, "title": title, "status": status, "detail": detail, **extra}


def _detail(data: Any) -> str:
    if isinstance(data, dict) and "detail" in data:
        return str(data["detail"])
    if isinstance(data, list):
        return " ".join(str(item) for item in data)
    return str(data)


def handle(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, reshaped: field errors go under ``errors`` (field → list of sentences)."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "No such resource, or not one your key or account may see.")
    response = exception_handler(exc, context)
    if response is None:
        return None  # not an API error: a real fault, which Django logs and answers with 500
    if isinstance(exc, exceptions.ValidationError) and isinstance(response.data, dict):
        errors = {
            field: [str(m) for m in (msgs if isinstance(msgs, list) else [msgs])]
            for field, msgs in response.data.items()
        }
        first = next(iter(errors.items()))
        body = problem(400, f"The request is invalid: {first[0]}: {first[1][0]}", "invalid-request", errors=errors)
    else:
        body = problem(response.status_code, _detail(response.data))
    wait = getattr(exc, "wait", None)  # Throttled's seconds until the next request is allowed
    if isinstance(exc, exceptions.Throttled) and wait is not None:
        body["retry_after"] = int(wait + 0.999)
    response.data = body
    response.content_type = PROBLEM
    return response


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """404 for an API path no route matches."""
    return JsonResponse(
        problem(404, f"No API operation at {request.path}; the operations are listed at /api/v1/schema/."),
        status=404,
        content_type=PROBLEM,
    )
