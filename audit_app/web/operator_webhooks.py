"""The operators' webhook page: every delivery, newest first, with each attempt and what the receiver said."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from audit_app.models import WebhookDelivery
from audit_app.web.permissions import OPERATOR, require_role


@login_required
@require_safe
def operator_webhooks(request: HttpRequest) -> HttpResponse:
    require_role(request, OPERATOR, "Only operators can see webhook deliveries.")
    status = request.GET.get("status", "")
    deliveries = WebhookDelivery.objects.select_related("key").prefetch_related("attempts")
    if status in dict(WebhookDelivery.STATES):
        deliveries = deliveries.filter(status=status)
    page = Paginator(deliveries.order_by("-created_at", "-id"), 50).get_page(request.GET.get("page"))
    context = {"page": page, "status": status, "statuses": WebhookDelivery.STATES}
    return render(request, "operator/webhooks.html", context)
