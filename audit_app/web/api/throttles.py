"""Per-key rate limits: one case system cannot starve the others (429 with Retry-After)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from audit_app.web.api.auth import api_key


class KeyRateThrottle(SimpleRateThrottle):
    scope = "api_key"

    def get_rate(self) -> str:
        # Read per request, not from DRF's settings frozen at import, so a test's override of
        # GLASSBOX["API_RATE"] is the rate that applies.
        return str(settings.GLASSBOX["API_RATE"])

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        key = api_key(request)
        ident = f"key-{key.pk}" if key is not None else f"user-{request.user.pk}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
