"""submit_job stores everything or nothing; each bad input names its field in one sentence."""

from __future__ import annotations

import hashlib
import io

import pytest
from django.contrib.auth.models import User
from django.test import override_settings

from audit_app.models import Case, Document, Job, Submission, Team
from audit_app.services.errors import SubmissionError
from audit_app.services.killswitch import resume_inference, suspend_inference
from audit_app.services.submission import Upload, submit_job
from inference import GenerationSettings


def pdf(text: str | None) -> bytes:
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    page = writer.add_blank_page(width=300, height=300)
    if text:
        font = DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
            }
        )
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
        )
        stream = DecodedStreamObject()
        stream.set_data(f"BT /F1 12 Tf 20 200 Td ({text}) Tj ET".encode())
        page[NameObject("/Contents")] = writer._add_object(stream)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def submit(analyst: User, team: Team, **overrides: object) -> Job:
    arguments: dict[str, object] = {"case_reference": "C-1", "domain": "legal", "question": "Is it binding?"}
    arguments.update(overrides)
    return submit_job(analyst, team, **arguments)  # type: ignore[arg-type]


def assert_refused(field: str, sentence: str, analyst: User, team: Team, **overrides: object) -> None:
    with pytest.raises(SubmissionError) as error:
        submit(analyst, team, **overrides)
    assert error.value.field == field
    assert sentence in str(error.value)
    assert (Submission.objects.count(), Document.objects.count(), Job.objects.count()) == (0, 0, 0)


@pytest.mark.django_db
def test_stores_submission_documents_and_queued_job(analyst: User, team: Team):
    job = submit(analyst, team, uploads=[Upload("a.txt", b"Clause 1."), Upload("b.pdf", pdf("Hello PDF"))])
    submission = job.submission
    assert job.status == Job.QUEUED
    assert (submission.template_id, submission.submitted_by_name, submission.case.team) == ("legal/v1", "alice", team)
    documents = list(submission.documents.all())
    assert [d.name for d in documents] == ["a.txt", "b.pdf"]
    assert documents[0].sha256 == hashlib.sha256(b"Clause 1.").hexdigest()
    assert bytes(documents[0].original) == b"Clause 1."
    assert "Hello PDF" in documents[1].text


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field", "sentence"),
    [
        ({"question": "  "}, "question", "The question is empty"),
        ({"domain": "tax"}, "domain", "Unknown domain 'tax'"),
        ({"case_reference": ""}, "case_reference", "Give the case reference"),
        ({"uploads": [Upload("x.docx", b"data")]}, "documents", "only .txt, .md and .pdf files are accepted"),
        ({"uploads": [Upload("x.txt", b"\xc3\x28 bad")]}, "documents", "x.txt is not UTF-8 text"),
        ({"uploads": [Upload("x.txt", b"a" * 2000)]}, "documents", "over the limit of 1,000 bytes per file"),
        ({"uploads": [Upload("scan.pdf", pdf(None))]}, "documents", "scan.pdf has no extractable text"),
        ({"uploads": [Upload("bad.pdf", b"%PDF-1.4 garbage")]}, "documents", "bad.pdf is not a readable PDF"),
        (
            {"uploads": [Upload("long.txt", b"word " * 150)], "generation": GenerationSettings(thinking_budget=39_000)},
            "answer_budget",  # shown beside the budgets the analyst must lower
            "the context limit of 40000 tokens",
        ),
        ({"generation": GenerationSettings(temperature=-1)}, "temperature", "The temperature must be between 0 and 2"),
    ],
)
@override_settings(GLASSBOX={**__import__("django.conf").conf.settings.GLASSBOX, "MAX_UPLOAD_BYTES": 1000})
def test_bad_input_is_a_field_error_and_nothing_is_stored(
    analyst: User, team: Team, overrides: dict[str, object], field: str, sentence: str
):
    assert_refused(field, sentence, analyst, team, **overrides)


@pytest.mark.django_db
def test_a_reference_another_team_uses_is_simply_a_new_case(analyst: User, team: Team, other_team: Team):
    theirs = Case.objects.create(team=other_team, reference="T-9", domain="finance")
    job = submit(analyst, team, case_reference="T-9")
    assert job.submission.case.team == team
    assert job.submission.case != theirs


@pytest.mark.django_db
def test_suspension_refuses_with_who_and_why_then_resume_accepts(analyst: User, team: Team, operator: User):
    suspend_inference(operator, "Model under investigation")
    assert_refused("__all__", "Inference is suspended since", analyst, team)
    assert_refused("__all__", "by oscar: Model under investigation", analyst, team)
    resume_inference(operator)
    assert submit(analyst, team).status == Job.QUEUED
