"""An API key's authority comes from the ledger, not from its row: the app's database role may INSERT and
UPDATE ``audit_app_apikey`` and ``audit_app_webhookendpoint`` (operational tables), so a key row inserted
without its ledgered creation, or widened, re-pointed or un-revoked by UPDATE, is refused (401), and an
edited webhook URL is not sent to."""

from __future__ import annotations

import datetime
import hashlib
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from audit_app.models import ApiKey, Team, WebhookDelivery
from audit_app.services.api_keys import create_key, revoke_key
from audit_app.services.webhooks import set_webhook
from tests.factories import FinishedJobFactory
from tests.people import make_user
from tests.service.test_webhooks import eager  # noqa: F401  # the fixture, used by name below
from tests.service.webhook_receiver import receiver

pytestmark = pytest.mark.django_db
DAY = datetime.timedelta(days=1)


def get(secret: str, path: str = "/api/v1/jobs/") -> int:
    return Client().get(path, HTTP_AUTHORIZATION=f"Bearer {secret}").status_code


def app_role(sql: str, *params: object) -> None:
    """An UPDATE the app role's grant allows (operational table, no trigger)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_a_key_row_inserted_without_its_ledgered_creation_is_refused(team: Team) -> None:
    assert get(create_key("Real", team, "read", None, "t").secret) == 200  # the check lets a real key through
    secret = "gbx_0badc0de_" + "x" * 43
    ApiKey.objects.create(  # what an INSERT by the app's role would store
        name="Forged",
        prefix="gbx_0badc0de",
        secret_sha256=hashlib.sha256(secret.encode()).hexdigest(),
        team=team,
        user=make_user("api-0badc0de", "analyst", team),
        scopes="read submit",
        created_by_name="nobody",
    )
    assert get(secret) == 401


def test_a_key_row_widened_re_pointed_or_extended_is_refused(team: Team) -> None:
    other = Team.objects.create(name="Credit")
    edits = [("scopes", "read submit"), ("team_id", other.pk), ("expires_at", None)]
    for column, value in edits:
        new = create_key(f"Reporting {column}", team, "read", None, "t", expires_at=timezone.now() + DAY)
        assert get(new.secret) == 200
        app_role(f"UPDATE audit_app_apikey SET {column} = %s WHERE id = %s", value, new.key.pk)
        assert get(new.secret) == 401, column


def test_a_key_row_given_another_secret_is_refused(team: Team) -> None:
    new = create_key("Reporting", team, "read", None, "t")
    assert get(new.secret) == 200  # checked once: the process now remembers what the ledger grants this key
    known = new.key.prefix + "_" + "k" * 43  # a secret the insider chose, in place of the one the ledger names
    app_role(
        "UPDATE audit_app_apikey SET secret_sha256 = %s WHERE id = %s",
        hashlib.sha256(known.encode()).hexdigest(),
        new.key.pk,
    )
    assert get(known) == 401


def test_a_revoked_key_un_revoked_by_update_stays_refused(team: Team) -> None:
    new = create_key("Matter system", team, "read", None, "t")
    assert get(new.secret) == 200  # remembered as granted until the key has another event: the revocation
    revoke_key(new.key, None, "t")
    app_role("UPDATE audit_app_apikey SET revoked_at = NULL WHERE id = %s", new.key.pk)
    app_role("UPDATE auth_user SET is_active = true WHERE id = %s", new.key.user_id)
    assert get(new.secret) == 401


@pytest.mark.usefixtures("eager")
# The finished job's own inference message goes to Redis by name (send_task), which eager mode leaves alone.
@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
def test_an_edited_webhook_url_is_not_sent_to(team: Team, django_capture_on_commit_callbacks: Any) -> None:
    key = create_key("Matter system", team, "read submit", None, "t").key
    with receiver(204) as real, receiver(204) as attacker:
        set_webhook(key, real.url, "test setup")
        app_role("UPDATE audit_app_webhookendpoint SET url = %s WHERE key_id = %s", attacker.url, key.pk)
        with django_capture_on_commit_callbacks(execute=True):
            job = FinishedJobFactory(submitter=key.user)
        assert attacker.requests == []
        assert real.requests == []
    assert WebhookDelivery.objects.get(job=job).status == WebhookDelivery.FAILED
