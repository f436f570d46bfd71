"""API keys as DRF authentication: ``Authorization: Bearer gbx_…`` (the form the OpenAI SDKs send too)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from audit_app.models import ApiKey
from audit_app.models.api import READ, SUBMIT
from audit_app.services import api_keys
from audit_app.web.permissions import remember_roles


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[User, ApiKey] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != "bearer" or not raw.strip():
            raise exceptions.AuthenticationFailed(
                "Send the API key as 'Authorization: Bearer gbx_…'; an operator creates keys "
                "(manage.py api_key create)."
            )
        key = api_keys.authenticate(raw.strip())
        if key is None:
            raise exceptions.AuthenticationFailed(
                "This API key is unknown, revoked or expired; ask an operator for a valid one."
            )
        remember_roles(key.user, key.role_names)  # type: ignore[attr-defined]  # read with the key
        return key.user, key

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="glassbox"'  # makes DRF answer 401, not 403, when no key is sent


def account(request: Request) -> User:
    """Who is acting: a key's service account or a signed-in person (``HasScope`` lets no one else through)."""
    user = request.user
    if not isinstance(user, User):
        raise exceptions.NotAuthenticated("Send an API key (Authorization: Bearer gbx_…) or sign in.")
    return user


def api_key(request: Request) -> ApiKey | None:
    auth = request.auth
    return auth if isinstance(auth, ApiKey) else None


class HasScope(permissions.BasePermission):
    """A key may read with ``read`` and change (POST, cancel) with ``submit``; people are checked per view."""

    def has_permission(self, request: Request, view: Any) -> bool:
        key = api_key(request)
        if key is None:
            return bool(request.user and request.user.is_authenticated)
        needed = self.scope_needed(request)
        if needed not in key.scope_list:
            self.message = (
                f"Key {key.prefix} has the scopes '{key.scopes}'; this request needs '{needed}'. "
                "Ask an operator for a key with that scope."
            )
            return False
        return True

    def scope_needed(self, request: Request) -> str:
        return READ if request.method in permissions.SAFE_METHODS else SUBMIT


class ReadScope(HasScope):
    """For a POST that only reads evidence out (exporting a PDF report): ``read`` is enough."""

    def scope_needed(self, request: Request) -> str:
        return READ


class ApiKeyScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """How the OpenAPI schema describes API keys (drf-spectacular finds it by subclassing)."""

    target_class = ApiKeyAuthentication
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "gbx_<prefix>_<secret>"}
