"""PDF reports rendered by the real control worker: progress, the atomic file, the ledgered SHA-256, web and API
downloads (each ledgered), a failed render that stores nothing, a stalled render the sweep fails, another team's
404, and clear 4xx answers for a report that is not ready or a job that does not exist."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from audit_app import tasks
from audit_app.celery import app
from audit_app.models import AccessEvent, Job, LedgerEntry, Report, ReportExport, Team
from audit_app.services.api_keys import create_key
from audit_app.services.report_exports import LOST, request_report, temporary_path
from tests.factories import FinishedJobFactory
from tests.people import make_user
from tests.service.processes import start_celery, stop, wait_for

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)


def reports_folder() -> Path:
    return Path(settings.GLASSBOX["REPORT_DIR"])


def finished(report_id: int, timeout: float = 90) -> Report:
    def done() -> Report | None:
        report = Report.objects.get(pk=report_id)
        return report if report.is_finished else None

    return wait_for(done, timeout, f"report {report_id} to finish")  # type: ignore[return-value]


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def bearer(secret: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


@pytest.fixture
def job(analyst: User) -> Job:
    return FinishedJobFactory(submitter=analyst)


def test_the_control_worker_renders_a_report_and_the_web_serves_the_ledgered_file(
    control_worker: subprocess.Popen[bytes], analyst: User, job: Job
):
    web = logged_in(analyst)
    page = web.get(f"/jobs/{job.pk}/")
    assert b'id="export-report"' in page.content  # the button on the job page
    started = time.monotonic()
    response = web.post(f"/jobs/{job.pk}/reports/")
    report = Report.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/reports/{report.pk}/"
    assert b"hx-get" in web.get(f"/reports/{report.pk}/progress/").content or Report.objects.get().is_finished
    report = finished(report.pk)
    elapsed = time.monotonic() - started
    assert report.status == Report.READY, report.error
    assert report.percent == 100
    assert report.finished_at is not None
    assert report.export is not None
    path = Path(report.path)
    assert path.parent == reports_folder()
    assert path.is_file()
    pdf = path.read_bytes()
    export = ReportExport.objects.get()
    assert export == report.export
    assert export.pdf_sha256 == hashlib.sha256(pdf).hexdigest()
    assert export.pdf_size == len(pdf) == report.size
    assert export.presented_record_sha256 == job.run.record_sha256
    assert export.actor == analyst
    assert LedgerEntry.objects.filter(subject=f"report:{export.pk}").count() == 1
    assert not temporary_path(report).exists()
    assert not list(reports_folder().glob(f".*report-{report.pk}*.tmp"))

    # The finished page reloads itself (HX-Refresh) and shows the download and the ledgered hash.
    assert web.get(f"/reports/{report.pk}/progress/")["HX-Refresh"] == "true"
    detail = web.get(f"/reports/{report.pk}/").content.decode()
    assert export.pdf_sha256 in detail
    assert f"/reports/{report.pk}/pdf" in detail
    assert export.pdf_sha256 in web.get(f"/jobs/{job.pk}/").content.decode()  # the job's list of reports

    download = web.get(f"/reports/{report.pk}/pdf")
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["Cache-Control"] == "no-store"
    assert hashlib.sha256(b"".join(download.streaming_content)).hexdigest() == export.pdf_sha256  # type: ignore[attr-defined]
    event = AccessEvent.objects.get(subject=f"report:{export.pk}")
    assert (event.action, event.actor) == (AccessEvent.EXPORT, analyst)
    assert LedgerEntry.objects.filter(subject=f"access:{event.pk}").exists()
    rendered = (report.finished_at - report.started_at).total_seconds()  # type: ignore[operator]
    print(f"report {report.pk}: {len(pdf)} bytes, rendered in {rendered:.2f} s, request to ready {elapsed:.1f} s")


def test_the_api_exports_follows_and_downloads_a_report_with_a_read_key(
    control_worker: subprocess.Popen[bytes], team: Team, job: Job
):
    secret = create_key("Reporting", team, "read", None, "test setup").secret
    api = Client()
    created = api.post(f"/api/v1/jobs/{job.pk}/reports/", **bearer(secret))
    assert created.status_code == 202, created.content
    body = created.json()
    assert created["Location"] == f"/api/v1/reports/{body['id']}/"
    assert body["status"] in ("queued", "rendering", "ready")
    assert body["job"] == job.pk
    finished(body["id"])
    state = api.get(created["Location"], **bearer(secret)).json()
    export = ReportExport.objects.get()
    assert state["status"] == "ready"
    assert state["percent"] == 100
    assert state["sha256"] == export.pdf_sha256
    assert state["ledger_subject"] == f"report:{export.pk}"
    assert state["download_url"] == f"/api/v1/reports/{body['id']}/pdf"
    download = api.get(state["download_url"], HTTP_ACCEPT="application/pdf", **bearer(secret))
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"
    assert download["Cache-Control"] == "no-store"
    assert download["Content-Disposition"].startswith("attachment;")
    assert hashlib.sha256(b"".join(download.streaming_content)).hexdigest() == export.pdf_sha256  # type: ignore[attr-defined]
    assert AccessEvent.objects.filter(subject=f"report:{export.pk}", action=AccessEvent.EXPORT).count() == 1


def test_a_render_without_the_signing_key_fails_with_a_sentence_and_stores_nothing(
    tmp_path: Path, analyst: User, job: Job
):
    # A control worker whose signing key is gone: the bundle cannot be signed, so nothing may be stored.
    worker = start_celery("control", tmp_path / "keyless.log", env={"GLASSBOX_LEDGER_KEY_FILE": ""})
    try:
        report = request_report(job, analyst)
        report = finished(report.pk)
    finally:
        stop(worker)
    assert report.status == Report.FAILED
    assert report.error.startswith("No bundle exported: ")
    assert "signing key" in report.error
    assert not ReportExport.objects.exists()
    assert not LedgerEntry.objects.filter(kind="report").exists()
    assert report.path == ""
    assert not list(reports_folder().glob(f"*report-{report.pk}*"))
    assert not list(reports_folder().glob(f".*report-{report.pk}*"))
    page = logged_in(analyst).get(f"/reports/{report.pk}/").content.decode()
    assert "No bundle exported" in page
    refused = logged_in(analyst).get(f"/reports/{report.pk}/pdf")
    assert refused.status_code == 409
    assert b"failed, so there is no file" in refused.content


def test_a_stalled_render_is_failed_by_the_sweep_and_its_temporary_file_removed(analyst: User, job: Job):
    # As a worker killed mid-render leaves it: the row rendering, a half-written hidden file.
    report = Report.objects.create(job=job, requested_by=analyst, status=Report.RENDERING, percent=60)
    Report.objects.filter(pk=report.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    fresh = Report.objects.create(job=job, requested_by=analyst, status=Report.RENDERING, updated_at=timezone.now())
    reports_folder().mkdir(parents=True, exist_ok=True)
    temporary_path(report).write_bytes(b"%PDF-1.7 half")
    orphan = reports_folder() / report.file_name  # as if killed between the rename and the ledger entry
    orphan.write_bytes(b"%PDF-1.7 whole, never ledgered")
    counts = tasks.sweep_jobs()
    assert counts["reports_failed"] == 1
    report.refresh_from_db()
    assert (report.status, report.error) == (Report.FAILED, LOST)
    assert not temporary_path(report).exists()
    assert not orphan.exists()
    assert Report.objects.get(pk=fresh.pk).status == Report.RENDERING  # still making progress: left alone


def test_a_queued_report_whose_message_was_lost_is_sent_again_by_the_sweep(analyst: User, job: Job, tmp_path: Path):
    report = request_report(job, analyst)
    app.control.purge()  # the broker lost the message (restarted without persistence)
    Report.objects.filter(pk=report.pk).update(requested_at=timezone.now() - timedelta(hours=1))
    fresh = request_report(job, analyst)
    app.control.purge()
    tasks.sweep_jobs()
    assert Report.objects.get(pk=fresh.pk).updated_at is None  # not stale yet: not sent again
    worker = start_celery("control", tmp_path / "control.log")
    try:
        assert finished(report.pk).status == Report.READY
    finally:
        stop(worker)
    assert Report.objects.get(pk=fresh.pk).status == Report.QUEUED


def test_a_report_not_ready_is_a_clear_409_and_an_unknown_one_a_404(team: Team, analyst: User, job: Job):
    report = request_report(job, analyst)  # no worker: it stays queued
    secret = create_key("Reporting", team, "read", None, "test setup").secret
    api = Client()
    refused = api.get(f"/api/v1/reports/{report.pk}/pdf", **bearer(secret))
    assert refused.status_code == 409
    assert refused["Content-Type"] == "application/problem+json"
    assert "is queued" in refused.json()["detail"]
    assert "once it is ready" in refused.json()["detail"]
    assert api.get(f"/api/v1/reports/{report.pk}/", **bearer(secret)).json()["download_url"] is None
    web = logged_in(analyst).get(f"/reports/{report.pk}/pdf")
    assert web.status_code == 409
    assert b"once it is ready" in web.content
    missing = api.get("/api/v1/reports/999999/", **bearer(secret))
    assert missing.status_code == 404
    assert missing["Content-Type"] == "application/problem+json"
    assert api.post("/api/v1/jobs/999999/reports/", **bearer(secret)).status_code == 404
    assert logged_in(analyst).post("/jobs/999999/reports/").status_code == 404
    assert Report.objects.count() == 1
    assert not AccessEvent.objects.filter(subject__startswith="report:").exists()


def test_another_teams_analyst_and_key_get_404_for_the_job_and_its_reports(analyst: User, job: Job):
    other = Team.objects.create(name="Tax")
    olga = make_user("olga", "analyst", other)
    secret = create_key("Tax system", other, "read", None, "test setup").secret
    report = request_report(job, analyst)
    web, api = logged_in(olga), Client()
    assert web.post(f"/jobs/{job.pk}/reports/").status_code == 404
    for url in (f"/reports/{report.pk}/", f"/reports/{report.pk}/progress/", f"/reports/{report.pk}/pdf"):
        assert web.get(url).status_code == 404, url
    assert api.post(f"/api/v1/jobs/{job.pk}/reports/", **bearer(secret)).status_code == 404
    for url in (f"/api/v1/reports/{report.pk}/", f"/api/v1/reports/{report.pk}/pdf"):
        answer = api.get(url, **bearer(secret))
        assert answer.status_code == 404, url
        assert answer["Content-Type"] == "application/problem+json", url
    assert Report.objects.count() == 1


def test_the_documented_report_example_runs_as_written(
    live_server, control_worker: subprocess.Popen[bytes], team: Team, job: Job, tmp_path: Path
):
    section = (ROOT / "docs" / "api.md").read_text().split("\n## PDF reports\n", 1)[1].split("\n## ", 1)[0]
    (example,) = re.findall(r"^```bash\n(.*?)^```", section, re.S | re.M)
    secret = create_key("Reporting", team, "read", None, "test setup").secret
    script = "set -euo pipefail\n" + example.replace("http://localhost:8000", live_server.url)
    env = {**os.environ, "GLASSBOX_KEY": secret, "JOB": str(job.pk)}
    done = subprocess.run(["bash", "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    pdf = (tmp_path / "report.pdf").read_bytes()
    assert hashlib.sha256(pdf).hexdigest() == ReportExport.objects.get().pdf_sha256
