"""Pipeline benchmark, tiny model, real PostgreSQL, Redis and ONE inference worker process:

- queue latency (submit → the worker starts generating) and the service's overhead as a share of generation
  time, for ``--jobs`` jobs one after another;
- the concurrency sweep (``--sweep 1,4,16,32``): that many jobs kept in flight at once through the whole
  service, aggregate generated tokens/s and p50/p95 job latency (submit → run recorded); and the same sweep
  through ``Engine.generate`` from threads in this process, with no service, so the service's share shows.

Usage: .venv/bin/python deploy/bench_pipeline.py [--jobs 50] [--sweep 1,4,16,32] [--write docs/benchmarks.md]"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import localservices

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench"
START, END = "<!-- pipeline-bench:start -->", "<!-- pipeline-bench:end -->"
PG_PORT = int(os.environ.get("GLASSBOX_BENCH_PG_PORT", "54340"))
REDIS_PORT = int(os.environ.get("GLASSBOX_BENCH_REDIS_PORT", "63810"))
# The inference worker as docs/operations.md runs it (one process, a thread per job, the engine batching them),
# with as many threads and engine slots as the largest sweep point (-c must equal GLASSBOX_ENGINE_SLOTS).
SLOTS = 32
WORKER = [
    "-A",
    "audit_app",
    "worker",
    "-Q",
    "inference",
    "-P",
    "threads",
    "-c",
    str(SLOTS),
    "--prefetch-multiplier",
    "1",
]
WORKER_ENV = {"GLASSBOX_ENGINE_SLOTS": str(SLOTS)}
# Fixed budgets so every sweep point generates comparable work: at most 96 thinking and 32 answer tokens.
SWEEP_BUDGETS = {"thinking_budget": 96, "answer_budget": 32}
QUESTION = "Is a verbal contract binding?"


def environment() -> dict[str, str]:
    VAR.mkdir(parents=True, exist_ok=True)
    tiny = VAR / "tiny-model"
    if not (tiny / "model.safetensors").exists():
        subprocess.run([sys.executable, "-m", "inference", "make-tiny-model", str(tiny)], check=True)
    return {
        "DATABASE_URL": localservices.start_postgres(VAR, PG_PORT),
        "REDIS_URL": localservices.start_redis(VAR, REDIS_PORT),
        "DJANGO_SECRET_KEY": "bench-only",
        "MAGISTRAL_MODEL_PATH": str(tiny),
        "GLASSBOX_QUANTIZATION": "bf16",
        "GLASSBOX_CACHE_DIR": str(VAR / "cache"),
        "DJANGO_SETTINGS_MODULE": "audit_app.settings",
        # One torch thread per process: on a small shared machine, OpenMP's spinning threads made every engine
        # step many times slower whenever another process held a core (measured 3 vs 70 tokens/s at 1 job).
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
    }


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


class SweepPoint:
    """One concurrency level: each job's (latency seconds, generated tokens), and the wall time of them all."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self.jobs: list[tuple[float, int]] = []
        self.wall = 0.0
        self.shared = 0

    @property
    def tokens_per_second(self) -> float:
        return sum(tokens for _, tokens in self.jobs) / self.wall

    def row(self, base: float) -> str:
        latencies = [latency for latency, _ in self.jobs]
        tokens = sum(count for _, count in self.jobs) / len(self.jobs)
        return (
            f"| {self.concurrency} | {len(self.jobs)} | {tokens:.0f} | {self.tokens_per_second:.0f} | "
            f"{self.tokens_per_second / base:.2f}x | {percentile(latencies, 0.5):.2f} s | "
            f"{percentile(latencies, 0.95):.2f} s | {self.shared}/{len(self.jobs)} |"
        )


def closed_loop(concurrency: int, total: int, run_one: Callable[[int], tuple[float, int, bool]]) -> SweepPoint:
    """``concurrency`` threads, each running jobs back to back until ``total`` are done: always that many in flight."""
    point = SweepPoint(concurrency)
    counter = iter(range(total))
    lock = threading.Lock()

    def client() -> None:
        while True:
            with lock:
                index = next(counter, None)
            if index is None:
                return
            latency, tokens, shared = run_one(index)
            with lock:
                point.jobs.append((latency, tokens))
                point.shared += shared

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    point.wall = time.perf_counter() - started
    print(f"{concurrency} at once: {len(point.jobs)} jobs, {point.tokens_per_second:.0f} tokens/s", flush=True)
    return point


