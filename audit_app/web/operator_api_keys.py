"""The operator's API keys page: every case system's key and its state; create (the secret shown once), revoke.

The views only translate forms: ``services/api_keys.py`` checks, stores and ledgers. The secret appears in
exactly one response, the one to the creating POST, which is marked ``no-store`` so no cache or browser
history keeps it.
"""

from __future__ import annotations

import datetime

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from audit_app.models import ApiKey, Team
from audit_app.models.api import SCOPES
from audit_app.services.api_keys import KeyRefused, create_key, revoke_key
from audit_app.web.permissions import OPERATOR, require_role

REFUSAL = "Only operators can manage API keys."
MAX_DAYS = 3650


class CreateKeyForm(forms.Form):
    # Name and scopes are checked by the service, whose sentences are the form's errors.
    name = forms.CharField(required=False, strip=False, label="Name (the case system)")
    team = forms.ChoiceField(choices=[], error_messages={"required": "Choose the team whose jobs the key acts on."})
    scopes = forms.MultipleChoiceField(
        choices=[(scope, scope) for scope in SCOPES], required=False, widget=forms.CheckboxSelectMultiple
    )
    expires_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_DAYS,
        label="Expires after (days, empty for never)",
        error_messages={
            "invalid": "The expiry is a whole number of days.",
            "min_value": "The expiry must be at least 1 day; leave it empty for a key that does not expire.",
            "max_value": f"The expiry must be at most {MAX_DAYS} days.",
        },
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        names = Team.objects.order_by("name").values_list("name", flat=True)
        self.fields["team"].choices = [(name, name) for name in names]  # type: ignore[attr-defined]
        self.fields["team"].error_messages["invalid_choice"] = "There is no such team; choose one from the list."


def state(key: ApiKey, now: datetime.datetime) -> str:
    return key.state(now)


def _page(request: HttpRequest, form: CreateKeyForm, error: str = "", status: int = 200) -> HttpResponse:
    now = timezone.now()
    keys = ApiKey.objects.select_related("team", "user").annotate(webhook_url=F("webhook__url"))
    rows = [(key, state(key, now)) for key in keys]
    return render(request, "operator/api_keys.html", {"rows": rows, "form": form, "error": error}, status=status)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def api_keys(request: HttpRequest) -> HttpResponse:
    operator = require_role(request, OPERATOR, REFUSAL)
    if request.method != "POST":
        return _page(request, CreateKeyForm())
    form = CreateKeyForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    values = form.cleaned_data
    days = values["expires_days"]
    expires = timezone.now() + datetime.timedelta(days=days) if days else None
    try:
        new = create_key(
            values["name"], Team.objects.get(name=values["team"]), values["scopes"], operator, expires_at=expires
        )
    except KeyRefused as refusal:
        form.add_error({"expires_at": "expires_days"}.get(refusal.field, refusal.field), str(refusal))
        return _page(request, form, status=400)
    response = render(request, "operator/api_key_created.html", {"key": new.key, "secret": new.secret})
    response["Cache-Control"] = "no-store"  # the only response that ever holds the secret
    return response


@never_cache
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def revoke(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks for confirmation (no script: a page of its own); POST revokes."""
    operator = require_role(request, OPERATOR, REFUSAL)
    key = get_object_or_404(ApiKey.objects.select_related("team"), pk=pk)
    if request.method != "POST":
        return render(request, "operator/api_key_revoke.html", {"key": key, "state": state(key, timezone.now())})
    try:
        revoke_key(key, operator)
    except KeyRefused as refusal:
        return _page(request, CreateKeyForm(), str(refusal), status=400)
    messages.success(request, f"Key {key.prefix} ({key.name}) is revoked; it is refused from its next request on.")
    return redirect("operator-api-keys")
