"""Ledger benchmark: append throughput (1 and 8 writers), inclusion-proof latency at a large tree, full
verification speed with and without record checks, and bytes stored per entry, on a fresh database under
var/bench-ledger. The log beyond the appends is realistic evidence of every kind (``bench_evidence``).
Usage: .venv/bin/python deploy/bench_ledger.py [--entries 1000000] [--write docs/benchmarks.md] [--keep] [--reuse]

``--keep`` leaves the database and its server up; ``--reuse`` measures verification again on the kept
database (the build's figures, appends included, are read back from where the build saved them), so
verification can be re-measured without the ten-minute build."""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import localservices

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench-ledger"
PORT = int(os.environ.get("GLASSBOX_BENCH_PG_PORT", "54350"))
START, END = "<!-- ledger-bench:start -->", "<!-- ledger-bench:end -->"


BUILT = VAR / "built.json"  # the build's figures, for ``--reuse``


def setup(reuse: bool = False) -> None:
    VAR.mkdir(parents=True, exist_ok=True)
    url = localservices.start_postgres(VAR, PORT)
    if reuse:
        _environ(url)
        return
    localservices.fresh_database(PORT, "ledger_bench")
    BUILT.unlink(missing_ok=True)
    _environ(url)


def _environ(url: str) -> None:
    key = VAR / "ledger.key"
    if not key.exists():
        sys.path.insert(0, str(ROOT))
        from audit_app.ledger.signed_note import generate_key_file

        generate_key_file(key)
    os.environ.update(
        {
            "DATABASE_URL": url.rsplit("/", 1)[0] + "/ledger_bench",
            "DJANGO_SECRET_KEY": "bench",
            "DJANGO_SETTINGS_MODULE": "audit_app.settings",
            "GLASSBOX_LEDGER_KEY_FILE": str(key),
            "GLASSBOX_LEDGER_ORIGIN": "bench/ledger",
        }
    )


def _writer(worker: int, per_writer: int, barrier: Any) -> None:
    import django

    sys.path.insert(0, str(ROOT))
    django.setup()
    from django.db import connection, transaction

    from audit_app.ledger import log

    connection.ensure_connection()
    barrier.wait()
    for item in range(per_writer):
        with transaction.atomic():
            log.append("bench", f"w{worker}:{item}", {"worker": worker, "item": item, "note": "x" * 64})


def appends(writers: int, per_writer: int) -> float:
    """Entries per second for ``writers`` processes (as web and worker processes write), each entry
    in its own transaction; start-up is outside the timing."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(writers + 1)
    processes = [context.Process(target=_writer, args=(n, per_writer, barrier)) for n in range(writers)]
    for process in processes:
        process.start()
    barrier.wait()
    started = time.perf_counter()
    for process in processes:
        process.join()
    return writers * per_writer / (time.perf_counter() - started)


def machine_description(connection: Any) -> str:
    """CPU model and cores (lscpu), memory, and the PostgreSQL server version, for the figures' context."""
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    fields = dict(line.split(":", 1) for line in cpu.splitlines() if ":" in line)
    model = fields.get("Model name", "unknown CPU").strip()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    return (
        f"{model}, {os.cpu_count()} CPU cores (load average {os.getloadavg()[0]:.1f} when measured), {memory:.0f} GiB, "
        f"PostgreSQL {version} on local disk (fsync on)"
    )


def proof_latencies(size: int, samples: int) -> list[float]:
    from audit_app.ledger import log, merkle

    rng, timings = random.Random(0), []
    for _ in range(samples):
        index = rng.randrange(size)
        started = time.perf_counter()
        merkle.inclusion_proof(index, size, log.fetch_nodes)
        timings.append(time.perf_counter() - started)
    return sorted(timings)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--write", type=Path)
    parser.add_argument("--keep", action="store_true", help="leave the database and its server up")
    parser.add_argument("--reuse", action="store_true", help="only verify again, on the database --keep left")
    args = parser.parse_args()
    setup(args.reuse)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import bench_evidence
    from django.core.management import call_command
    from django.db import connection

    from audit_app.ledger.signer import public_verifier_key, sign_now
    from audit_app.ledger.verify import verify_ledger

    if args.reuse:
        built = json.loads(BUILT.read_text())
    else:
        call_command("migrate", verbosity=0)
        one = appends(1, 3000)
        eight = appends(8, 1000)
        started = time.perf_counter()
        jobs = bench_evidence.load(args.entries)
        load_seconds = time.perf_counter() - started
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")  # as autovacuum leaves a settled database
        sign_now()
        latencies = proof_latencies(args.entries, 1000)
        built = {
            "one": one,
            "eight": eight,
            "jobs": jobs,
            "load_seconds": load_seconds,
            "latencies": latencies,
            "entries": args.entries,
        }
        BUILT.write_text(json.dumps(built))
    one, eight, jobs, load_seconds = built["one"], built["eight"], built["jobs"], built["load_seconds"]
    latencies, entries = built["latencies"], built["entries"]
    plain = verify_ledger(public_verifier_key(), check_records=False)
    report = verify_ledger(public_verifier_key())
    assert plain.ok, plain.summary()
    assert report.ok, report.summary()
    machine = machine_description(connection)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_total_relation_size('audit_app_ledgerentry') + pg_total_relation_size('audit_app_ledgernode')"
        )
        stored = cursor.fetchone()[0]
    ms = 1000
    text = "\n".join(
        [
            START,
            f"Machine: {machine}; {report.entries:,} entries: the first 11,000 by appends (benchmark entries of "
            f"kind `bench`, no rows), the rest {jobs:,} jobs of realistic evidence (per job a submission with one "
            "document, a run record of 300 prompt and 400 output tokens, six views; a suspend/resume pair every 500 "
            "jobs, a verification every 1,000), rows and entries built by the services' own record and payload code "
            f"and loaded with COPY in {load_seconds:.0f} s.",
            "",
            "| measure | result | target |",
            "|---|---|---|",
            f"| append throughput, 1 writer process (one transaction per entry) | {one:,.0f} entries/s | |",
            f"| append throughput, 8 concurrent writer processes | {eight:,.0f} entries/s | >= 1,000 entries/s |",
            f"| inclusion proof at {entries:,} entries, p50 / p95 (1,000 random leaves) | "
            f"{latencies[500] * ms:.2f} / {latencies[950] * ms:.2f} ms | < 5 ms |",
            f"| verification WITHOUT record checks (leaves, checkpoint, stored nodes) | "
            f"{plain.entries / plain.seconds:,.0f} entries/s ({plain.seconds:.1f} s) | >= 100,000 entries/s |",
            f"| verification WITH record checks (also every row against its entry, every hash column, every "
            f"evidence row has its entry) | {report.entries / report.seconds:,.0f} entries/s ({report.seconds:.1f} s) "
            "| >= 50,000 entries/s |",
            f"| bytes stored per entry (entries + nodes, with indexes) | {stored / report.entries:,.0f} B | |",
            END,
        ]
    )
    print(text)
    if args.write:
        from inference.bench.report import write_section

        write_section(args.write, text, START, END)
    if not args.keep:
        localservices.stop_postgres(VAR)


if __name__ == "__main__":
    main()