def jobs_for(concurrency: int) -> int:
    return max(8, 3 * concurrency)


def sweep_table(points: list[SweepPoint]) -> list[str]:
    base = points[0].tokens_per_second
    return [
        "| concurrent jobs | jobs | tokens/job | aggregate tokens/s | vs 1 job | p50 latency | p95 latency "
        "| shared batches |",
        "|---|---|---|---|---|---|---|---|",
        *(point.row(base) for point in points),
    ]


def engine_sweep(levels: list[int]) -> list[SweepPoint]:
    """The same closed loop through ``Engine.generate`` from threads, in this process: no Django, no Celery."""
    from inference import Engine, GenerationSettings, ReasoningRequest
    from inference.batching import BatchSettings

    engine = Engine.load(os.environ["MAGISTRAL_MODEL_PATH"], "bf16", batch=BatchSettings(slots=SLOTS))

    def run_one(index: int) -> tuple[float, int, bool]:
        settings = GenerationSettings(seed=index, **SWEEP_BUDGETS)
        started = time.perf_counter()
        result = engine.generate(ReasoningRequest("legal", QUESTION, settings=settings), lambda progress: None)
        return time.perf_counter() - started, result.generated_tokens, result.provenance["engine"]["shared_batches"]

    closed_loop(2, 4, run_one)  # warm-up: the batching engine starts and allocates its cache
    points = [closed_loop(level, jobs_for(level), run_one) for level in levels]
    engine.batch_engine().stop()
    return points


def service_sweep(levels: list[int], user: Any, team: Any) -> list[SweepPoint]:
    from django.db import connection

    from audit_app.models import Job
    from audit_app.services.submission import submit_job
    from inference import GenerationSettings

    def run_one(index: int) -> tuple[float, int, bool]:
        settings = GenerationSettings(seed=index, **SWEEP_BUDGETS)
        try:
            started = time.time()
            job = submit_job(user, team, "BENCH-2", "legal", f"{QUESTION} ({index})", generation=settings)
            while not Job.objects.filter(pk=job.pk, status__in=Job.FINISHED).exists():
                time.sleep(0.05)  # 32 clients polling every 10 ms would take a core from the worker
            job.refresh_from_db()
            assert job.status == Job.SUCCEEDED, f"job {job.pk} ended {job.status}: {job.error}"
            assert job.finished_at is not None
            shared = bool(job.run.provenance.get("engine", {}).get("shared_batches"))
            return job.finished_at.timestamp() - started, job.run.generated_tokens, shared
        finally:
            connection.close()  # each client thread has its own connection

    closed_loop(2, 4, run_one)  # warm-up
    return [closed_loop(level, jobs_for(level), run_one) for level in levels]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--sweep", type=lambda text: [int(n) for n in text.split(",")], default=[1, 4, 16, 32])
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    os.environ.update(environment())
    engine_points = engine_sweep(args.sweep)
    print("\n".join(sweep_table(engine_points)), flush=True)
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
        [sys.executable, "-m", "celery", *WORKER, "--loglevel=WARNING", "--without-gossip", "--without-mingle"],
        cwd=ROOT,
        env=dict(os.environ) | WORKER_ENV,
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
        service_points = service_sweep(args.sweep, user, team)
    finally:
        worker.terminate()
        worker.wait()
        localservices.stop_redis(VAR, REDIS_PORT)
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
            f"{statistics.mean(shares) * 100:.1f} %. Worker: `celery {' '.join(WORKER)}` with "
            f"{' '.join(f'{k}={v}' for k, v in WORKER_ENV.items())}.",
            "",
            *rows,
            "",
            f"Concurrency sweep through the whole service (submit → run recorded; budgets "
            f"{SWEEP_BUDGETS['thinking_budget']}/{SWEEP_BUDGETS['answer_budget']}, sampled, a different seed per "
            f"job; each level keeps that many jobs in flight until {', '.join(str(jobs_for(n)) for n in args.sweep)} "
            "are done). Target: 16 jobs at >= 4x the aggregate of 1.",
            "",
            *sweep_table(service_points),
            "",
            "The same sweep through `Engine.generate` from threads in one process (no Django, Celery, database "
            "or progress writes): the engine alone.",
            "",
            *sweep_table(engine_points),
            END,
        ]
    )
    print(text)
    if args.write:
        from inference.bench.report import write_section

        write_section(args.write, text, START, END)


if __name__ == "__main__":
    main()
