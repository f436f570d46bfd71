"""API benchmark: requests/s and p50/p99 latency of GET job and POST job under gunicorn as docs/operations.md
runs it (`-w 2 -k gthread --threads 8`), driven by wrk from a second process, and the queries per request.
Usage: .venv/bin/python deploy/bench_api.py [--seconds 15] [--connections 16] [--workers 2] [--write docs/benchmarks.md]

Needs wrk (Debian: apt-get install wrk). Each GET is ledgered as an access (an evidence row and a ledger
append), as every read of a job is; each POST stores a submission, its job and a ledger entry, and queues
the job in Redis (no worker runs, so jobs stay queued).

Three floors are measured in the same run, with the same connections, to show what this machine allows at all:
an unknown path under /api/v1/ (Django routing and a problem+json 404, no DRF, no database), GET
/api/v1/ledger/public-key/ (DRF with the full API key check and the throttle, no ledger append), and the
database work of one GET job alone: pgbench replays the exact statements Django sent for it (captured with
the test client), with no Python at all."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import localservices

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench-api"
START, END = "<!-- api-bench:start -->", "<!-- api-bench:end -->"
PG_PORT, REDIS_PORT = 54360, 63830
GUNICORN = [sys.executable, "-m", "gunicorn", "audit_app.wsgi", "--timeout", "120"]
POST_BODY = {"domain": "legal", "case_reference": "BENCH-1", "question": "Is a verbal contract binding?"}
POST_SCRIPT = """wrk.method = "POST"
wrk.body = '{body}'
wrk.headers["Content-Type"] = "application/json"
"""


def environment() -> dict[str, str]:
    VAR.mkdir(parents=True, exist_ok=True)
    tiny = VAR / "tiny-model"  # submissions render the prompt with the model's tokenizer
    if not (tiny / "model.safetensors").exists():
        subprocess.run([sys.executable, "-m", "inference", "make-tiny-model", str(tiny)], check=True)
    ledger_key = VAR / "ledger.key"  # the public-key floor serves it
    if not ledger_key.exists():
        sys.path.insert(0, str(ROOT))
        from audit_app.ledger.signed_note import generate_key_file

        generate_key_file(ledger_key)
    localservices.start_postgres(VAR, PG_PORT)
    return {
        "DATABASE_URL": localservices.fresh_database(PG_PORT, "api_bench"),
        "REDIS_URL": localservices.start_redis(VAR, REDIS_PORT),
        "DJANGO_SECRET_KEY": "bench-only",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "MAGISTRAL_MODEL_PATH": str(tiny),
        "GLASSBOX_QUANTIZATION": "bf16",
        "GLASSBOX_CACHE_DIR": str(VAR / "cache"),
        "GLASSBOX_LEDGER_KEY_FILE": str(ledger_key),
        "GLASSBOX_API_RATE": "1000000/second",  # the benchmark measures the server, not the throttle
        "DJANGO_SETTINGS_MODULE": "audit_app.settings",
    }


NOT_FOUND = "/api/v1/no-such-operation/"  # the first floor: routing and a problem+json 404
PUBLIC_KEY = "/api/v1/ledger/public-key/"  # the second floor: the API key check, nothing ledgered


def queries_per_request(secret: str, job_id: int) -> tuple[dict[str, int], list[str]]:
    """Queries per request of each kind, and the statements of one GET job as Django sent them."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client, auth = Client(HTTP_HOST="127.0.0.1"), {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    client.get(f"/api/v1/jobs/{job_id}/", **auth)  # warm: the key's last-used write happens once a minute
    with CaptureQueriesContext(connection) as get:
        assert client.get(f"/api/v1/jobs/{job_id}/", **auth).status_code == 200
    with CaptureQueriesContext(connection) as post:
        answer = client.post("/api/v1/jobs/", POST_BODY, content_type="application/json", **auth)
        assert answer.status_code == 201, answer.content
    with CaptureQueriesContext(connection) as missing:
        assert client.get(NOT_FOUND, **auth).status_code == 404
    with CaptureQueriesContext(connection) as key_only:
        assert client.get(PUBLIC_KEY, **auth).status_code == 200
    counts = {
        "get": len(get.captured_queries),
        "post": len(post.captured_queries),
        "not_found": len(missing.captured_queries),
        "public_key": len(key_only.captured_queries),
    }
    return counts, [query["sql"] for query in get.captured_queries]


