"""A report fetches nothing the model's text names, and a job whose evidence does not check out gets no report
and leaves nothing behind (no export event in the ledger)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.contrib.auth.models import User

from audit_app.models import AccessEvent, Job, LedgerEntry
from audit_app.services.report_content import ReportRefused
from audit_app.services.report_pdf import archival_pdf
from audit_app.services.reports import produce_report
from tests.ledger.insider import superuser
from tests.reports.rendering import AT, job_with_text, text

pytestmark = pytest.mark.django_db


@pytest.fixture
def listener() -> Iterator[tuple[int, list[str]]]:
    """A live HTTP server on a port the OS picks; every request it gets is listed."""
    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            del args

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], requests
    finally:
        server.shutdown()
        server.server_close()


def test_a_model_answer_naming_a_live_host_makes_no_request(analyst: User, listener: tuple[int, list[str]]) -> None:
    port, requests = listener
    url = f"http://127.0.0.1:{port}"
    answer = f'![chart]({url}/img.png?d=SECRET) and [a link]({url}/page) and <img src="{url}/raw.png"> <{url}/auto>'
    job = job_with_text(analyst, answer=answer)
    report = produce_report(job, analyst)
    assert f"[image: chart — {url}/img.png?d=SECRET]" in " ".join(text(report.pdf).split())
    assert requests == []


def test_the_pdf_renderer_itself_fetches_only_the_reports_own_files(listener: tuple[int, list[str]]) -> None:
    """Behind the inert Markdown: HTML that does name remote and other local resources still fetches none."""
    port, requests = listener
    url = f"http://127.0.0.1:{port}"
    html = (
        f'<html lang="en"><head><link rel="stylesheet" href="{url}/style.css"><link rel="stylesheet" href="report.css">'
        f"<style>@import url({url}/more.css); body {{ background: url({url}/bg.png) }}</style></head>"
        f'<body><img src="{url}/img.png"><img src="file:///etc/passwd"><section>Body text</section>'
        "<section>Second section</section></body></html>"
    )
    pdf = archival_pdf(
        html,
        base_url=str(settings.BASE_DIR / "templates" / "report"),
        bundle=b"{}",
        record_sha256="ab" * 32,
        test_model=True,
        exported_at=AT,
    )
    assert requests == []
    assert "Body text" in text(pdf)
    # report.css, the report's own file, was read: it starts each section on a new page.
    assert "Second section" in text(pdf, 2)
    assert "Second section" not in text(pdf, 1)


def test_a_job_whose_evidence_does_not_check_out_gets_no_report_and_no_export_event(analyst: User) -> None:
    job = job_with_text(analyst)
    superuser("audit_app_runrecord", "UPDATE audit_app_runrecord SET answer = %s WHERE id = %s", "edited", job.run.pk)
    entries, exports = LedgerEntry.objects.count(), AccessEvent.objects.count()
    with pytest.raises(ReportRefused) as refused:
        produce_report(Job.objects.get(pk=job.pk), analyst)  # as the task reads it: the row as stored now
    message = str(refused.value)
    assert message.startswith(f"No report for job {job.pk}: its evidence does not check out (")
    assert "differs from its ledger entry" in message
    assert message.count(".") == 1
    assert LedgerEntry.objects.count() == entries
    assert AccessEvent.objects.count() == exports
