"""A request for a host the site does not serve gets Django's 400 page, not a 500 from a page that assumes a
logged-in-or-anonymous user: middleware that sets ``request.user`` has not run when the host is refused."""

from __future__ import annotations

import pytest
from django.test import Client


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/login/", "/api/v1/jobs/"])
def test_an_unserved_host_is_a_400(path: str, settings) -> None:  # type: ignore[no-untyped-def]
    settings.ALLOWED_HOSTS = ["glassbox.example.internal"]
    response = Client(raise_request_exception=False).get(path, HTTP_HOST="attacker.example")
    assert response.status_code == 400