def pgbench_script(statements: list[str]) -> str:
    """The GET's statements as one pgbench transaction script, as the server receives them per request.

    Django checks a reused connection with ``SELECT 1`` first (CONN_HEALTH_CHECKS, not in the captured list).
    Each replay stamps its access event and ledger entry with ``now()`` and names a subject of its own, as
    requests do; everything else (the key, the job, the payload bytes) is the captured literal text."""
    lines = [r"\set r random(1, 1000000000)", "SELECT 1;"]
    for sql in statements:
        sql = re.sub(r"'[0-9][0-9 :.+-]+'::timestamptz", "now()", sql)
        sql = re.sub(
            r"glassbox_ledger_append\('access', '(access:)\d+'", r"glassbox_ledger_append('access', '\1' || :r", sql
        )
        lines.append(sql.rstrip() + ";")  # pgbench ends a command at its semicolon, over several lines too
    return "\n".join(lines) + "\n"


def pgbench(database_url: str, script: Path, seconds: int, connections: int) -> dict[str, float]:
    """Transactions/s and mean latency of ``script`` replayed by pgbench (simple protocol, as Django sends)."""
    command = [str(localservices.pg_binary("pgbench")), "-n", "-M", "simple", "-j", "2", "-c", str(connections)]
    command += ["-T", str(seconds), "-f", str(script), database_url]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    failed = re.search(r"number of failed transactions: (\d+)", output)
    if failed and int(failed[1]):
        raise SystemExit(f"pgbench replay failed {failed[1]} transactions; it said:\n{output}")
    return {
        "tps": float(re.search(r"tps = ([\d.]+)", output)[1]),  # type: ignore[index]
        "mean": float(re.search(r"latency average = ([\d.]+) ms", output)[1]),  # type: ignore[index]
    }


