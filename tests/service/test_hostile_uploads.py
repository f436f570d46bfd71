"""Hostile uploads get one sentence each on the form, within bounded time and memory, and nothing is stored."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from audit_app.models import Case, Document, Job, Submission, Team
from audit_app.services.submission import Upload
from tests.service.hostile_pdfs import encrypted, flate_bomb, many_pages
from tests.service.test_submission import assert_refused, submit
from tests.service.test_web import FORM, post_form

pytestmark = pytest.mark.django_db


def form_errors(response: object, field: str) -> str:
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert (Submission.objects.count(), Document.objects.count(), Job.objects.count()) == (0, 0, 0)
    return " ".join(response.context["form"].errors.get(field, []))  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("upload", "sentence"),
    [
        (Upload("nul.txt", b"Clause 1.\x00\x00"), "nul.txt contains NUL bytes"),
        (Upload("le.txt", "Clause".encode("utf-16-le")), "le.txt contains NUL bytes"),
        (Upload("bomb.pdf", flate_bomb()), "bomb.pdf exceeds a safety limit for PDFs"),
        (Upload("locked.pdf", encrypted("pw")), "locked.pdf is encrypted with a password"),
        (Upload("long.pdf", many_pages()), "long.pdf has more than 2,000 pages"),
        (Upload("huge.txt", b"word " * (2 * 1024 * 1024)), "huge.txt holds more than 1,249,280 characters"),
        (Upload("a\u202etxt.exe.txt", b"x"), "The document name a<U+202E>txt.exe.txt contains U+202E"),
        (Upload("zero\u200bwidth.txt", b"x"), "U+200B (ZERO WIDTH SPACE)"),
        (Upload("a\x00.txt", b"x"), "contains U+0000"),
        (Upload("n" * 300 + ".txt", b"x"), "A document name is 304 characters long; at most 255 fit."),
    ],
    ids=[
        "nul",
        "utf16-no-bom",
        "flate-bomb",
        "encrypted",
        "20000-pages",
        "10-MiB-text",
        "bidi",
        "zwsp",
        "nul-name",
        "long-name",
    ],
)
def test_hostile_document_is_one_sentence_and_nothing_is_stored(
    analyst: User, team: Team, upload: Upload, sentence: str
):
    assert_refused("documents", sentence, analyst, team, uploads=[upload])


def test_utf16_with_a_byte_order_mark_is_read_as_text(analyst: User, team: Team):
    job = submit(analyst, team, uploads=[Upload("notepad.txt", "Clause 1: café".encode("utf-16"))])
    assert job.submission.documents.get().text == "Clause 1: café"


def test_pdf_with_only_an_owner_password_opens(analyst: User, team: Team):
    job = submit(analyst, team, uploads=[Upload("restricted.pdf", encrypted(""))])
    assert "Secret clause" in job.submission.documents.get().text


def test_hidden_characters_in_case_reference_or_title_are_refused_beside_the_field(analyst: User):
    reference = form_errors(post_form(analyst, case_reference="C-1\u202e9"), "case_reference")
    assert "The case reference C-1<U+202E>9 contains U+202E (RIGHT-TO-LEFT OVERRIDE)" in reference
    title = form_errors(post_form(analyst, case_title="Smith\u2066 v Jones"), "case_title")
    assert "U+2066 (LEFT-TO-RIGHT ISOLATE)" in title
    assert not Case.objects.exists()


def test_101_files_are_refused_on_the_form_saying_the_limit(analyst: User):
    files = [SimpleUploadedFile(f"f{n}.txt", b"x") for n in range(101)]
    sentence = form_errors(post_form(analyst, documents=files), "documents")
    assert "101 files were sent; at most 10 documents can go with one question." in sentence


def test_101_files_with_csrf_checks_on_still_reach_the_form(analyst: User):
    # CsrfViewMiddleware reads the POST body before the view; a count limit there would be a bare 400.
    client = Client(enforce_csrf_checks=True)
    client.force_login(analyst)
    client.get(reverse("job-submit"))
    files = [SimpleUploadedFile(f"f{n}.txt", b"x") for n in range(101)]
    data = {**FORM, "documents": files, "csrfmiddlewaretoken": client.cookies["csrftoken"].value}
    sentence = form_errors(client.post(reverse("job-submit"), data), "documents")
    assert "101 files were sent; at most 10 documents" in sentence


def test_a_file_over_the_limit_is_refused_while_it_is_read(analyst: User):
    big = SimpleUploadedFile("big.txt", b"x" * (10 * 1024 * 1024 + 1))
    sentence = form_errors(post_form(analyst, documents=[big]), "documents")
    assert sentence == "big.txt is over the limit of 10,485,760 bytes per file."


def test_a_hostile_pdf_is_a_form_error_not_a_server_error(analyst: User):
    sentence = form_errors(post_form(analyst, documents=[SimpleUploadedFile("b.pdf", flate_bomb())]), "documents")
    assert "b.pdf exceeds a safety limit for PDFs" in sentence


def test_pdf_extraction_stops_at_its_time_budget(analyst: User, team: Team, monkeypatch: pytest.MonkeyPatch):
    from inference import pdf_text
    from tests.service.test_submission import pdf

    monkeypatch.setattr(pdf_text, "MAX_SECONDS", 0.0)  # every page is then past the budget
    assert_refused(
        "documents",
        "slow.pdf: reading its text took over 0.0 s",
        analyst,
        team,
        uploads=[Upload("slow.pdf", pdf("Hello"))],
    )
