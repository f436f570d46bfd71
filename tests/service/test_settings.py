"""Settings come from the environment through typed readers that fail loudly, naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from audit_app.env import database_from_url, env_bool, env_choice, env_int, env_secret


def test_bool_accepts_only_true_or_false(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("X_FLAG", "yes")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG must be True or False, not 'yes'"):
        env_bool("X_FLAG", False)
    monkeypatch.setenv("X_FLAG", "True")
    assert env_bool("X_FLAG", False) is True


def test_int_names_the_variable(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("X_COUNT", "ten")
    with pytest.raises(ImproperlyConfigured, match="X_COUNT must be a whole number, not 'ten'"):
        env_int("X_COUNT", 1)


def test_choice_refuses_a_value_not_offered(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("X_ENGINE", "vllm")
    with pytest.raises(ImproperlyConfigured, match="X_ENGINE must be one of local, openai, not 'vllm'"):
        env_choice("X_ENGINE", "local", ("local", "openai"))
    monkeypatch.setenv("X_ENGINE", "openai")
    assert env_choice("X_ENGINE", "local", ("local", "openai")) == "openai"


def test_secret_from_file_and_missing_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.delenv("X_SECRET", raising=False)
    with pytest.raises(ImproperlyConfigured, match="Set X_SECRET or X_SECRET_FILE"):
        env_secret("X_SECRET")
    (tmp_path / "secret").write_text("s3cret\n")
    monkeypatch.setenv("X_SECRET_FILE", str(tmp_path / "secret"))
    assert env_secret("X_SECRET") == "s3cret"


def test_database_url_is_parsed_or_refused():
    parsed = database_from_url("postgresql://app:p%40ss@db.internal:5433/glassbox")
    assert (parsed["USER"], parsed["PASSWORD"], parsed["HOST"], parsed["PORT"], parsed["NAME"]) == (
        "app",
        "p@ss",
        "db.internal",
        "5433",
        "glassbox",
    )
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL must look like"):
        database_from_url("mysql://x/y")


def test_debug_is_off_unless_asked():
    from django.conf import settings

    assert settings.DEBUG is False
