"""Ledger benchmark: append throughput (1 and 8 writers), inclusion-proof latency at a large tree, full
verification speed and bytes stored per entry, on a fresh database under var/bench-ledger.
Usage: .venv/bin/python deploy/bench_ledger.py [--entries 1000000] [--write docs/benchmarks.md]"""

from __future__ import annotations

import argparse
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
PORT = 54350
START, END = "<!-- ledger-bench:start -->", "<!-- ledger-bench:end -->"


def setup() -> None:
    VAR.mkdir(parents=True, exist_ok=True)
    url = localservices.start_postgres(VAR, PORT)
    psql = [str(localservices._pg_bin() / "psql"), "-h", "127.0.0.1", "-p", str(PORT), "-U", "glassbox", "-d",
            "postgres", "-qc"]  # fmt: skip
    subprocess.run([*psql, "DROP DATABASE IF EXISTS ledger_bench"], check=True)
    subprocess.run([*psql, "CREATE DATABASE ledger_bench"], check=True)
    key = VAR / "ledger.key"
    if not key.exists():
        sys.path.insert(0, str(ROOT))
        from audit_app.ledger.checkpoint import generate_key_file

        generate_key_file(key)
    os.environ.update({"DATABASE_URL": url.rsplit("/", 1)[0] + "/ledger_bench", "DJANGO_SECRET_KEY": "bench",
                       "DJANGO_SETTINGS_MODULE": "audit_app.settings", "GLASSBOX_LEDGER_KEY_FILE": str(key),
                       "GLASSBOX_LEDGER_ORIGIN": "bench/ledger"})  # fmt: skip


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


def bulk_load(total: int) -> None:
    """Fill the log to ``total`` entries with COPY, computing leaves and nodes with the ledger's own code."""
    from django.db import connection
    from django.utils import timezone

    from audit_app.ledger import log, merkle
    from audit_app.ledger.canonical import canonical_json
    from audit_app.ledger.verifier import leaf_hash

    start = log.tree_size()
    edge = [(level, (start >> level) - 1) for level in range(start.bit_length()) if (start >> level) & 1]
    nodes: dict[merkle.NodeKey, bytes] = dict(log.fetch_nodes(edge))  # the right edge the bulk load extends
    now = timezone.now()
    with connection.cursor() as cursor:
        with cursor.cursor.copy("COPY audit_app_ledgerentry (sequence, kind, subject, payload, leaf_hash, "
                                "recorded_at) FROM STDIN") as copy:  # fmt: skip
            new_nodes = []
            for sequence in range(start, total):
                payload = canonical_json({"kind": "bench", "subject": f"bulk:{sequence}",
                                          "recorded_at": now.isoformat(), "note": "x" * 64})  # fmt: skip
                leaf = leaf_hash(payload)
                copy.write_row((sequence, "bench", f"bulk:{sequence}", payload, leaf, now))
                completed = merkle.nodes_completed_by(sequence, leaf, lambda keys: {k: nodes[k] for k in keys})
                nodes.update(completed)
                new_nodes.extend(completed.items())
        with cursor.cursor.copy("COPY audit_app_ledgernode (level, index, hash) FROM STDIN") as copy:
            for (level, index), digest in new_nodes:
                copy.write_row((level, index, digest))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE audit_app_ledgerentry; ANALYZE audit_app_ledgernode")
        # COPY went around append(): drop the derived head row so the next lock rebuilds it from the log.
        cursor.execute("DELETE FROM audit_app_ledgerhead")


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
    args = parser.parse_args()
    setup()
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from audit_app.ledger.checkpoints import public_verifier_key, sign_now
    from audit_app.ledger.verify import verify_ledger
    from inference.provenance import device_description

    call_command("migrate", verbosity=0)
    one = appends(1, 3000)
    eight = appends(8, 1000)
    started = time.perf_counter()
    bulk_load(args.entries)
    load_seconds = time.perf_counter() - started
    sign_now()
    latencies = proof_latencies(args.entries, 1000)
    report = verify_ledger(public_verifier_key(), check_records=False)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_total_relation_size('audit_app_ledgerentry') + "
                       "pg_total_relation_size('audit_app_ledgernode')")  # fmt: skip
        stored = cursor.fetchone()[0]
    ms = 1000
    text = "\n".join([
        START,
        f"Machine: {device_description()['name']}, {os.cpu_count()} CPU cores, PostgreSQL 15 on local disk "
        f"(fsync on); {args.entries:,} entries (the first 11,000 by appends, the rest bulk-loaded with COPY in "
        f"{load_seconds:.0f} s, leaves and nodes computed by the ledger's own append step).",
        "",
        "| measure | result | target |",
        "|---|---|---|",
        f"| append throughput, 1 writer process (one transaction per entry) | {one:,.0f} entries/s | |",
        f"| append throughput, 8 concurrent writer processes | {eight:,.0f} entries/s | >= 1,000 entries/s |",
        f"| inclusion proof at {args.entries:,} entries, p50 / p95 (1,000 random leaves) | "
        f"{latencies[500] * ms:.2f} / {latencies[950] * ms:.2f} ms | < 5 ms |",
        f"| full verification (leaves, checkpoint, stored nodes) | {report.entries / report.seconds:,.0f} entries/s "
        f"({report.seconds:.1f} s) | >= 100,000 entries/s |",
        f"| bytes stored per entry (entries + nodes, with indexes) | {stored / report.entries:,.0f} B | |",
        END,
    ])  # fmt: skip
    print(text)
    if args.write:
        from inference.bench.report import write_section

        write_section(args.write, text, START, END)
    localservices.stop_postgres(VAR)


if __name__ == "__main__":
    main()
