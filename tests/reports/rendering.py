"""Helpers for report content tests: jobs whose trace/answer are given test input, and the report rendered at a
chosen export time through the product's own export, context, template and PDF steps."""

from __future__ import annotations

import dataclasses
import datetime
import subprocess
import uuid

from django.contrib.auth.models import User

from audit_app.models import Job
from audit_app.services.exports import export_job
from audit_app.services.pipeline import claim_job, reasoning_request, record_run
from audit_app.services.reports import render_report
from tests.factories import JobFactory, engine

AT = datetime.datetime(2026, 11, 25, 1, 2, 3, tzinfo=datetime.UTC)


def job_with_text(submitter: User, thinking: str | None = None, answer: str | None = None, **job: object) -> Job:
    """A job the tiny test model ran, its trace and/or answer replaced by test input before ``record_run`` stores
    it (the run stays marked TEST MODEL): layout tests of Markdown, math and long traces, never model output."""
    submitted = JobFactory(submitter=submitter, **job)
    token = uuid.uuid4()
    claimed = claim_job(submitted.pk, token)
    assert claimed is not None
    result = engine().generate(reasoning_request(claimed))
    if thinking is not None:
        result = dataclasses.replace(result, thinking=thinking, thinking_blocks=(thinking,))
    if answer is not None:
        result = dataclasses.replace(result, answer=answer)
    assert record_run(submitted.pk, token, result) is not None
    return Job.objects.select_related("submission", "run").get(pk=submitted.pk)


def render(job: Job, bundle: bytes, at: datetime.datetime = AT) -> tuple[str, bytes]:
    """The report's HTML and its unsigned PDF for ``bundle`` exported at ``at``."""
    rendered = render_report(job, bundle, at)  # the production path, less the export and the signature
    return rendered.html, rendered.pdf


def exported(job: Job, actor: User) -> bytes:
    return export_job(job, actor)


def text(pdf: bytes, page: int | None = None) -> str:
    pages = ["-f", str(page), "-l", str(page)] if page else []
    command = ["pdftotext", "-layout", *pages, "-", "-"]
    return subprocess.run(command, input=pdf, capture_output=True, check=True).stdout.decode()


def pages(pdf: bytes) -> list[str]:
    """Each page's text, from one pdftotext run (it ends every page with a form feed)."""
    return text(pdf).split("\f")[:-1]


def page_count(pdf: bytes) -> int:
    info = subprocess.run(["pdfinfo", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
