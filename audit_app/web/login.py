"""The log-in page, with failed attempts throttled per user name and per address (login_throttle.py)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from redis.exceptions import RedisError

from audit_app.web import login_throttle

THROTTLED, UNAVAILABLE = "throttled", "unavailable"
UNAVAILABLE_SENTENCE = "Log-in is unavailable: its store of failed attempts (Redis) cannot be reached. Try again soon."


class ThrottledAuthenticationForm(AuthenticationForm):
    """Refuses a locked-out user name or address before the password is looked at; counts each failure."""

    def clean(self) -> dict[str, Any]:
        try:
            return self._throttled_clean()
        except RedisError:  # fail closed: a throttle that cannot count must not let guesses through
            raise ValidationError(UNAVAILABLE_SENTENCE, code=UNAVAILABLE) from None

    def _throttled_clean(self) -> dict[str, Any]:
        username = str(self.cleaned_data.get("username") or "")
        address = login_throttle.client_address(self.request) if self.request else ""
        refusal = login_throttle.refusal(username, address)
        if refusal is not None:
            raise ValidationError(refusal.sentence(), code=THROTTLED)
        try:
            cleaned = super().clean()
        except ValidationError:
            login_throttle.record_failure(username, address)
            raise
        if self.user_cache is not None:
            login_throttle.record_success(username)
        return cleaned


class LoginView(auth_views.LoginView):
    """Django's log-in view; a throttled attempt answers 429, an unreachable Redis 503, each with its sentence."""

    form_class = ThrottledAuthenticationForm

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        if form.has_error("__all__", THROTTLED):
            response.status_code = 429
        elif form.has_error("__all__", UNAVAILABLE):
            response.status_code = 503
        return response
