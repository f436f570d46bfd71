"""OpenAPI pieces every operation shares: the problem+json error body and which errors an operation can give."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from audit_app.web.api.problems import PROBLEM

# Built with type(): its field ``errors`` would clash, for type checkers, with Serializer.errors.
ProblemOut = type(
    "ProblemOut",
    (serializers.Serializer,),
    {
        "__doc__": "RFC 9457 problem details.",
        "type": serializers.URLField(),
        "title": serializers.CharField(),
        "status": serializers.IntegerField(),
        "detail": serializers.CharField(help_text="What went wrong and what to do, in one sentence."),
        "errors": serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()),
            required=False,
            help_text="For 400: each field at fault and its sentences.",
        ),
        "retry_after": serializers.IntegerField(required=False, help_text="For 429: seconds to wait."),
    },
)


_SAID = {
    400: "The request is invalid; `errors` names each field.",
    401: "No API key, or one that is unknown, revoked or expired.",
    403: "The key lacks the scope, or the account the role, for this operation.",
    404: "No such resource, or one of another team.",
    409: "The resource's state or an earlier request conflicts with this one.",
    413: "The body is larger than the limit.",
    415: "The body is not JSON.",
    429: "Too many requests from this key; see Retry-After.",
    503: "The ledger's signing key is not configured, so nothing can be signed or exported.",
}
READING = (401, 403, 404, 429)
WRITING = (400, 401, 403, 404, 409, 413, 415, 429)


def with_problems(responses: dict[Any, Any], codes: tuple[int, ...] = READING) -> dict[Any, Any]:
    """``responses`` plus a problem+json response for each of ``codes``."""
    problems = {(code, PROBLEM): OpenApiResponse(ProblemOut, description=_SAID[code]) for code in codes}
    return {**responses, **problems}
