"""Facts every page shows: which model the service runs, and whether inference is suspended."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.http import HttpRequest

from audit_app.services.killswitch import current_suspension
from audit_app.services.prompts import InferenceError, prompt_builder
from audit_app.services.review_queue import awaiting_count
from audit_app.web.permissions import ANALYST, AUDITOR, OPERATOR, REVIEWER


def service_status(request: HttpRequest) -> dict[str, Any]:
    model = _service_model()
    user = getattr(request, "user", None)  # absent when a request is refused before AuthenticationMiddleware
    if user is None or not user.is_authenticated:
        # The login page warns too: whoever logs in should know before they do that the output is noise.
        return {"service_model": {"id": model["id"], "is_test_model": model["is_test_model"], "error": ""}}
    names = set(user.groups.values_list("name", flat=True))
    roles = [role for role in (ANALYST, REVIEWER, AUDITOR, OPERATOR) if role in names]
    context: dict[str, Any] = {"service_model": model, "suspension": current_suspension(), "roles": roles}
    if REVIEWER in roles and isinstance(user, User):
        context["review_awaiting"] = awaiting_count(user)
    return context


def _service_model() -> dict[str, Any]:
    try:
        config = prompt_builder().files.config
        model = {
            "id": config.get("glassbox_model_id") or config.get("_name_or_path") or "Magistral Small 1.1",
            "is_test_model": bool(config.get("glassbox_test_model")),
            "error": "",
        }
    except InferenceError as error:
        model = {"id": "", "is_test_model": False, "error": str(error)}
    return model
