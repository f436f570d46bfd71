"""The auditor's ledger browser names review evidence readably, filters by it, and links it to its job."""

from __future__ import annotations

import html

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from audit_app.models import Job, LedgerEntry
from audit_app.services.review import SignOffForm, SignOffRefused, sign_off
from audit_app.services.review_state import review_of
from tests.people import make_user

pytestmark = pytest.mark.django_db


def sequences(page: str) -> set[int]:
    return {int(part.split('"', 1)[0]) for part in page.split('data-sequence="')[1:]}


def test_review_kinds_have_readable_names_filters_and_job_links(finished: Job, reviewer: User):
    auditor = make_user("audrey", "auditor", None)
    with pytest.raises(SignOffRefused):
        sign_off(finished.pk, reviewer, SignOffForm("approved", "", "wrong", finished.run.record_sha256, 0))
    form = SignOffForm("rejected", "Cites repealed law.", "pw-rita", finished.run.record_sha256, 0, "Not binding.")
    sign_off(finished.pk, reviewer, form)
    assert review_of(finished).state == "rejected"
    entry = {e.kind: e.sequence for e in LedgerEntry.objects.all()}
    client = Client()
    client.force_login(auditor)
    listing = html.unescape(client.get(reverse("ledger-entries")).content.decode())
    for kind, label in [
        ("signoff", "Sign-off"),
        ("conclusion", "Reviewer's conclusion"),
        ("signing_failure", "Signing failure"),
    ]:
        assert f'<option value="{kind}" >{label}</option>' in listing
        assert f"<td>{label}</td>" in listing
        only = client.get(reverse("ledger-entries"), {"kind": kind}).content.decode()
        assert sequences(only) == {entry[kind]}
        assert f'href="{reverse("job-detail", args=[finished.pk])}"' in only
    # The user filter finds all three of the reviewer's entries by her user name.
    by_rita = sequences(client.get(reverse("ledger-entries"), {"user": "rita"}).content.decode())
    assert by_rita == {entry["signoff"], entry["conclusion"], entry["signing_failure"]}
    page = html.unescape(client.get(reverse("ledger-entry", args=[entry["conclusion"]])).content.decode())
    assert "Reviewer's conclusion" in page
    assert "Rita Reviewer" in page
    assert f"job {finished.pk}" in page
