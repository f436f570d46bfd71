"""The operator's webhook form for one API key: set or replace its callback URL (a new signing secret, shown
once), or remove it.

``services/webhooks.py`` checks (the SSRF guard), stores and ledgers; a refused URL is a form error with its
sentence and stores nothing. The secret appears in exactly one response, marked ``no-store``.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from audit_app.models import ApiKey, WebhookEndpoint
from audit_app.services.api_keys import KeyRefused, ledgered_webhook_url
from audit_app.services.webhook_guard import UrlRefused
from audit_app.services.webhooks import remove_webhook, set_webhook
from audit_app.web.permissions import OPERATOR, require_role

REFUSAL = "Only operators can manage API keys and their webhooks."


def _form(request: HttpRequest, key: ApiKey, url: str = "", error: str = "", status: int = 200) -> HttpResponse:
    endpoint = WebhookEndpoint.objects.filter(key=key).first()
    context = {
        "key": key,
        "state": key.state(timezone.now()),
        "endpoint": endpoint,
        # The row is operational: when it says other than the ledgered change, deliveries are refused (and shown so).
        "ledgered_url": ledgered_webhook_url(key),
        "url": url,
        "error": error,
    }
    return render(request, "operator/api_key_webhook.html", context, status=status)


@never_cache
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def webhook(request: HttpRequest, pk: int) -> HttpResponse:
    """GET shows the key's webhook and the form; POST sets it (``url``) or removes it (``remove``)."""
    operator = require_role(request, OPERATOR, REFUSAL)
    key = get_object_or_404(ApiKey.objects.select_related("team"), pk=pk)
    if request.method != "POST":
        return _form(request, key)
    if "remove" in request.POST:
        removed = remove_webhook(key, operator.get_username(), operator)
        messages.success(
            request, f"Removed the webhook of {key.prefix}." if removed else f"{key.prefix} had no webhook."
        )
        return redirect("operator-api-keys")
    url = request.POST.get("url", "")
    try:
        new = set_webhook(key, url, operator.get_username(), operator)
    except (UrlRefused, KeyRefused) as refusal:
        return _form(request, key, url, str(refusal), status=400)
    response = render(request, "operator/api_key_webhook_set.html", {"key": key, "new": new})
    response["Cache-Control"] = "no-store"  # the only response that ever holds the signing secret
    return response
