"""Acceptance for [8/10], from the demo itself (deploy/demo, as a newcomer runs it): a job is answered, a reviewer
signs it in the browser, an auditor exports its PDF report in the browser and downloads it, and the standalone
verifier, a copy of the one file run with the key the demo printed, exits 0 on that PDF."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from tests.deploy.test_demo_verification import ONE_QUESTION, ROOT, Demo, printed_key
from tests.service.conftest import ARGS, CHROMIUM


def password(output: str, username: str) -> str:
    match = re.search(rf"\b{username}\s+password (\S+)", output)
    assert match is not None, output
    return match.group(1)


def log_in(page: Page, base: str, username: str, output: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password(output, username))
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(rf"{re.escape(base)}/$"))


def test_an_auditor_downloads_the_pdf_of_a_signed_demo_job_and_the_verifier_accepts_it(
    demo: Demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    output = demo.start()
    key = tmp_path / "glassbox.vkey"
    key.write_text(printed_key(output) + "\n")
    manage = [str(ROOT / "deploy" / "manage"), "shell", "-v0", "-c", ONE_QUESTION]
    asked = subprocess.run(manage, env=demo.env, capture_output=True, text=True, timeout=300)
    assert asked.stdout.split()[0] == "succeeded", asked.stdout + asked.stderr
    base = f"http://127.0.0.1:{demo.port}"

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        reviewer = browser.new_page()
        log_in(reviewer, base, "reviewer", output)
        reviewer.goto(f"{base}/jobs/1/review/")
        reviewer.check("#meaning-approved")
        reviewer.fill("#username", "reviewer")
        reviewer.fill("#password", password(output, "reviewer"))
        reviewer.click("#sign-button")
        reviewer.wait_for_load_state()
        assert "APPROVED" in reviewer.goto(f"{base}/jobs/1/").text().upper()

        auditor = browser.new_page(accept_downloads=True)
        log_in(auditor, base, "auditor", output)
        auditor.goto(f"{base}/jobs/1/")
        auditor.click("#export-report")
        auditor.locator("#download-report").wait_for(timeout=120_000)
        with auditor.expect_download() as download:
            auditor.click("#download-report")
        pdf = tmp_path / "report.pdf"
        download.value.save_as(pdf)
        browser.close()

    verifier = Path(shutil.copy(ROOT / "audit_app" / "ledger" / "standalone.py", tmp_path / "standalone.py"))
    done = subprocess.run(
        [sys.executable, "-I", str(verifier), str(pdf), "--key", str(key)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("VALID"), done.stdout
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "TEST MODEL" in text
    assert "NOT REVIEWED" not in text  # the reviewer's approval is on the cover
