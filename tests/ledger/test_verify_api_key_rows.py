"""``verify_ledger`` names an API key row made or changed outside Glassbox (the app role may INSERT and UPDATE
``audit_app_apikey``, an operational table): authentication already refuses such a key, and now the auditor's
verification says which row and why. Keys that went through every legitimate change still verify."""

from __future__ import annotations

import datetime
import hashlib

import pytest
from django.db import connection
from django.utils import timezone

from audit_app.models import ApiKey, Team
from audit_app.services.api_keys import create_key, ledger_webhook, revoke_key
from tests.ledger.insider import named, verify
from tests.people import make_user

pytestmark = pytest.mark.django_db


def app_role(sql: str, *params: object) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.fixture
def keys(team: Team) -> dict[str, ApiKey]:
    """Odd but valid: an expiring key with a Unicode name, a revoked one, one whose webhook was set then removed."""
    expiring = create_key("Système ☃ 東京", team, "read", None, "op", timezone.now() + datetime.timedelta(days=3)).key
    revoked = create_key("Old", team, "read submit", None, "op").key
    revoke_key(revoked, None, "op")
    hooked = create_key("Hooked", team, "read submit", None, "op").key
    ledger_webhook(hooked, "https://case.example/hook", "op")
    ledger_webhook(hooked, "", "op")
    return {"expiring": expiring, "revoked": revoked, "hooked": hooked}


def test_keys_through_every_legitimate_change_verify(keys: dict[str, ApiKey]) -> None:
    report = verify()
    assert report.problems == [], [str(p) for p in report.problems]


@pytest.mark.parametrize(
    ("which", "sql"),
    [
        ("hooked", "UPDATE audit_app_apikey SET scopes = 'read submit' WHERE id = %s"),  # unchanged: control
        ("expiring", "UPDATE audit_app_apikey SET scopes = 'read submit' WHERE id = %s"),  # widened
        ("expiring", "UPDATE audit_app_apikey SET expires_at = NULL WHERE id = %s"),  # made everlasting
        ("expiring", "UPDATE audit_app_apikey SET secret_sha256 = repeat('0', 64) WHERE id = %s"),  # new secret
        ("revoked", "UPDATE audit_app_apikey SET revoked_at = NULL WHERE id = %s"),  # un-revoked
    ],
    ids=["same-scopes", "widened", "no-expiry", "new-secret", "un-revoked"],
)
def test_an_edited_key_row_is_named(keys: dict[str, ApiKey], team: Team, which: str, sql: str) -> None:
    key = keys[which]
    app_role(sql, key.pk)
    found = named(verify())
    if "'read submit' WHERE" in sql and which == "hooked":
        assert ("audit_app_apikey", str(key.pk)) not in found  # it already had those scopes: nothing changed
    else:
        assert ("audit_app_apikey", str(key.pk)) in found


def test_a_key_row_inserted_without_its_creation_and_one_moved_to_another_team_are_named(
    keys: dict[str, ApiKey], team: Team
) -> None:
    other = Team.objects.create(name="Other team")
    app_role("UPDATE audit_app_apikey SET team_id = %s WHERE id = %s", other.pk, keys["hooked"].pk)
    forged = ApiKey.objects.create(
        name="Forged",
        prefix="gbx_0badc0de",
        secret_sha256=hashlib.sha256(b"x").hexdigest(),
        team=team,
        user=make_user("api-0badc0de", "analyst", team),
        scopes="read submit",
        created_by_name="nobody",
    )
    report = verify()
    problems = {(p.table, p.row_id): p.message for p in report.problems}
    assert "no ledgered creation" in problems[("audit_app_apikey", str(forged.pk))]
    assert "differs from its ledgered creation" in problems[("audit_app_apikey", str(keys["hooked"].pk))]
    assert not report.ok
