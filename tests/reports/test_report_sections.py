"""What a report shows, read back with pdftotext, pikepdf and the HTML before rendering: every section of the
issue's item 1, the review states, the page furniture on every page, bookmarks, language and math."""

from __future__ import annotations

import io
import json
import re

import pikepdf
import pytest
from django.contrib.auth.models import User

from audit_app.services.review import sign_off
from tests.factories import JobFactory, signoff_form
from tests.reports.rendering import exported, job_with_text, page_count, pages, render, text

pytestmark = pytest.mark.django_db

# Test input for layout, not model output: the run that carries it is the tiny test model's.
ANSWER = """# Findings heading

Intro with $x^2 + y_1$ inline.

- first list item
- second list item

| Col A | Col B |
|---|---|
| cell one | cell two |

```python
print("code line")
```

$$
\\frac{a}{b} = \\sqrt{c}
$$
"""


def flat(pdf: bytes, page: int | None = None) -> str:
    return " ".join(text(pdf, page).split())


def test_every_section_shows_in_the_pdf_text(analyst: User, reviewer: User) -> None:
    job = job_with_text(analyst, answer=ANSWER, case_reference="C-77", case_title="Smith v Jones")
    sign_off(job.pk, reviewer, signoff_form(job, conclusion="Checked the table; الجدول صحيح."))
    bundle = exported(job, analyst)
    _, pdf = render(job, bundle)
    shown = flat(pdf)
    provenance = job.run.provenance
    for expected in [
        # cover
        "Audit report: job",
        "C-77 — Smith v Jones",
        "Litigation",
        "legal",
        "Submitted by alice",
        "Exported 2026-11-25 01:02:03 UTC",
        "APPROVED for reliance: 1 of 1 required approval",
        "Approved by Rita Reviewer (rita) at",
        # provenance
        "Provenance",
        provenance["model_id"],
        provenance["weights_sha256"],
        "Quantization dtype bfloat16, mode bf16",
        "Seed 0",
        "Template legal/v1",
        f"torch {provenance['libraries']['torch']}",
        # transparency
        "Transparency (EU AI Act Art. 13(3))",
        "Intended purpose",
        "loops while thinking",
        "less reliably outside English",
        "usable context is 40k tokens",
        "Human oversight of this record",
        "1 approval by assigned reviewers",
        "kill switch",
        "not a justification of a decision",
        "How the logs are kept",
        # AI marking
        "AI-GENERATED CONTENT (EU AI Act Art. 50)",
        # the record
        "The record",
        job.submission.question,
        "Findings heading",
        "first list item",
        "cell one cell two",
        'print("code line")',
        "Reasoning trace (THINK)",
        "HUMAN-WRITTEN by Rita Reviewer",
        "Checked the table;",
        # history
        "Access and export history",
        f"export job:{job.pk}",
        # verification
        "Verification",
        "Key fingerprint SHA-256",
        "python standalone.py report.pdf --key glassbox.vkey",
    ]:
        assert expected in shown, expected
    assert re.search(r"^Record hash: ([0-9a-f]{64})$", text(pdf), re.M)[1] == job.run.record_sha256  # type: ignore[index]
    assert f"Size {json.loads(bundle)['checkpoint']['size']} entries" in shown


def test_unreviewed_and_rejected_jobs_are_marked_not_for_reliance(analyst: User, reviewer: User) -> None:
    waiting = job_with_text(analyst)
    assert "NOT REVIEWED — not for reliance." in flat(render(waiting, exported(waiting, analyst))[1], 1)

    partly = job_with_text(analyst, domain="clinical")  # clinical needs two approvals
    sign_off(partly.pk, reviewer, signoff_form(partly))
    cover = flat(render(partly, exported(partly, analyst))[1], 1)
    assert "NOT REVIEWED — not for reliance." in cover
    assert "awaiting review; 1 of 2 required approvals given" in cover
    assert "Approved by Rita Reviewer (rita) at" in cover

    rejected = job_with_text(analyst)
    sign_off(rejected.pk, reviewer, signoff_form(rejected, "rejected", reason="The dates are wrong."))
    cover = flat(render(rejected, exported(rejected, analyst))[1], 1)
    assert "REJECTED — not for reliance." in cover
    assert "Rejected by Rita Reviewer (rita) at" in cover
    assert "Reason: The dates are wrong." in cover
    assert "NOT REVIEWED" not in cover
    assert "APPROVED for reliance" not in cover


