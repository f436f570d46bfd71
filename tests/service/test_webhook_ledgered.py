"""Where a key's job events go is evidence: setting or removing its webhook is a ledgered ApiKeyEvent, in the
change's own transaction; verify_ledger names an edited URL, and odd but valid URLs verify clean."""

from __future__ import annotations

import pytest

from audit_app.models import ApiKeyEvent, LedgerEntry, Team, WebhookEndpoint
from audit_app.services.api_keys import create_key
from audit_app.services.webhook_guard import UrlRefused
from audit_app.services.webhooks import remove_webhook, set_webhook
from tests.ledger.insider import named, superuser, verify

pytestmark = pytest.mark.django_db
ODD_URL = "http://10.1.2.3:8443/hooks/glassbox/%E6%9D%B1%E4%BA%AC?team=a%2Cb&x=" + "y" * 1500


@pytest.fixture
def allowed(settings):  # type: ignore[no-untyped-def]
    settings.GLASSBOX = {**settings.GLASSBOX, "WEBHOOK_ALLOW": ["10.0.0.0/8"]}


def test_setting_and_removing_a_webhook_are_ledgered(team: Team, allowed: None) -> None:
    key = create_key("Matter system", team, "read submit", None, "t").key
    set_webhook(key, ODD_URL, "operator oscar")
    remove_webhook(key, "operator oscar")
    events = list(ApiKeyEvent.objects.order_by("id").values_list("action", "webhook_url", "actor_name"))
    assert events[1:] == [("webhook_set", ODD_URL, "operator oscar"), ("webhook_remove", "", "operator oscar")]
    for event in ApiKeyEvent.objects.all():
        assert LedgerEntry.objects.filter(subject=f"api_key:{event.pk}").count() == 1
    assert verify().ok  # odd but valid: a long URL with escapes, a port and a query string


def test_a_refused_url_stores_and_ledgers_nothing(team: Team) -> None:
    key = create_key("Matter system", team, "read submit", None, "t").key
    entries = LedgerEntry.objects.count()
    with pytest.raises(UrlRefused):
        set_webhook(key, "http://127.0.0.1/hook", "operator oscar")
    assert not WebhookEndpoint.objects.exists()
    assert LedgerEntry.objects.count() == entries


def test_an_edited_webhook_url_is_named(team: Team, allowed: None) -> None:
    key = create_key("Matter system", team, "read submit", None, "t").key
    set_webhook(key, "http://10.1.2.3/hook", "operator oscar")
    event = ApiKeyEvent.objects.get(action="webhook_set")
    superuser(
        "audit_app_apikeyevent",
        "UPDATE audit_app_apikeyevent SET webhook_url = %s WHERE id = %s",
        "http://10.6.6.6/exfiltrate",
        event.pk,
    )
    report = verify()
    assert not report.ok
    assert ("audit_app_apikeyevent", str(event.pk)) in named(report)
