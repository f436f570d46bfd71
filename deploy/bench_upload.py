"""Upload benchmark: wall time and peak memory of refused uploads, through Django's test client (the real
middleware, upload handler, form, view and service), each case in a fresh process on a fresh database.
Usage: .venv/bin/python deploy/bench_upload.py [--write docs/benchmarks.md]"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import localservices

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench-upload"
PORT = int(os.environ.get("GLASSBOX_BENCH_PG_PORT", "54352"))
START, END = "<!-- upload-bench:start -->", "<!-- upload-bench:end -->"
MIB = 1024 * 1024
CASES = {
    "txt-10mib": "10 MiB .txt (at the size limit; refused: cannot fit the context)",
    "txt-over": "10 MiB + 1 byte .txt (refused while reading: over the per-file limit)",
    "pdf-20000": "20,000-page PDF (2.5 MB; refused: page limit)",
    "pdf-bomb": "flate-bomb PDF (100 KB inflating to 100 MiB; refused: stream limit)",
}


def setup() -> None:
    VAR.mkdir(parents=True, exist_ok=True)
    url = localservices.start_postgres(VAR, PORT, fast=True)
    localservices.fresh_database(PORT, "upload_bench")
    sys.path.insert(0, str(ROOT))
    from inference.tiny_model import make_tiny_model

    if not (VAR / "tiny-model" / "model.safetensors").exists():
        make_tiny_model(VAR / "tiny-model")
    os.environ.update(_environment(url.rsplit("/", 1)[0] + "/upload_bench"))


def _environment(database_url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "DJANGO_SECRET_KEY": "bench",
        "DJANGO_SETTINGS_MODULE": "audit_app.settings",
        "MAGISTRAL_MODEL_PATH": str(VAR / "tiny-model"),
        "GLASSBOX_CACHE_DIR": str(VAR / "cache"),
    }


def write_bodies() -> None:
    """The uploads, built once in the parent so that building them never counts in a measurement."""
    from tests.service.hostile_pdfs import flate_bomb, many_pages

    bodies = {
        "txt-10mib": (b"word " * (2 * MIB + 1))[: 10 * MIB],
        "txt-over": b"x" * (10 * MIB + 1),
        "pdf-20000": many_pages(),
        "pdf-bomb": flate_bomb(),
    }
    for case, body in bodies.items():
        (VAR / f"{case}.upload").write_bytes(body)


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def measure(case: str) -> dict[str, Any]:
    """One refused upload in this (fresh) process: seconds, peak RSS, and the sentence shown."""
    import django

    sys.path.insert(0, str(ROOT))
    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.urls import reverse

    from audit_app.models import Submission, Team
    from audit_app.services.prompts import prompt_builder

    setup_test_environment()  # lets the client see the form's errors (and accept "testserver" as a host)
    team, _ = Team.objects.get_or_create(name="Bench")
    user = User.objects.filter(username="bench").first() or User.objects.create_user("bench", password="x")
    user.groups.add(Group.objects.get_or_create(name="analyst")[0])
    team.members.add(user)
    prompt_builder()  # a warm web worker has its tokenizer loaded already
    client = Client()
    client.force_login(user)
    name = "big.txt" if case.startswith("txt") else "document.pdf"
    data = (VAR / f"{case}.upload").read_bytes()
    form = {
        "domain": "legal",
        "case_reference": "B-1",
        "question": "Is it binding?",
        "thinking_budget": 16384,
        "answer_budget": 4096,
        "temperature": 0.7,
        "top_p": 0.95,
        "seed": 0,
        "documents": [SimpleUploadedFile(name, data)],
    }
    Path("/proc/self/clear_refs").write_text("5")  # resets the peak (VmHWM) to the current RSS (Linux >= 4.0)
    before = _status("VmRSS") / MIB
    started = time.perf_counter()
    response = client.post(reverse("job-submit"), form)
    seconds = time.perf_counter() - started
    peak = _status("VmHWM") / MIB
    errors = [e for errs in response.context["form"].errors.values() for e in errs] if response.context else []
    return {
        "case": case,
        "status": response.status_code,
        "seconds": seconds,
        "rss_before_mib": before,
        "peak_rss_mib": peak,
        "sentence": " ".join(errors),
        "stored": Submission.objects.count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--write", type=Path)
    parser.add_argument("--case", choices=CASES, help=argparse.SUPPRESS)  # one measurement, in a child process
    args = parser.parse_args()
    if args.case:
        print(json.dumps(measure(args.case)))
        return
    setup()
    import django

    django.setup()
    from django.core.management import call_command

    from inference.provenance import device_description

    call_command("migrate", verbosity=0)
    write_bodies()
    results = []
    for case in CASES:
        child = subprocess.run([sys.executable, __file__, "--case", case], check=True, capture_output=True, text=True)
        results.append(json.loads(child.stdout.strip().splitlines()[-1]))
        assert results[-1]["stored"] == 0, results[-1]
    rows = [
        f"| {CASES[r['case']]} | {r['status']} | {r['seconds']:.2f} s | {r['peak_rss_mib']:.0f} MiB "
        f"({r['peak_rss_mib'] - r['rss_before_mib']:+.0f}) | {r['sentence']} |"
        for r in results
    ]
    text = "\n".join(
        [
            START,
            f"Machine: {device_description()['name']}, {os.cpu_count()} CPU cores; Django test client in one process "
            "(each case in a fresh process; the client builds the multipart body in that process, so the growth "
            "includes the client's copies of the file); the tiny test model's tokenizer is loaded before the "
            "request, as in a warm web worker. Peak RSS is the whole process (Django, transformers and torch "
            "imported); growth is the peak during the request above the RSS just before it.",
            "",
            "| upload | HTTP | wall time | peak RSS (growth during the request) | sentence on the form |",
            "|---|---|---|---|---|",
            *rows,
            END,
        ]
    )
    print(text)
    if args.write:
        from inference.bench.report import write_section

        write_section(args.write, text, START, END)
    localservices.stop_postgres(VAR)


if __name__ == "__main__":
    main()
