"""Bring the whole service up on this machine: PostgreSQL, Redis, migrations, demo users, the model
(the tiny TEST model when MAGISTRAL_MODEL_PATH is unset), an inference worker, the control worker, beat
and the web server on http://127.0.0.1:8000, started as docs/operations.md says.
Ctrl-C stops all of it. Data lives under var/demo/ (``GLASSBOX_DEMO_VAR``), with ``env``: the settings every
part runs with, which ``deploy/manage`` loads so that ``manage.py`` commands address this demo."""

from __future__ import annotations

import os
import secrets
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import localservices

ROOT = Path(__file__).resolve().parent.parent
VAR = Path(os.environ.get("GLASSBOX_DEMO_VAR") or ROOT / "var" / "demo").resolve()
PORT = int(os.environ.get("GLASSBOX_DEMO_PORT") or 8000)
PG_PORT = int(os.environ.get("GLASSBOX_DEMO_PG_PORT") or 54329)
REDIS_PORT = int(os.environ.get("GLASSBOX_DEMO_REDIS_PORT") or 63799)
PYTHON = sys.executable
# What deploy/manage must see to address this demo: ours, and any the person set when starting it.
ENV_FILE_PREFIXES = ("GLASSBOX_", "MAGISTRAL_", "DJANGO_", "DATABASE_URL", "REDIS_URL", "HF_", "TRANSFORMERS_")


def prepare_environment() -> dict[str, str]:
    VAR.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["DATABASE_URL"] = localservices.start_postgres(VAR, PG_PORT)
    env["REDIS_URL"] = localservices.start_redis(VAR, REDIS_PORT)
    secret = VAR / "secret_key"
    if not secret.exists():
        secret.write_text(secrets.token_urlsafe(50))
        secret.chmod(0o600)
    env["DJANGO_SECRET_KEY_FILE"] = str(secret)
    env.setdefault("GLASSBOX_LEDGER_ORIGIN", "glassbox.demo/ledger")  # before keygen: it prints the key by name
    ledger_key = VAR / "ledger.key"
    if not ledger_key.exists():
        # Quietly: keygen tells a person to set GLASSBOX_LEDGER_KEY_FILE, which we do next; the key it
        # prints is printed again below, from the running configuration, once the service is up.
        keygen = [PYTHON, str(ROOT / "manage.py"), "ledger_keygen", str(ledger_key)]
        made = subprocess.run(keygen, env=env, capture_output=True, text=True)
        if made.returncode != 0:
            raise SystemExit(f"Making the demo's ledger key failed: {made.stderr.strip() or made.stdout.strip()}")
    env.setdefault("GLASSBOX_LEDGER_KEY_FILE", str(ledger_key))
    report_signing_defaults(env)
    env.setdefault("GLASSBOX_CACHE_DIR", str(VAR / "cache"))
    env.setdefault("GLASSBOX_REPORT_DIR", str(VAR / "reports"))  # the demo's PDF reports stay in its folder
    notification_defaults(env)
    if not env.get("MAGISTRAL_MODEL_PATH"):
        tiny = VAR / "tiny-model"
        if not (tiny / "model.safetensors").exists():
            subprocess.run([PYTHON, "-m", "inference", "make-tiny-model", str(tiny)], check=True, env=env)
        env["MAGISTRAL_MODEL_PATH"] = str(tiny)
        env.setdefault("GLASSBOX_QUANTIZATION", "bf16")
        print(
            f"MAGISTRAL_MODEL_PATH is not set: running the tiny TEST model from {tiny}.\n"
            "Its output is noise, not reasoning, and every page and record says so.",
            flush=True,
        )
    write_env_file(env)
    return env


def report_signing_defaults(env: dict[str, str]) -> None:
    """Reports are signed with a self-signed certificate made here once (the ledger holds it from the first
    export, which is what the verifier trusts); a person's own key and certificate win."""
    key, cert = VAR / "report-signing.key", VAR / "report-signing.crt"
    if not key.exists() and "GLASSBOX_REPORT_SIGNING_KEY_FILE" not in env:
        made = subprocess.run(
            [PYTHON, str(ROOT / "manage.py"), "report_certificate", "generate", str(VAR), "--name", "Glassbox demo"],
            env=env,
            capture_output=True,
            text=True,
        )
        if made.returncode != 0:
            raise SystemExit(
                f"Making the demo's report certificate failed: {made.stderr.strip() or made.stdout.strip()}"
            )
    env.setdefault("GLASSBOX_REPORT_SIGNING_KEY_FILE", str(key))
    env.setdefault("GLASSBOX_REPORT_SIGNING_CERT_FILE", str(cert))


