"""API keys per case system: the secret kept only as a hash, scopes, team scope, expiry, revocation, last use,
who acted, the ledgered lifecycle (verify_ledger names forged and edited events), the management command, and
per-key throttling (429 with Retry-After)."""

from __future__ import annotations

import datetime
import hashlib
import io

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django.utils import timezone

from audit_app.models import AccessEvent, ApiKey, ApiKeyEvent, Job, LedgerEntry, Team
from audit_app.services.api_keys import KeyRefused, create_key, revoke_key
from audit_app.services.users import set_active
from tests.forging import insert_unledgered
from tests.ledger.insider import named, superuser, verify

pytestmark = pytest.mark.django_db


def bearer(secret: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def submit(client: Client, secret: str) -> object:
    body = {"domain": "legal", "question": "Is clause 4 enforceable?", "case_reference": "M-1"}
    return client.post("/api/v1/jobs/", body, content_type="application/json", **bearer(secret))


def tables_holding(text: str) -> list[str]:
    """Every table with a row whose text (bytea columns as hex) contains ``text``: a grep of the database."""
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(
                f'SELECT 1 FROM "{table}" AS t WHERE t::text LIKE %s OR t::text LIKE %s LIMIT 1',
                [f"%{text}%", f"%{text.encode().hex()}%"],
            )
            if cursor.fetchone():
                found.append(table)
    return found


def test_the_secret_is_shown_once_and_only_its_sha256_is_stored(team: Team) -> None:
    new = create_key("Matter system", team, "read submit", None, "test setup")
    assert new.secret.startswith(new.key.prefix + "_")
    random_part = new.secret.removeprefix(new.key.prefix + "_")
    assert len(random_part) >= 43  # 32 random bytes
    assert tables_holding(random_part) == []
    digest = hashlib.sha256(new.secret.encode()).hexdigest()
    assert ApiKey.objects.get(pk=new.key.pk).secret_sha256 == digest
    assert set(tables_holding(digest)) == {"audit_app_apikey", "audit_app_apikeyevent", "audit_app_ledgerentry"}
    assert tables_holding(new.key.prefix)  # the visible prefix names the key everywhere
    assert "secret" not in {f.name for f in ApiKey._meta.get_fields()}


def test_scopes_read_and_submit(client: Client, team: Team) -> None:
    reader = create_key("Reporting", team, ["read"], None, "t").secret
    writer = create_key("Matter system", team, "read,submit", None, "t").secret
    refused = submit(client, reader)
    assert refused.status_code == 403
    assert "needs 'submit'" in refused.json()["detail"]
    job_id = submit(client, writer).json()["id"]
    assert client.get(f"/api/v1/jobs/{job_id}/", **bearer(reader)).status_code == 200
    assert client.post(f"/api/v1/jobs/{job_id}/cancel/", **bearer(reader)).status_code == 403
    with pytest.raises(KeyRefused, match="Scopes must be among read, submit"):
        create_key("Admin", team, "read admin", None, "t")


def test_a_key_sees_only_its_teams_jobs(client: Client, team: Team, other_team: Team) -> None:
    ours = create_key("Matter system", team, "read submit", None, "t").secret
    theirs = create_key("Credit system", other_team, "read submit", None, "t").secret
    their_job = submit(client, theirs).json()["id"]
    our_job = submit(client, ours).json()["id"]
    missing = client.get(f"/api/v1/jobs/{their_job}/", **bearer(ours))
    assert missing.status_code == 404
    assert missing["Content-Type"] == "application/problem+json"
    assert [j["id"] for j in client.get("/api/v1/jobs/", **bearer(ours)).json()["results"]] == [our_job]
    assert Job.objects.get(pk=their_job).submission.case.team == other_team


def test_an_expired_key_gets_401(client: Client, team: Team) -> None:
    new = create_key("Soon", team, "read", None, "t", expires_at=timezone.now() + datetime.timedelta(days=1))
    assert client.get("/api/v1/jobs/", **bearer(new.secret)).status_code == 200
    ApiKey.objects.filter(pk=new.key.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    expired = client.get("/api/v1/jobs/", **bearer(new.secret))
    assert expired.status_code == 401
    assert expired["Content-Type"] == "application/problem+json"
    assert "unknown, revoked or expired" in expired.json()["detail"]
    with pytest.raises(KeyRefused, match="must lie in the future"):
        create_key("Past", team, "read", None, "t", expires_at=timezone.now() - datetime.timedelta(days=1))


def test_revocation_refuses_the_next_request_and_deactivates_the_service_account(client: Client, team: Team) -> None:
    new = create_key("Matter system", team, "read submit", None, "t")
    assert client.get("/api/v1/jobs/", **bearer(new.secret)).status_code == 200
    revoke_key(new.key, None, "manage.py (root)")
    assert client.get("/api/v1/jobs/", **bearer(new.secret)).status_code == 401
    assert submit(client, new.secret).status_code == 401  # type: ignore[attr-defined]
    account = ApiKey.objects.get(pk=new.key.pk).user
    assert not account.is_active
    assert not account.has_usable_password()
    with pytest.raises(KeyRefused, match="already revoked"):
        revoke_key(new.key, None, "t")
    assert ApiKeyEvent.objects.filter(key=new.key, action="revoke").count() == 1


def test_a_key_whose_service_account_is_deactivated_gets_401(client: Client, team: Team) -> None:
    new = create_key("Matter system", team, "read", None, "t")
    assert client.get("/api/v1/jobs/", **bearer(new.secret)).status_code == 200
    set_active("operator oscar", new.key.user.pk, False)  # as the Users page does
    assert client.get("/api/v1/jobs/", **bearer(new.secret)).status_code == 401
    listed = io.StringIO()
    call_command("api_key", "list", stdout=listed)
    assert f"{new.key.prefix}  deactivated" in listed.getvalue()  # shown as it acts, not as "active"
    set_active("operator oscar", new.key.user.pk, True)
    assert client.get("/api/v1/jobs/", **bearer(new.secret)).status_code == 200


def test_last_used_at_is_set_on_use(client: Client, team: Team) -> None:
    new = create_key("Matter system", team, "read", None, "t")
    assert ApiKey.objects.get(pk=new.key.pk).last_used_at is None
    before = timezone.now()
    client.get("/api/v1/jobs/", **bearer(new.secret))
    used = ApiKey.objects.get(pk=new.key.pk).last_used_at
    assert used is not None
    assert used >= before


def test_jobs_and_accesses_name_the_key_and_are_ledgered(client: Client, team: Team) -> None:
    new = create_key("Matter system", team, "read submit", None, "t")
    account = "api-" + new.key.prefix.removeprefix("gbx_")
    assert new.key.user.username == account
    job_id = submit(client, new.secret).json()["id"]
    job = Job.objects.get(pk=job_id)
    assert job.submission.submitted_by_name == account
    assert job.submission.submitted_by == new.key.user
    assert LedgerEntry.objects.filter(subject=f"submission:{job.submission_id}").count() == 1
    for _ in range(2):
        assert client.get(f"/api/v1/jobs/{job_id}/", **bearer(new.secret)).status_code == 200
    events = AccessEvent.objects.filter(subject=f"job:{job_id}")
    assert [(e.actor_id, e.actor_name) for e in events] == [(new.key.user.pk, account)] * 2
    for event in events:
        assert LedgerEntry.objects.filter(subject=f"access:{event.pk}").count() == 1
    assert verify().ok


def test_creation_and_revocation_are_ledgered_api_key_events(team: Team, operator: object) -> None:
    new = create_key("Matter system", team, "read submit", operator, expires_at=None)  # type: ignore[arg-type]
    revoke_key(new.key, operator)  # type: ignore[arg-type]
    events = list(ApiKeyEvent.objects.order_by("id"))
    assert [(e.action, e.prefix, e.actor_name, e.team_name) for e in events] == [
        ("create", new.key.prefix, "oscar", team.name),
        ("revoke", new.key.prefix, "oscar", team.name),
    ]
    for event in events:
        assert LedgerEntry.objects.filter(subject=f"api_key:{event.pk}").count() == 1
    assert verify().ok


ODD_NAMES = [
    "نظام القضايا — فرع الرياض",
    "案件管理系统（上海）",  # noqa: RUF001 (full-width brackets, as Chinese text writes them)
    "Team 👩‍💻 and 👨‍👩‍👧‍👦 with 🏳️‍🌈",
    "O'Brien & Søn «Ledger» <b>not html</b> " + "x" * 61,
]


def test_odd_but_valid_names_verify_clean(team: Team, capsys: pytest.CaptureFixture[str]) -> None:
    assert len(ODD_NAMES[3]) == 100
    for name in ODD_NAMES:
        new = create_key(name, team, "read", None, "manage.py (rôot) — «test»")
        assert ApiKey.objects.get(pk=new.key.pk).name == name
        revoke_key(new.key, None, "operator 法务")
    assert ApiKeyEvent.objects.count() == 2 * len(ODD_NAMES)
    call_command("verify_ledger")
    assert capsys.readouterr().out.startswith("Ledger verified: ")


def test_forged_and_edited_api_key_events_are_named(team: Team, capsys: pytest.CaptureFixture[str]) -> None:
    new = create_key("Matter system", team, "read", None, "t")
    real = ApiKeyEvent.objects.get()
    forged = insert_unledgered(
        ApiKeyEvent(
            action="revoke",
            key=new.key,
            prefix=new.key.prefix,
            name=new.key.name,
            team=team,
            team_name=team.name,
            scopes="read",
            secret_sha256=new.key.secret_sha256,
            actor_name="nobody",
            record_sha256="0" * 64,
        )
    )
    superuser(
        "audit_app_apikeyevent", "UPDATE audit_app_apikeyevent SET scopes = %s WHERE id = %s", "read submit", real.pk
    )
    report = verify()
    assert not report.ok
    assert {("audit_app_apikeyevent", str(forged.pk)), ("audit_app_apikeyevent", str(real.pk))} <= named(report)
    with pytest.raises(CommandError, match="Ledger verification failed") as error:
        call_command("verify_ledger")
    assert error.value.returncode == 1
    out = capsys.readouterr().out
    assert f"audit_app_apikeyevent {forged.pk}" in out
    assert f"audit_app_apikeyevent {real.pk}" in out


def test_the_command_creates_lists_and_revokes(team: Team, capsys: pytest.CaptureFixture[str]) -> None:
    call_command("api_key", "create", "Matter system", "--team", team.name, "--scopes", "read", "--expires-days", "30")
    created = capsys.readouterr().out.splitlines()
    key = ApiKey.objects.get()
    assert created[0].startswith(f"Created key {key.prefix} for {team.name} (read)")
    secret = created[1]
    assert hashlib.sha256(secret.encode()).hexdigest() == key.secret_sha256
    assert key.expires_at is not None
    assert 29 < (key.expires_at - timezone.now()).days + 1 <= 30
    assert ApiKeyEvent.objects.get().actor_name  # the command line's account
    call_command("api_key", "list")
    listed = capsys.readouterr().out
    assert key.prefix in listed
    assert "active" in listed
    assert secret not in listed
    call_command("api_key", "revoke", key.prefix)
    assert capsys.readouterr().out == f"Revoked {key.prefix} (Matter system).\n"
    call_command("api_key", "list")
    assert "revoked" in capsys.readouterr().out
    assert Client().get("/api/v1/jobs/", **bearer(secret)).status_code == 401


@pytest.mark.parametrize(
    ("args", "sentence"),
    [
        (["create", "X", "--team", "Nobody"], "No team is called 'Nobody'"),
        (["create", "X", "--team", "Litigation", "--scopes", "read,admin"], "Scopes must be among read, submit"),
        (["create", "X", "--team", "Litigation", "--expires-days", "0"], "--expires-days must be 1 or more"),
        (["create", "X", "--team", "Litigation", "--expires-days", "-3"], "--expires-days must be 1 or more"),
        (["create", "  ", "--team", "Litigation"], "Give the key a name"),
        (["create", "Matter\u202esystem", "--team", "Litigation"], "U+202E"),
        (["create", "Matter\u200bsystem", "--team", "Litigation"], "U+200B"),
        (["create", "Matter\u200dsystem", "--team", "Litigation"], "U+200D"),  # a joiner between letters
        (["create", "x" * 101, "--team", "Litigation"], "more than 100 characters"),
        (["revoke", "gbx_00000000"], "No key has the prefix 'gbx_00000000'"),
    ],
)
def test_the_command_refuses_bad_input_and_stores_nothing(team: Team, args: list[str], sentence: str) -> None:
    with pytest.raises(CommandError, match=sentence.replace("(", r"\(").replace("+", r"\+")):
        call_command("api_key", *args)
    assert not ApiKey.objects.exists()
    assert not ApiKeyEvent.objects.exists()
    assert not LedgerEntry.objects.filter(subject__startswith="api_key:").exists()


def test_the_command_refuses_to_revoke_twice(team: Team) -> None:
    new = create_key("Matter system", team, "read", None, "t")
    call_command("api_key", "revoke", new.key.prefix)
    revoked_at = ApiKey.objects.get().revoked_at
    with pytest.raises(CommandError, match=f"Key {new.key.prefix} was already revoked"):
        call_command("api_key", "revoke", new.key.prefix)
    assert ApiKey.objects.get().revoked_at == revoked_at
    assert ApiKeyEvent.objects.filter(action="revoke").count() == 1


def test_a_throttled_key_gets_429_with_retry_after_and_others_are_not(
    client: Client, team: Team, settings: object
) -> None:
    settings.GLASSBOX = {**settings.GLASSBOX, "API_RATE": "3/minute"}  # type: ignore[attr-defined]
    cache.clear()
    busy = create_key("Busy system", team, "read", None, "t").secret
    calm = create_key("Calm system", team, "read", None, "t").secret
    statuses = [client.get("/api/v1/jobs/", **bearer(busy)).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    throttled = client.get("/api/v1/jobs/", **bearer(busy))
    assert throttled.status_code == 429
    assert throttled["Content-Type"] == "application/problem+json"
    wait = int(throttled["Retry-After"])
    assert 0 < wait <= 60
    problem = throttled.json()
    assert problem["status"] == 429
    assert problem["retry_after"] == wait
    assert "throttled" in problem["detail"].lower()
    assert client.get("/api/v1/jobs/", **bearer(calm)).status_code == 200
