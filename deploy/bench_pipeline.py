"""Pipeline benchmark: queue latency (submit → the worker starts generating) and the service's overhead
as a share of generation time, for N jobs on the tiny model, through real PostgreSQL, Redis and a Celery
worker. Usage: .venv/bin/python deploy/bench_pipeline.py [--jobs 50] [--write docs/benchmarks.md]"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import localservices

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench"
START, END = "<!-- pipeline-bench:start -->", "<!-- pipeline-bench:end -->"


def environment() -> dict[str, str]:
    VAR.mkdir(parents=True, exist_ok=True)
    tiny = VAR / "tiny-model"
    if not (tiny / "model.safetensors").exists():
        subprocess.run([sys.executable, "-m", "inference", "make-tiny-model", str(tiny)], check=True)
    return {
        "DATABASE_URL": localservices.start_postgres(VAR, 54340),
        "REDIS_URL": localservices.start_redis(VAR, 63810),
        "DJANGO_SECRET_KEY": "bench-only",
        "MAGISTRAL_MODEL_PATH": str(tiny),
        "GLASSBOX_QUANTIZATION": "bf16",
        "GLASSBOX_CACHE_DIR": str(VAR / "cache"),
        "DJANGO_SETTINGS_MODULE": "audit_app.settings",
    }


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    os.environ.update(environment())
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from audit_app.models import Job, Team
    from audit_app.services.submission import submit_job
    from inference import GenerationSettings
    from inference.provenance import device_description

    call_command("migrate", verbosity=0)
    user, _ = User.objects.get_or_create(username="bench")
    team, _ = Team.objects.get_or_create(name="Bench")
    team.members.add(user)
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "audit_app",
            "worker",
            "-Q",
            "inference,celery",
            "-c",
            "1",
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=dict(os.environ),
        stdout=(VAR / "worker.log").open("ab"),
        stderr=subprocess.STDOUT,
    )
    settings = GenerationSettings(thinking_budget=256, answer_budget=256, seed=0)
    latencies, overheads, shares, generation = [], [], [], []
    try:
        for index in range(args.jobs + 1):  # the first job warms the worker up and is not counted
            submitted = time.time()
            job = submit_job(user, team, "BENCH-1", "legal", "Is a verbal contract binding?", generation=settings)
            while not Job.objects.filter(pk=job.pk, status__in=Job.FINISHED).exists():
                time.sleep(0.005)
            job.refresh_from_db()
            timings = job.run.timings
            assert job.finished_at is not None
            total = job.finished_at.timestamp() - submitted
            if index == 0:
                continue
            latencies.append(timings["started_at_unix"] - submitted)
            generation.append(timings["generation_seconds"])
            overheads.append(total - timings["generation_seconds"])
            shares.append((total - timings["generation_seconds"]) / timings["generation_seconds"])
    finally:
        worker.terminate()
        worker.wait()
        localservices.stop_redis(VAR, 63810)
        localservices.stop_postgres(VAR)
    ms = 1000
    rows = [
        "| measure | p50 | p95 | target |",
        "|---|---|---|---|",
        f"| queue latency (submit → generation starts) | {percentile(latencies, 0.5) * ms:.1f} ms | "
        f"{percentile(latencies, 0.95) * ms:.1f} ms | p50 < 50 ms |",
        f"| service overhead per job (total - generation) | {percentile(overheads, 0.5) * ms:.1f} ms | "
        f"{percentile(overheads, 0.95) * ms:.1f} ms | |",
        f"| overhead as a share of generation time | {percentile(shares, 0.5) * 100:.1f} % | "
        f"{percentile(shares, 0.95) * 100:.1f} % | < 5 % |",
        f"| generation time per job | {percentile(generation, 0.5) * ms:.0f} ms | "
        f"{percentile(generation, 0.95) * ms:.0f} ms | |",
    ]
    text = "\n".join(
        [
            START,
            f"Machine: {device_description()['name']}, {os.cpu_count()} CPU cores; {args.jobs} jobs one "
            f"after another (plus one warm-up), tiny test model in bf16, budgets 256/256, progress written every "
            f"{os.environ.get('GLASSBOX_PROGRESS_INTERVAL', '1.0')} s; mean overhead share "
            f"{statistics.mean(shares) * 100:.1f} %.",
            "",
            *rows,
            END,
        ]
    )
    print(text)
    if args.write:
        from inference.bench.report import write_section

        write_section(args.write, text, START, END)


if __name__ == "__main__":
    main()
