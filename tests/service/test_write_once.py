"""Evidence rows cannot be changed or deleted through the ORM (database triggers follow in the ledger work)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from audit_app.models import Document, EvidenceImmutableError, Submission, Team
from audit_app.services.submission import Upload, submit_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def submission(analyst: User, team: Team) -> Submission:
    return submit_job(analyst, team, "C-1", "legal", "Q?", [Upload("a.txt", b"text")]).submission


def test_instances_refuse_update_and_delete(submission: Submission):
    submission.question = "Changed?"
    with pytest.raises(EvidenceImmutableError, match="is evidence and cannot be changed"):
        submission.save()
    with pytest.raises(EvidenceImmutableError, match="cannot be deleted"):
        submission.delete()


def test_querysets_refuse_update_and_delete(submission: Submission):
    with pytest.raises(EvidenceImmutableError):
        Document.objects.filter(submission=submission).update(text="forged")
    with pytest.raises(EvidenceImmutableError):
        Submission.objects.all().delete()
    assert Submission.objects.get().question == "Q?"
