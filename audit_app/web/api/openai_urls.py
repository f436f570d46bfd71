"""``/v1/``: the OpenAI-compatible facade (mounted at the root's ``v1/``, where the OpenAI SDKs' base_url points)."""

from django.http import HttpRequest, JsonResponse
from django.urls import path, re_path

from audit_app.web.api import openai_facade
from audit_app.web.api.openai_request import OpenAIError


def not_found(request: HttpRequest) -> JsonResponse:
    message = (
        f"No operation at {request.method} {request.path}; "
        "this facade serves POST /v1/chat/completions and GET /v1/models."
    )
    return JsonResponse(OpenAIError(404, message, code="not_found", kind="not_found_error").body(), status=404)


urlpatterns = [
    path("chat/completions", openai_facade.ChatCompletions.as_view(), name="openai-chat-completions"),
    path("models", openai_facade.Models.as_view(), name="openai-models"),
    path("models/<str:name>", openai_facade.ModelDetail.as_view(), name="openai-model"),
    re_path(r"^.*$", not_found),  # last: any other /v1/ path is an OpenAI-shaped 404, not the web UI's page
]