def test_every_page_says_test_model_and_page_x_of_y_with_the_hash_prefix(analyst: User) -> None:
    job = job_with_text(analyst, answer=ANSWER)
    _, pdf = render(job, exported(job, analyst))
    count = page_count(pdf)
    assert count >= 5
    assert len(pages(pdf)) == count
    for page, on_page in enumerate(pages(pdf), 1):
        shown = " ".join(on_page.split())
        assert "TEST MODEL" in shown, page
        assert f"Page {page} of {count}" in shown, page
        assert f"Record hash {job.run.record_sha256[:16]}" in shown, page
        assert "AI-generated content" in shown, page


def test_bookmarks_name_the_reports_sections_not_the_models_headings_and_the_language_is_set(analyst: User) -> None:
    job = job_with_text(analyst, answer=ANSWER)
    _, pdf = render(job, exported(job, analyst))
    with pikepdf.open(io.BytesIO(pdf)) as document:
        assert str(document.Root.Lang) == "en"
        with document.open_outline() as outline:
            top = [item.title for item in outline.root]
            nested = [child.title for item in outline.root for child in item.children]
    assert top == [
        "Audit report: job " + str(job.pk),
        "Provenance",
        "Transparency (EU AI Act Art. 13(3))",
        "The record",
        "Access and export history",
        "Verification",
    ]
    assert "Reasoning trace (THINK)" in nested
    assert "Answer" in nested
    assert "Checkpoint" in nested
    assert "Findings heading" not in top + nested


def curves(pdf: bytes) -> int:
    """Bézier segments drawn on all pages, in their content streams and the forms they draw."""
    count = 0
    with pikepdf.open(io.BytesIO(pdf)) as document:
        for page in document.pages:
            forms = [x for x in page.Resources.get("/XObject", {}).values() if x.get("/Subtype") == "/Form"]
            for stream in [page, *forms]:
                count += sum(str(op.operator) == "c" for op in pikepdf.parse_content_stream(stream))
    return count


def test_math_becomes_vector_drawing_not_latex_source(analyst: User) -> None:
    job = job_with_text(analyst, answer=ANSWER)
    html, pdf = render(job, exported(job, analyst))
    assert html.count('<span class="math-inline"><svg') == 1
    assert html.count('<div class="math-block"><svg') == 1
    shown = text(pdf)
    assert "\\frac" not in shown
    assert "$x^2" not in shown
    plain = job_with_text(analyst, answer=ANSWER.replace("$", ""))
    # The formulas' glyph outlines are drawn as curves; the same text without math draws (almost) none.
    with_math, without = curves(pdf), curves(render(plain, exported(plain, analyst))[1])
    assert with_math > without + 20, (with_math, without)


def test_a_job_that_never_ran_presents_its_submission_record(analyst: User) -> None:
    job = JobFactory(submitter=analyst, question="Which court? ¿Qué tribunal?")
    _, pdf = render(job, exported(job, analyst))
    shown = flat(pdf)
    assert "The job never ran: there is no reasoning trace and no answer." in shown
    assert "NOT REVIEWED — not for reliance." in shown
    assert "TEST MODEL" not in shown  # no run, so no model at all to mark
    assert re.search(r"^Record hash: ([0-9a-f]{64})$", text(pdf), re.M)[1] == job.submission.record_sha256  # type: ignore[index]
