"""Mail settings come from the environment (password from a file too) and refuse bad values by name; the demo
prints its mails and links to itself."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOW = (
    "import django; django.setup(); from django.conf import settings as s; "
    "print(s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_HOST_USER, s.EMAIL_HOST_PASSWORD, "
    "s.EMAIL_USE_TLS, s.EMAIL_TIMEOUT, s.DEFAULT_FROM_EMAIL, s.GLASSBOX['BASE_URL'], "
    "s.CELERY_TASK_ROUTES['glassbox.send_notification']['queue'])"
)


def settings_with(**env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_EMAIL", "DJANGO_DEFAULT_FROM"))}
    base |= {"DJANGO_SETTINGS_MODULE": "audit_app.settings", "DJANGO_SECRET_KEY": "test", "PYTHONPATH": str(ROOT)}
    base["DATABASE_URL"] = "postgresql://nobody@127.0.0.1/none"  # nothing connects
    return subprocess.run(
        [sys.executable, "-c", SHOW], env=base | env, capture_output=True, text=True, timeout=60, cwd=ROOT
    )


def test_mail_settings_default_to_smtp_and_come_from_the_environment(tmp_path: Path):
    default = settings_with()
    assert default.returncode == 0, default.stderr
    assert default.stdout.split()[:3] == ["django.core.mail.backends.smtp.EmailBackend", "localhost", "25"]
    (tmp_path / "smtp").write_text("s3cret\n")
    given = settings_with(
        DJANGO_EMAIL_HOST="smtp.example.internal",
        DJANGO_EMAIL_PORT="587",
        DJANGO_EMAIL_HOST_USER="glassbox",
        DJANGO_EMAIL_HOST_PASSWORD_FILE=str(tmp_path / "smtp"),
        DJANGO_EMAIL_USE_TLS="True",
        DJANGO_EMAIL_TIMEOUT="10",
        DJANGO_DEFAULT_FROM_EMAIL="glassbox@example.internal",
        GLASSBOX_BASE_URL="https://glassbox.example.internal/",
    )
    assert given.returncode == 0, given.stderr
    assert given.stdout.split()[1:] == [
        "smtp.example.internal",
        "587",
        "glassbox",
        "s3cret",
        "True",
        "10",
        "glassbox@example.internal",
        "https://glassbox.example.internal",
        "control",
    ]


@pytest.mark.parametrize(
    ("name", "value", "sentence"),
    [
        ("DJANGO_EMAIL_PORT", "smtp", "DJANGO_EMAIL_PORT must be a whole number, not 'smtp'."),
        ("DJANGO_EMAIL_USE_TLS", "yes", "DJANGO_EMAIL_USE_TLS must be True or False, not 'yes'."),
    ],
)
def test_a_bad_mail_setting_is_refused_by_name(name: str, value: str, sentence: str):
    refused = settings_with(**{name: value})
    assert refused.returncode != 0
    assert sentence in refused.stderr


def test_the_demo_prints_mails_and_links_to_its_own_address(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.syspath_prepend(str(ROOT / "deploy"))
    demo = importlib.import_module("demo")
    env: dict[str, str] = {}
    demo.notification_defaults(env)
    assert env == {
        "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
        "GLASSBOX_BASE_URL": f"http://127.0.0.1:{demo.PORT}",
    }
    monkeypatch.setattr(demo, "VAR", tmp_path)
    demo.write_env_file(env)  # what deploy/manage and every part of the demo load
    written = (tmp_path / "env").read_text()
    assert "export DJANGO_EMAIL_BACKEND=django.core.mail.backends.console.EmailBackend" in written
    assert f"export GLASSBOX_BASE_URL=http://127.0.0.1:{demo.PORT}" in written
    mine = {"DJANGO_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend"}
    demo.notification_defaults(mine)
    assert mine["DJANGO_EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"  # a person's own wins
