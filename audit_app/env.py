"""Typed readers for settings from the environment: every bad or missing value fails loudly, naming it."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TypedDict
from urllib.parse import unquote, urlparse

from django.core.exceptions import ImproperlyConfigured


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name)
    if value is None or value == "":
        if default is None:
            raise ImproperlyConfigured(f"Set the environment variable {name}; see docs/configuration.md.")
        return default
    return value


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value not in ("True", "False"):
        raise ImproperlyConfigured(f"{name} must be True or False, not {value!r}.")
    return value == "True"


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}.") from None


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}.") from None


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env_str(name, default)
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, not {value!r}.")
    return value


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def env_counts(name: str, default: str, keys: list[str]) -> dict[str, int]:
    """``legal=1,clinical=2`` as ``{"legal": 1, "clinical": 2}``: every one of ``keys``, each count 1 or more."""
    counts: dict[str, int] = {}
    for item in env_list(name, default):
        key, _, value = item.partition("=")
        if key.strip() not in keys or not value.strip().isdigit() or int(value) < 1:
            raise ImproperlyConfigured(
                f"{name} must list each of {', '.join(keys)} as name=count with a count of 1 or more, not {item!r}."
            )
        counts[key.strip()] = int(value)
    missing = [key for key in keys if key not in counts]
    if missing:
        raise ImproperlyConfigured(f"{name} gives no count for {', '.join(missing)}.")
    return counts


QUEUE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def env_queue(name: str, default: str) -> str:
    """A Celery queue name: letters, digits, '.', '_' and '-' (``inference.nf4``)."""
    value = env_str(name, default).strip()
    if not QUEUE_NAME.match(value):
        raise ImproperlyConfigured(f"{name} must be a queue name (letters, digits, '.', '_', '-'), not {value!r}.")
    return value


def env_routes(name: str, keys: list[str]) -> dict[str, str]:
    """``clinical=inference.bf16`` as ``{"clinical": "inference.bf16"}``: only ``keys``, each a queue name."""
    routes: dict[str, str] = {}
    for item in env_list(name, ""):
        key, _, value = (part.strip() for part in item.partition("="))
        if key not in keys or not QUEUE_NAME.match(value):
            raise ImproperlyConfigured(f"{name} must list domains ({', '.join(keys)}) as domain=queue, not {item!r}.")
        routes[key] = value
    return routes


def env_secret(name: str, default: str | None = None) -> str:
    """``NAME``, else the contents of the file named by ``NAME_FILE`` (Docker and systemd secrets)."""
    if os.environ.get(name):
        return os.environ[name]
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE names {path}, which cannot be read ({exc.strerror}).") from None
    if default is None:
        raise ImproperlyConfigured(f"Set {name} or {name}_FILE; see docs/configuration.md.")
    return default


def env_header(name: str) -> str | None:
    """An HTTP header named in ``NAME`` (``X-Forwarded-Proto``) as Django's ``request.META`` key, or None."""
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    if not re.fullmatch(r"[A-Za-z0-9]+(-[A-Za-z0-9]+)*", value):
        raise ImproperlyConfigured(f"{name} must be an HTTP header name such as X-Forwarded-Proto, not {value!r}.")
    return "HTTP_" + value.upper().replace("-", "_")


def database_from_url(url: str) -> dict[str, object]:
    """Django's DATABASES entry for a ``postgresql://user:password@host:port/name`` URL."""
    parsed = urlparse(url)
    if parsed.scheme not in ("postgres", "postgresql") or not parsed.path.strip("/"):
        raise ImproperlyConfigured(f"DATABASE_URL must look like postgresql://user@host:port/name, not {url!r}.")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parsed.path.lstrip("/")),
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": parsed.hostname or "",
        "PORT": str(parsed.port or ""),
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
    }


class GlassboxSettings(TypedDict):
    """``settings.GLASSBOX``: typed so every reader gets the right kind of value."""

    MODEL_PATH: str
    QUANTIZATION: str
    ENGINE: str
    OPENAI_BASE_URL: str
    OPENAI_MODEL: str
    OPENAI_API_KEY: str
    INFERENCE_QUEUE: str
    INFERENCE_ROUTES: dict[str, str]
    CONTEXT_LIMIT: int
    MAX_UPLOAD_BYTES: int
    MAX_DOCUMENTS: int
    PROGRESS_INTERVAL: float
    STALE_AFTER_SECONDS: float
    QUEUED_TOO_LONG_SECONDS: float
    SWEEP_INTERVAL_SECONDS: float
    MAX_ATTEMPTS: int
    SOFT_TIME_LIMIT: int
    HARD_TIME_LIMIT: int
    ENGINE_SLOTS: int
    KV_CACHE_MEMORY: str
    LEDGER_ORIGIN: str
    LEDGER_KEY: str
    CHECKPOINT_INTERVAL_SECONDS: float
    TEST_LOAD_DELAY_SECONDS: float
    TEST_STEP_DELAY_SECONDS: float
    REVIEW_APPROVALS: dict[str, int]
    REVIEW_OVERDUE_HOURS: float
    SIGNING_MAX_FAILURES: int
    SIGNING_LOCK_MINUTES: float
    BASE_URL: str
    NOTIFICATION_RETRIES: int
    NOTIFICATION_RETRY_SECONDS: float
    WORKER_HEARTBEAT_SECONDS: float
    API_MAX_BODY_BYTES: int
    API_RATE: str
    WEBHOOK_RETRIES: int
    WEBHOOK_RETRY_SECONDS: float
    WEBHOOK_TIMEOUT_SECONDS: float
    WEBHOOK_ALLOW: list[str]
    OPENAI_TIMEOUT_SECONDS: float
    REPORT_DIR: str
    REPORT_STALE_AFTER_SECONDS: float
    REPORT_SIGNING_KEY_FILE: str
    REPORT_SIGNING_KEY_PASSWORD: str
    REPORT_SIGNING_CERT_FILE: str
    REPORT_TSA_URL: str
