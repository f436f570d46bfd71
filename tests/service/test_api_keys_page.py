"""The operator's API keys page: every key and its state, create (the secret shown once, never cached),
revoke after a confirmation; refused input is a form error with a sentence and stores nothing."""

from __future__ import annotations

import datetime
import hashlib
import html
import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from audit_app.models import ApiKey, ApiKeyEvent, LedgerEntry, Team
from audit_app.services.api_keys import create_key, revoke_key
from tests.people import make_user

pytestmark = pytest.mark.django_db
PAGE = "/operator/api-keys/"


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_page_lists_every_key_with_its_state(operator: User, team: Team, other_team: Team) -> None:
    active = create_key("Matter system", team, "read submit", operator).key
    expired = create_key("Old reporting", other_team, "read", None, "manage.py (root)").key
    ApiKey.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - datetime.timedelta(days=1))
    revoked = create_key("Retired", team, "read", None, "manage.py (root)").key
    revoke_key(revoked, operator)
    Client().get("/api/v1/jobs/", HTTP_AUTHORIZATION="Bearer " + create_key("Used", team, "read", None, "t").secret)
    page = client_for(operator).get(PAGE)
    assert page.status_code == 200
    text = page.content.decode()
    rows = dict(re.findall(r'data-key="(gbx_[0-9a-f]{8})" data-state="(\w+)"', text))
    assert rows[active.prefix] == "active"
    assert rows[expired.prefix] == "expired"
    assert rows[revoked.prefix] == "revoked"
    for shown in ("Matter system", "read submit", team.name, other_team.name, "oscar", "manage.py (root)", "never"):
        assert html.escape(shown) in text
    assert len(rows) == 4
    assert 'href="/operator/api-keys/"' in text  # in the operator navigation
    assert text.count("Revoke…") == 3  # not for the revoked key


def test_creating_a_key_shows_its_secret_once_and_never_caches_it(operator: User, team: Team) -> None:
    client = client_for(operator)
    created = client.post(
        PAGE, {"name": "Matter system", "team": team.name, "scopes": ["read", "submit"], "expires_days": "30"}
    )
    assert created.status_code == 200
    assert "no-store" in created["Cache-Control"]
    assert "script-src 'self'" in created["Content-Security-Policy"]
    assert "unsafe" not in created["Content-Security-Policy"]
    text = created.content.decode()
    secret = re.search(r'<code id="new-secret">(gbx_[0-9a-f]{8}_[A-Za-z0-9_-]+)</code>', text)
    assert secret is not None
    key = ApiKey.objects.get()
    assert hashlib.sha256(secret[1].encode()).hexdigest() == key.secret_sha256
    assert "this is the only time it is shown" in text
    assert (key.name, key.team, key.scopes, key.created_by_name) == ("Matter system", team, "read submit", "oscar")
    assert key.expires_at is not None
    assert 29 <= (key.expires_at - timezone.now()).days <= 30
    event = ApiKeyEvent.objects.get()
    assert (event.action, event.actor) == ("create", operator)
    assert LedgerEntry.objects.filter(subject=f"api_key:{event.pk}").exists()
    # Never again: not on the list, not on the revoke page.
    for path in (PAGE, f"/operator/api-keys/{key.pk}/revoke/"):
        assert secret[1] not in client.get(path).content.decode()
        assert secret[1].removeprefix(key.prefix + "_") not in client.get(path).content.decode()
    # And it works.
    assert Client().get("/api/v1/jobs/", HTTP_AUTHORIZATION=f"Bearer {secret[1]}").status_code == 200


@pytest.mark.parametrize(
    ("form", "sentence"),
    [
        ({"name": "", "scopes": ["read"]}, "Give the key a name"),
        ({"name": "Matter\u202esystem", "scopes": ["read"]}, "U+202E"),
        ({"name": "x" * 101, "scopes": ["read"]}, "more than 100 characters"),
        ({"name": "Matter system"}, "Scopes must be among read, submit"),
        ({"name": "Matter system", "scopes": ["admin"]}, "Select a valid choice"),
        ({"name": "Matter system", "scopes": ["read"], "team": "Nobody"}, "There is no such team"),
        ({"name": "Matter system", "scopes": ["read"], "expires_days": "0"}, "at least 1 day"),
        ({"name": "Matter system", "scopes": ["read"], "expires_days": "-5"}, "at least 1 day"),
        ({"name": "Matter system", "scopes": ["read"], "expires_days": "soon"}, "whole number of days"),
        ({"name": "Matter system", "scopes": ["read"], "expires_days": "99999"}, "at most 3650 days"),
    ],
)
def test_refused_input_is_a_form_error_and_stores_nothing(
    operator: User, team: Team, form: dict[str, object], sentence: str
) -> None:
    response = client_for(operator).post(PAGE, {"team": team.name} | form)
    assert response.status_code == 400
    text = html.unescape(response.content.decode())
    assert sentence in text
    assert 'id="new-secret"' not in text
    assert not ApiKey.objects.exists()
    assert not ApiKeyEvent.objects.exists()
    assert not User.objects.filter(username__startswith="api-").exists()


def test_revoking_asks_for_confirmation_then_revokes(operator: User, team: Team) -> None:
    new = create_key("Matter system", team, "read", None, "t")
    client = client_for(operator)
    confirm = client.get(f"/operator/api-keys/{new.key.pk}/revoke/")
    assert confirm.status_code == 200
    assert "Revoking cannot be undone" in confirm.content.decode()
    assert ApiKey.objects.get().revoked_at is None  # asking is not revoking
    done = client.post(f"/operator/api-keys/{new.key.pk}/revoke/", follow=True)
    assert done.redirect_chain == [(PAGE, 302)]
    assert f"Key {new.key.prefix} (Matter system) is revoked" in done.content.decode()
    key = ApiKey.objects.get()
    assert key.revoked_at is not None
    assert not key.user.is_active
    assert ApiKeyEvent.objects.filter(action="revoke", actor=operator).count() == 1
    assert Client().get("/api/v1/jobs/", HTTP_AUTHORIZATION=f"Bearer {new.secret}").status_code == 401
    again = client.post(f"/operator/api-keys/{new.key.pk}/revoke/")
    assert again.status_code == 400
    assert f"Key {new.key.prefix} was already revoked" in again.content.decode()
    assert ApiKeyEvent.objects.filter(action="revoke").count() == 1
    assert client.post("/operator/api-keys/999999/revoke/").status_code == 404


@pytest.mark.parametrize("role", ["analyst", "reviewer", "auditor"])
def test_other_roles_are_refused(role: str, team: Team) -> None:
    user = make_user(f"someone-{role}", role, team)
    client = client_for(user)
    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, {"name": "Sneaky", "team": team.name, "scopes": ["read", "submit"]}).status_code == 403
    assert not ApiKey.objects.exists()
    assert 'href="/operator/api-keys/"' not in client.get("/").content.decode()
