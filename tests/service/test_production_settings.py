"""Session and password hygiene, and production settings that pass `manage.py check --deploy` (docs/operations.md)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.management import call_command
from django.test import Client

from audit_app.env import env_header

ROOT = Path(__file__).resolve().parents[2]


def test_sessions_last_eight_hours_by_default(analyst: User):
    response = Client().post("/login/", {"username": "alice", "password": "pw-alice"})
    assert response.status_code == 302
    assert response.cookies["sessionid"]["max-age"] == 8 * 3600


def test_password_validators_refuse_weak_passwords_but_seeding_still_works(db):
    for weak in ("pw-alice", "password12345", "1234567890123"):
        with pytest.raises(ValidationError):
            validate_password(weak, User(username="alice"))
    validate_password(secrets.token_urlsafe(12))
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115  create_user/set_password skip validators
    demo = ["analyst", "auditor", "operator", "reviewer", "reviewer2"]
    assert User.objects.filter(username__in=demo).count() == 5


def test_proxy_header_names_are_checked(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("X_HEADER", "X-Forwarded-Proto")
    assert env_header("X_HEADER") == "HTTP_X_FORWARDED_PROTO"
    monkeypatch.setenv("X_HEADER", "X-Forwarded-Proto: https")
    with pytest.raises(ImproperlyConfigured, match="X_HEADER must be an HTTP header name"):
        env_header("X_HEADER")


def production_environment(tmp_path: Path) -> dict[str, str]:
    """deploy/.env.example as docs/operations.md says to use it, with its secret files made real."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("DJANGO_", "GLASSBOX_"))}
    for line in (ROOT / "deploy" / ".env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            env[name] = value
    (tmp_path / "secret_key").write_text(secrets.token_urlsafe(50))
    (tmp_path / "ledger.key").write_text("not read by check")
    (tmp_path / "smtp_password").write_text("not used by check")
    env |= {
        "DJANGO_EMAIL_HOST_PASSWORD_FILE": str(tmp_path / "smtp_password"),
        "DJANGO_SECRET_KEY_FILE": str(tmp_path / "secret_key"),
        "GLASSBOX_LEDGER_KEY_FILE": str(tmp_path / "ledger.key"),
    }
    return env


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "manage.py", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_check_deploy_is_clean_under_the_documented_production_settings(tmp_path: Path):
    production = production_environment(tmp_path)
    result = manage(production, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    insecure = {name: value for name, value in production.items() if not name.startswith("DJANGO_SECURE_")}
    result = manage(insecure, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 1
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr


def test_session_lifetime_comes_from_the_environment(tmp_path: Path):
    env = production_environment(tmp_path) | {"DJANGO_SESSION_COOKIE_AGE": "1800"}
    code = "from django.conf import settings; print(settings.SESSION_COOKIE_AGE, settings.SECURE_PROXY_SSL_HEADER)"
    result = manage(env, "shell", "-c", code)
    assert "1800 ('HTTP_X_FORWARDED_PROTO', 'https')" in result.stdout.splitlines(), result.stderr
