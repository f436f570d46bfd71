"""Loaded with ``-p`` before Django is configured: starts PostgreSQL and Redis under ``var/test`` and
builds the tiny test model, then points the settings at them. Stops both when the run ends, passed or
failed (and on SIGTERM), so a run leaves no server behind.

Ports: ``GLASSBOX_TEST_PG_PORT`` / ``GLASSBOX_TEST_REDIS_PORT`` when set, else a free port per run, so two
clones never meet on one port. A server this clone did not start is never used (deploy/localservices.py).

Real services, never fakes: the integration tests talk to the same PostgreSQL, Redis and Celery
worker processes the product uses.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = Path(os.environ.get("GLASSBOX_TEST_VAR", ROOT / "var" / "test"))

sys.path.insert(0, str(ROOT / "deploy"))
import localservices  # noqa: E402

from inference.loading import force_offline  # noqa: E402
from inference.tiny_model import make_tiny_model  # noqa: E402

PG_PORT = int(os.environ.get("GLASSBOX_TEST_PG_PORT") or localservices.free_port())
REDIS_PORT = int(os.environ.get("GLASSBOX_TEST_REDIS_PORT") or localservices.free_port())
_STARTER = os.getpid()  # only the process that started the servers stops them


def stop_services() -> None:
    if os.getpid() != _STARTER:
        return
    localservices.stop_redis(VAR, REDIS_PORT)
    localservices.stop_postgres(VAR)


def pytest_unconfigure() -> None:
    stop_services()


def _stop_on_sigterm(*_: object) -> None:
    raise SystemExit(143)  # unwinds through pytest's session end and atexit, which stop the servers


force_offline()
VAR.mkdir(parents=True, exist_ok=True)
TINY_MODEL = VAR / "tiny-model"
if not (TINY_MODEL / "model.safetensors").exists():
    make_tiny_model(TINY_MODEL)

atexit.register(stop_services)  # also covers a start that fails half-way (Redis refused after PostgreSQL)
signal.signal(signal.SIGTERM, _stop_on_sigterm)
os.environ["REDIS_URL"] = localservices.start_redis(VAR, REDIS_PORT)
os.environ["DATABASE_URL"] = localservices.start_postgres(VAR, PG_PORT, fast=True)
os.environ["DJANGO_SETTINGS_MODULE"] = "audit_app.settings"
os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key-not-for-production")
os.environ["MAGISTRAL_MODEL_PATH"] = str(TINY_MODEL)
os.environ.setdefault("GLASSBOX_CACHE_DIR", str(VAR / "cache"))
# Quick failure detection in tests; production keeps minutes, not seconds.
os.environ.setdefault("GLASSBOX_STALE_AFTER_SECONDS", "4")
os.environ.setdefault("GLASSBOX_QUEUED_TOO_LONG_SECONDS", "2")
os.environ.setdefault("GLASSBOX_SWEEP_INTERVAL_SECONDS", "1")
os.environ.setdefault("GLASSBOX_PROGRESS_INTERVAL", "0.2")
os.environ.setdefault("GLASSBOX_QUANTIZATION", "bf16")
LEDGER_KEY = VAR / "ledger.key"
if not LEDGER_KEY.exists():
    from audit_app.ledger.signed_note import generate_key_file

    generate_key_file(LEDGER_KEY)
os.environ.setdefault("GLASSBOX_LEDGER_KEY_FILE", str(LEDGER_KEY))
os.environ.setdefault("GLASSBOX_LEDGER_ORIGIN", "glassbox.test/ledger")
os.environ.setdefault("GLASSBOX_REPORT_DIR", str(VAR / "reports"))  # never the checkout's var/reports
# The organisation's report-signing key and certificate, self-signed for the tests (as the demo's are).
REPORT_KEY_DIR = VAR / "report-signing"
if not (REPORT_KEY_DIR / "report-signing.crt").exists():
    from audit_app.services.report_keys import generate_certificate

    generate_certificate(REPORT_KEY_DIR, "Glassbox test organisation report signing")
os.environ.setdefault("GLASSBOX_REPORT_SIGNING_KEY_FILE", str(REPORT_KEY_DIR / "report-signing.key"))
os.environ.setdefault("GLASSBOX_REPORT_SIGNING_CERT_FILE", str(REPORT_KEY_DIR / "report-signing.crt"))