def wrk(
    url: str, secret: str, seconds: int, connections: int, script: Path | None = None, expect: int = 200
) -> dict[str, float]:
    command = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency"]
    command += ["-H", f"Authorization: Bearer {secret}"]
    if script is not None:
        command += ["-s", str(script)]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    failed = int(non_2xx[1]) if non_2xx else 0
    if expect == 404:  # the floor answers 404 to every request: here a 2xx would be the failure
        failed = int(re.search(r"(\d+) requests in", output)[1]) - failed  # type: ignore[index]
    if failed:
        raise SystemExit(f"{failed} requests did not answer {expect} during the run; wrk said:\n{output}")
    timeouts = re.search(r"Socket errors: .*timeout (\d+)", output)  # wrk gives up on a request after 2 s
    return {
        "timeouts": float(timeouts[1]) if timeouts else 0.0,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1]),  # type: ignore[index]
        "p50": _ms(re.search(r"50%\s+([\d.]+\w+)", output)[1]),  # type: ignore[index]
        "p99": _ms(re.search(r"99%\s+([\d.]+\w+)", output)[1]),  # type: ignore[index]
    }


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _row(request: str, measured: dict[str, float], queries: int, target: str) -> str:
    return (
        f"| {request} | {measured['rps']:,.0f} | {measured['p50']:.1f} ms | {measured['p99']:.1f} ms | "
        f"{measured['timeouts']:,.0f} | {queries} | {target} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed; install it (apt-get install wrk) and run again.")
    os.environ.update(environment())
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    from audit_app.models import Team
    from audit_app.services.api_keys import create_key
    from audit_app.services.submission import submit_job
    from inference.provenance import device_description

    call_command("migrate", verbosity=0)
    team = Team.objects.create(name="Bench")
    new = create_key("Bench", team, "read submit", None, "bench")
    job = submit_job(new.key.user, team, "BENCH-1", "legal", "Is a verbal contract binding?")
    queries, get_statements = queries_per_request(new.secret, job.pk)
    replay = VAR / "get-job.sql"
    replay.write_text(pgbench_script(get_statements))
    port = localservices.free_port()
    web = subprocess.Popen(
        # As docs/operations.md runs it: threaded workers, so waiting facade calls do not block other requests.
        [*GUNICORN, "-b", f"127.0.0.1:{port}", "-w", str(args.workers), "-k", "gthread", "--threads", "8"],
        cwd=ROOT,
        env=dict(os.environ),
        stdout=(VAR / "web.log").open("ab"),
        stderr=subprocess.STDOUT,
    )
    script = VAR / "post.lua"
    script.write_text(POST_SCRIPT.format(body=json.dumps(POST_BODY)))
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            if subprocess.run(["curl", "-sf", "-o", "/dev/null", f"{base}/api/v1/schema/"]).returncode == 0:
                break
            time.sleep(0.2)
        wrk(f"{base}/api/v1/jobs/{job.pk}/", new.secret, 3, args.connections)  # warm both workers
        got = wrk(f"{base}/api/v1/jobs/{job.pk}/", new.secret, args.seconds, args.connections)
        # Each worker loads the tokenizer on its first prompt render: 6-7 s here when one request does it, but 16
        # concurrent first POSTs stalled both workers, GETs included, for over 12 s. Warm up with 2 connections.
        wrk(f"{base}/api/v1/jobs/", new.secret, 10, 2, script)
        for _ in range(5):
            if wrk(f"{base}/api/v1/jobs/", new.secret, 3, args.connections, script)["p99"] < 1000:
                break
        posted = wrk(f"{base}/api/v1/jobs/", new.secret, args.seconds, args.connections, script)
        missing = wrk(f"{base}{NOT_FOUND}", new.secret, args.seconds, args.connections, expect=404)
        key_only = wrk(f"{base}{PUBLIC_KEY}", new.secret, args.seconds, args.connections)
        database = pgbench(os.environ["DATABASE_URL"], replay, args.seconds, args.connections)
    finally:
        web.terminate()
        web.wait()
        localservices.stop_redis(VAR, REDIS_PORT)
        localservices.stop_postgres(VAR)
    load = os.getloadavg()[0]
    text = "\n".join(
        [
            START,
            f"Machine: {device_description()['name']}, {os.cpu_count()} CPU cores (load average {load:.1f} after "
            f"the run); gunicorn `-w {args.workers} -k gthread --threads 8`, PostgreSQL and Redis on the same machine; "
            f"wrk with 2 threads and {args.connections} connections for {args.seconds} s per row, on the same "
            "machine (it shares the cores).",
            "",
            "| request | requests/s | p50 | p99 | timed out (> 2 s, not in p50/p99) | queries per request | target |",
            "|---|---|---|---|---|---|---|",
            _row("GET /api/v1/jobs/{id}/ (ledgered as an access)", got, queries["get"], ">= 500 req/s, p99 < 50 ms"),
            _row("POST /api/v1/jobs/ (stored, ledgered, queued)", posted, queries["post"], ">= 150 req/s"),
            _row("floor: unknown path under /api/v1/ (404 problem+json)", missing, queries["not_found"], "none"),
            _row("floor: GET /api/v1/ledger/public-key/ (key check only)", key_only, queries["public_key"], "none"),
            f"| floor: the database work of one GET job alone (pgbench replaying its statements, no Python) | "
            f"{database['tps']:,.0f} | {database['mean']:.1f} ms (mean) | n/a | n/a | {queries['get'] + 1} | none |",
            END,
        ]
    )
    print(text)
    if args.write:
        from inference.bench.report import write_section

        write_section(args.write, text, START, END)


if __name__ == "__main__":
    main()
