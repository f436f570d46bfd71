"""``/v1/chat/completions`` and ``/v1/models``: the OpenAI SDKs and curl, unchanged, against Glassbox.

Each completion is a job like any other (``submit_job``: queued, run by the inference worker, recorded,
ledgered, reviewable); the call waits for it and answers from its ledgered run record. Same API keys as
``/api/v1/`` (``Authorization: Bearer gbx_…``), but errors in OpenAI's shape, which the SDKs turn into
their exception classes. See docs/api.md, "OpenAI-compatible facade".
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from django.http import HttpResponseBase, StreamingHttpResponse
from rest_framework import exceptions
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler

from audit_app.models import Job
from audit_app.services.errors import SubmissionError
from audit_app.services.prompts import InferenceError, prompt_builder
from audit_app.services.submission import Upload, submit_job
from audit_app.web.api import idempotency
from audit_app.web.api.auth import ApiKeyAuthentication, HasScope, account, api_key
from audit_app.web.api.openai_request import CONVERSATION, DOMAINS, MODELS, ChatRequest, OpenAIError, read_chat_request
from audit_app.web.api.openai_result import completion, ledgered_run, timed_out, timeout_seconds, wait_until_finished
from audit_app.web.api.openai_stream import stream_job
from audit_app.web.api.parsers import BoundedJSONParser
from audit_app.web.permissions import submitting_team
from inference.provenance import model_id
from inference.tiny_model import TEST_MODEL_MARKER

JOB_HEADER, RECORD_HEADER = "X-Glassbox-Job-Id", "X-Glassbox-Record-Sha256"
# The submission's fields in OpenAI's terms, so a refusal names what the caller sent.
PARAMS = {
    "question": "messages",
    "documents": "messages",
    "thinking_budget": "X-Glassbox-Thinking-Budget",
    "case_reference": "X-Glassbox-Case-Reference",
    "case_title": "X-Glassbox-Case-Title",
    "temperature": "temperature",
    "top_p": "top_p",
    "seed": "seed",
}
CODES = {400: "invalid_request", 401: "invalid_api_key", 403: "insufficient_scope", 404: "not_found"}
CODES |= {405: "method_not_allowed", 409: "conflict", 413: "request_too_large", 415: "unsupported_media_type"}
CODES |= {429: "rate_limit_exceeded"}
KINDS = {401: "authentication_error", 403: "permission_error", 404: "not_found_error", 429: "rate_limit_error"}


def openai_error(error: OpenAIError) -> Response:
    response = Response(error.body(), status=error.status)
    if error.job_id is not None:
        response[JOB_HEADER] = str(error.job_id)
        response["x-should-retry"] = "false"  # a retry would submit a second job; the SDKs honour this header
    return response


def handle(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler (status, WWW-Authenticate, Retry-After), with the body in OpenAI's error shape."""
    if isinstance(exc, OpenAIError):
        return openai_error(exc)
    response = exception_handler(exc, context)
    if response is None:
        return None  # not a client error: a real fault, logged by Django, answered with 500
    data = response.data
    if isinstance(exc, exceptions.ValidationError) and isinstance(data, dict):  # the Idempotency-Key header
        field, messages = next(iter(data.items()))
        message, param = f"{field}: {messages[0] if isinstance(messages, list) else messages}", str(field)
    else:
        message, param = str(data.get("detail", data) if isinstance(data, dict) else data), None
    status = response.status_code
    response.data = OpenAIError(
        status, message, param, CODES.get(status), KINDS.get(status, "invalid_request_error")
    ).body()
    return response


class _AnyAccept(DefaultContentNegotiation):
    """JSON whatever the Accept header says (a client asking for text/event-stream still gets its errors)."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


class OpenAIView(APIView):
    authentication_classes = [ApiKeyAuthentication]  # keys only: no session, so no CSRF question
    permission_classes = [HasScope]  # POST needs 'submit', GET 'read'
    parser_classes = [BoundedJSONParser]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = _AnyAccept
    schema = None  # OpenAI's contract, not part of /api/v1/'s schema

    def get_exception_handler(self) -> Any:
        return handle


class ChatCompletions(OpenAIView):
    def post(self, request: Request) -> HttpResponseBase:
        chat = read_chat_request(request.data, request.headers)
        team = submitting_team(account(request))
        if team is None:
            raise exceptions.PermissionDenied("Only API keys with the 'submit' scope create chat completions.")

        def create() -> Job:
            uploads = [Upload(CONVERSATION, chat.conversation.encode())] if chat.conversation else []
            try:
                return submit_job(
                    account(request),
                    team,
                    chat.case_reference,
                    chat.domain,
                    chat.question,
                    uploads=uploads,
                    generation=chat.generation,
                    case_title=chat.case_title,
                )
            except SubmissionError as error:
                param = chat.budget_param if error.field == "answer_budget" else PARAMS.get(error.field)
                raise OpenAIError(400, str(error), param, "invalid_value") from None

        job, _ = idempotency.once(api_key(request), request.META.get(idempotency.HEADER), request.data, create)
        if chat.stream:
            return _streamed(request, chat, job)
        if not wait_until_finished(job.pk, time.monotonic() + timeout_seconds()):
            raise timed_out(job.pk)
        run, record_sha256 = ledgered_run(account(request), job.pk)
        response = Response(completion(chat.model, job, run, record_sha256))
        response[JOB_HEADER], response[RECORD_HEADER] = str(job.pk), record_sha256
        return response


def _streamed(request: Request, chat: ChatRequest, job: Job) -> StreamingHttpResponse:
    response = StreamingHttpResponse(stream_job(account(request), chat, job), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # a proxy such as nginx passes each event on at once
    response[JOB_HEADER] = str(job.pk)
    return response


def _model_facts() -> dict[str, Any]:
    """What the configured model folder says: its id, whether it is the tiny test model, its config's time."""
    try:
        files = prompt_builder().files
    except InferenceError as error:
        return {
            "created": 0,
            "glassbox_model_id": None,
            "glassbox_test_model": None,
            "glassbox_model_error": str(error),
        }
    test = bool(files.config.get(TEST_MODEL_MARKER, False))
    return {
        "created": int((files.path / "config.json").stat().st_mtime),
        "glassbox_model_id": model_id(files.config, files.path),
        "glassbox_test_model": test,
        **({"glassbox_note": "TEST MODEL: random weights, not Magistral; its output is noise."} if test else {}),
    }


def _model(name: str, facts: dict[str, Any]) -> dict[str, Any]:
    domain = name.rsplit("-", 1)[1]
    return {"id": name, "object": "model", "owned_by": "glassbox", "glassbox_domain": domain, **facts}


class Models(OpenAIView):
    def get(self, request: Request) -> Response:
        facts = _model_facts()
        return Response({"object": "list", "data": [_model(name, facts) for name in MODELS]})


class ModelDetail(OpenAIView):
    def get(self, request: Request, name: str) -> Response:
        if name not in MODELS:
            raise OpenAIError(
                404, f"The model {name!r} does not exist; see GET /v1/models.", "model", "model_not_found"
            )
        return Response(_model(name, _model_facts()))


__all__ = ["DOMAINS", "ChatCompletions", "ModelDetail", "Models"]