def notification_defaults(env: dict[str, str]) -> None:
    """E-mails are printed on the control worker's log (``logs/control.log``), never sent, and link to this
    demo's own address; a person's own settings win."""
    env.setdefault("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
    env.setdefault("GLASSBOX_BASE_URL", f"http://127.0.0.1:{PORT}")


def write_env_file(env: dict[str, str]) -> None:
    """``var/demo/env``: one ``export NAME=value`` per setting, shell-quoted, readable by its owner only."""
    names = sorted(name for name in env if name.startswith(ENV_FILE_PREFIXES) and name != "GLASSBOX_DEMO_VAR")
    lines = [f"export {name}={shlex.quote(env[name])}" for name in names]
    target = VAR / "env"
    target.touch(mode=0o600)
    target.chmod(0o600)
    target.write_text("# Written by deploy/demo at each start; deploy/manage loads it.\n" + "\n".join(lines) + "\n")


def service_commands() -> dict[str, list[str]]:
    """The parts docs/operations.md runs in production, with the same options (plus log level and beat's
    schedule file under var/demo): web, one inference worker, the control worker and beat."""
    celery = [PYTHON, "-m", "celery", "-A", "audit_app"]
    return {
        "web": [
            *[PYTHON, "-m", "gunicorn", "audit_app.wsgi", "-b", f"127.0.0.1:{PORT}", "-w", "2"],
            *["-k", "gthread", "--threads", "8", "--timeout", "120"],
        ],
        "inference": [
            *[*celery, "worker", "-Q", "inference", "-P", "threads", "-c", "16", "--prefetch-multiplier", "1"],
            *["-n", "inference0@%h", "--loglevel=INFO"],
        ],
        "control": [*celery, "worker", "-Q", "control", "-c", "2", "-n", "control@%h", "--loglevel=INFO"],
        "beat": [*celery, "beat", "--loglevel=INFO", "--schedule", str(VAR / "beat-schedule")],
    }


def _stop_on_sigterm(*_: object) -> None:
    raise KeyboardInterrupt  # Ctrl-C, a plain kill or a closed terminal all shut down the same way


def main() -> None:
    # Both explicitly: a shell that starts us in the background hands SIGINT down as ignored.
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    signal.signal(signal.SIGINT, _stop_on_sigterm)
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:  # whatever fails after PostgreSQL or Redis started, the finally below stops them
        env = prepare_environment()
        processes = start_parts(env)
        logs = VAR / "logs"
        while all(process.poll() is None for process in processes.values()):
            time.sleep(0.5)
        stopped = [name for name, process in processes.items() if process.poll() is not None]
        print(f"{', '.join(stopped)} stopped; see {logs}. Shutting the rest down.", file=sys.stderr)
    except KeyboardInterrupt:
        print("\nStopping…", flush=True)
    except subprocess.CalledProcessError as error:
        print(f"`{' '.join(error.cmd[1:3])}` failed (exit {error.returncode}); see above.", file=sys.stderr)
        raise SystemExit(1) from None
    finally:
        for process in processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        localservices.stop_redis(VAR, REDIS_PORT)
        localservices.stop_postgres(VAR)


def start_parts(env: dict[str, str]) -> dict[str, subprocess.Popen[bytes]]:
    """Migrate, collect static files, seed the demo users, start every part and say how to reach them."""
    manage = [PYTHON, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], check=True, env=env, cwd=ROOT)
    subprocess.run([*manage, "collectstatic", "--noinput", "-v0"], check=True, env=env, cwd=ROOT)
    subprocess.run([*manage, "seed_demo"], check=True, env=env, cwd=ROOT)
    logs = VAR / "logs"
    logs.mkdir(exist_ok=True)
    processes = {
        name: subprocess.Popen(
            command,
            env=env,
            cwd=ROOT,
            start_new_session=True,
            stdout=(logs / f"{name}.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        for name, command in service_commands().items()
    }
    public_key = subprocess.run(
        [*manage, "ledger_public_key"], check=True, env=env, cwd=ROOT, capture_output=True, text=True
    ).stdout
    (VAR / "ledger.vkey").write_text(public_key.strip() + "\n")
    # The key the running parts sign with (their settings, their key file), never one computed before them.
    print(f"Ledger verifier key for auditors (also in {VAR / 'ledger.vkey'}):\n  {public_key.strip()}", flush=True)
    print(f"manage.py commands against this demo: deploy/manage COMMAND (settings in {VAR / 'env'}).", flush=True)
    print(f"Glassbox is up on http://127.0.0.1:{PORT} (logs in {logs}). Ctrl-C stops everything.", flush=True)
    return processes


if __name__ == "__main__":
    main()
