"""Rendering is a function of the bundle and the export time: the same bundle at the same time gives the same
bytes (before signing); at another time, the same text on every page except the lines that print that time."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth.models import User

from audit_app.services.report_content import utc
from audit_app.services.review import sign_off
from tests.factories import signoff_form
from tests.reports.rendering import AT, exported, job_with_text, page_count, pages, render
from tests.reports.test_report_sections import ANSWER

pytestmark = pytest.mark.django_db


def test_same_bundle_same_time_same_bytes_and_another_time_changes_only_the_export_lines(
    analyst: User, reviewer: User
) -> None:
    job = job_with_text(analyst, answer=ANSWER)
    sign_off(job.pk, reviewer, signoff_form(job, conclusion="Fine."))
    bundle = exported(job, analyst)
    first, again = render(job, bundle)[1], render(job, bundle)[1]
    assert first == again

    later = AT + datetime.timedelta(days=400, seconds=7)
    moved = render(job, bundle, later)[1]
    assert moved != first
    assert page_count(moved) == page_count(first) == len(pages(first))
    changed = []
    for page, (shown_before, shown_after) in enumerate(zip(pages(first), pages(moved), strict=True), 1):
        before, after = shown_before.splitlines(), shown_after.splitlines()
        assert len(before) == len(after), page
        changed += [(b, a) for b, a in zip(before, after, strict=True) if b != a]
    assert changed
    assert all(utc(AT) in b and utc(later) in a for b, a in changed), changed
    assert all(b.replace(utc(AT), utc(later)) == a for b, a in changed)
