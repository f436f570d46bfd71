"""The operator's webhook form for one API key: set (the signing secret shown once, never cached), replace and
remove, each ledgered with the operator's name; a refused URL is a form error with the guard's sentence and
stores nothing; a webhook row changed outside Glassbox is shown as such, never as the key's webhook."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from audit_app.models import ApiKey, ApiKeyEvent, LedgerEntry, Team, WebhookEndpoint
from audit_app.services import webhook_secrets
from audit_app.services.api_keys import create_key, ledgered_webhook_url, revoke_key
from audit_app.services.webhooks import set_webhook
from tests.people import make_user

pytestmark = pytest.mark.django_db
RECEIVER = "http://127.0.0.1:9/hooks/glassbox"  # allow-listed below; nothing is sent by setting it


@pytest.fixture
def key(team: Team, settings: Any, monkeypatch: pytest.MonkeyPatch) -> ApiKey:
    monkeypatch.setitem(settings.GLASSBOX, "WEBHOOK_ALLOW", ["127.0.0.1"])
    return create_key("Matter system", team, "read submit", None, "test setup").key


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page(key: ApiKey) -> str:
    return f"/operator/api-keys/{key.pk}/webhook/"


def test_an_operator_sets_a_webhook_and_sees_its_secret_once_never_cached(operator: User, key: ApiKey) -> None:
    client = client_for(operator)
    assert "No webhook" in client.get(page(key)).content.decode()
    done = client.post(page(key), {"url": RECEIVER})
    assert done.status_code == 200
    assert "no-store" in done["Cache-Control"]
    secret = re.search(r'<code id="new-webhook-secret">(whsec_[A-Za-z0-9+/=]+)</code>', done.content.decode())
    assert secret is not None
    endpoint = WebhookEndpoint.objects.get(key=key)
    assert (endpoint.url, endpoint.set_by_name) == (RECEIVER, operator.get_username())
    assert webhook_secrets.decrypt(endpoint.secret_encrypted) == secret[1]
    event = ApiKeyEvent.objects.get(key=key, action=ApiKeyEvent.WEBHOOK_SET)
    assert (event.actor, event.webhook_url) == (operator, RECEIVER)
    assert LedgerEntry.objects.filter(subject=f"api_key:{event.pk}").exists()
    assert ledgered_webhook_url(key) == RECEIVER
    for later in (page(key), "/operator/api-keys/"):  # shown where it is set, never again
        text = client.get(later).content.decode()
        assert RECEIVER in text
        assert secret[1] not in text
        assert secret[1][6:] not in text
    assert 'id="webhook-not-ledgered"' not in client.get(page(key)).content.decode()
    call_command("verify_ledger")  # the web's change is evidence like the command's: no alarm


def test_an_odd_but_valid_url_is_stored_exactly_and_verifies(operator: User, key: ApiKey) -> None:
    odd = "http://127.0.0.1:9/hooks/gl%C3%A4ssbox;v=1?case=%E6%9D%B1%E4%BA%AC&x=a%2Fb&empty="
    assert client_for(operator).post(page(key), {"url": odd}).status_code == 200
    assert WebhookEndpoint.objects.get(key=key).url == odd
    assert ledgered_webhook_url(key) == odd
    assert odd in client_for(operator).get(page(key)).content.decode().replace("&amp;", "&")
    call_command("verify_ledger")


@pytest.mark.parametrize(
    ("url", "sentence"),
    [
        ("", "Give the webhook URL"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("http://[::1]/hooks", "::1 is a loopback address"),
        ("http://[::ffff:10.0.0.1]/hooks", "(IPv4 inside IPv6)"),
        ("http://127.0.0.1:9/hooks\r\nX-Injected: 1", "whitespace or control characters"),
        ("ftp://127.0.0.1/hooks", "must start with https:// or http://"),
        ("https://user:secret@127.0.0.1/hooks", "carries a user name or password"),
        ("https://127.0.0.1/" + "a" * 2000, "more than 2000 characters"),
    ],
)
def test_a_refused_url_is_a_form_error_with_the_sentence_and_stores_nothing(
    operator: User, key: ApiKey, url: str, sentence: str
) -> None:
    entries = LedgerEntry.objects.count()
    response = client_for(operator).post(page(key), {"url": url})
    assert response.status_code == 400
    text = html.unescape(response.content.decode())
    assert sentence in text
    assert 'id="new-webhook-secret"' not in text
    assert not WebhookEndpoint.objects.exists()
    assert not ApiKeyEvent.objects.exclude(action=ApiKeyEvent.CREATE).exists()
    assert LedgerEntry.objects.count() == entries


def test_replacing_makes_a_new_secret_and_removing_is_ledgered(operator: User, key: ApiKey) -> None:
    first = set_webhook(key, RECEIVER, "test setup").secret
    client = client_for(operator)
    replaced = client.post(page(key), {"url": RECEIVER + "/v2"})
    assert replaced.status_code == 200
    assert first not in replaced.content.decode()
    assert webhook_secrets.decrypt(WebhookEndpoint.objects.get().secret_encrypted) != first
    removed = client.post(page(key), {"remove": "1"}, follow=True)
    assert removed.redirect_chain == [("/operator/api-keys/", 302)]
    assert f"Removed the webhook of {key.prefix}." in removed.content.decode()
    assert not WebhookEndpoint.objects.exists()
    assert ledgered_webhook_url(key) == ""
    assert ApiKeyEvent.objects.filter(action=ApiKeyEvent.WEBHOOK_REMOVE, actor=operator).count() == 1
    again = client.post(page(key), {"remove": "1"}, follow=True)
    assert f"{key.prefix} had no webhook." in again.content.decode()
    assert ApiKeyEvent.objects.filter(action=ApiKeyEvent.WEBHOOK_REMOVE).count() == 1


def test_a_revoked_key_gets_no_webhook(operator: User, key: ApiKey) -> None:
    revoke_key(key, operator)
    response = client_for(operator).post(page(key), {"url": RECEIVER})
    assert response.status_code == 400
    assert f"Key {key.prefix} is revoked or expired; it gets no webhook." in response.content.decode()
    assert not WebhookEndpoint.objects.exists()
    assert client_for(operator).get("/operator/api-keys/999999/webhook/").status_code == 404


def test_a_webhook_row_changed_outside_glassbox_is_shown_as_not_the_ledgered_one(operator: User, key: ApiKey) -> None:
    set_webhook(key, RECEIVER, "test setup")
    WebhookEndpoint.objects.filter(key=key).update(url="http://127.0.0.1:9/attacker")  # the app role may do this
    text = client_for(operator).get(page(key)).content.decode()
    assert 'id="webhook-not-ledgered"' in text
    assert RECEIVER in text  # what the ledger says, beside what the row says
    WebhookEndpoint.objects.filter(key=key).delete()  # and a row removed behind the ledger's back
    text = client_for(operator).get(page(key)).content.decode()
    assert 'id="webhook-not-ledgered"' in text
    assert "the webhook row is gone" in text


@pytest.mark.parametrize("role", ["analyst", "reviewer", "auditor"])
def test_other_roles_are_refused_and_nothing_changes(role: str, team: Team, key: ApiKey) -> None:
    client = client_for(make_user(f"someone-{role}", role, team))
    assert client.get(page(key)).status_code == 403
    assert client.post(page(key), {"url": RECEIVER}).status_code == 403
    set_webhook(key, RECEIVER, "test setup")
    assert client.post(page(key), {"remove": "1"}).status_code == 403
    assert WebhookEndpoint.objects.get(key=key).url == RECEIVER
