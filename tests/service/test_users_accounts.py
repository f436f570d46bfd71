"""Accounts are deactivated, never deleted: the ORM refuses deletion, the command deactivates, and a
deactivated account can neither log in nor sign, while what it did keeps its printed name."""

from __future__ import annotations

import io
import pickle
import re

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test import Client
from django.urls import reverse

from audit_app.models import Job, LedgerEntry, SigningFailure, SignOff
from audit_app.services.review import SignOffForm, SignOffRefused, sign_off
from audit_app.services.review_state import review_of, reviewable_by
from audit_app.services.users import AccountDeletionRefused
from tests.people import make_user

pytestmark = pytest.mark.django_db


def approve(job: Job, password: str = "pw-rita") -> SignOffForm:
    return SignOffForm("approved", "", password, job.run.record_sha256, review_of(job).version)


def test_deleting_a_user_through_the_orm_is_refused_instance_and_queryset(analyst: User, reviewer: User):
    users = User.objects.count()
    with pytest.raises(AccountDeletionRefused, match="deactivate the account instead"):
        reviewer.delete()
    with pytest.raises(AccountDeletionRefused, match="deactivate the account instead"):
        User.objects.filter(username__in=["alice", "rita"]).delete()
    with pytest.raises(AccountDeletionRefused):
        User.objects.all().delete()
    nobody_names_her = make_user("nina", "analyst", None)  # no row protects her: the pre_delete backstop refuses
    # (Django's collector deletes in a transaction without a savepoint: give it one inside the test's own.)
    with pytest.raises(AccountDeletionRefused, match="nina was not deleted"), transaction.atomic():
        User._base_manager.filter(pk=nobody_names_her.pk).delete()
    assert User.objects.count() == users + 1
    assert User.objects.filter(pk=reviewer.pk, is_active=True).exists()
    # The guarded queryset is still an ordinary one otherwise.
    assert list(pickle.loads(pickle.dumps(User.objects.filter(username="rita")))) == [reviewer]


def test_deactivate_user_command_deactivates_and_reactivates(reviewer: User):
    out = io.StringIO()
    call_command("deactivate_user", "rita", stdout=out)
    assert "rita is now deactivated." in out.getvalue()
    reviewer.refresh_from_db()
    assert not reviewer.is_active
    call_command("deactivate_user", "rita", "--reactivate", stdout=out)
    reviewer.refresh_from_db()
    assert reviewer.is_active


def test_deactivate_user_refuses_an_unknown_user_and_a_repeat_with_a_sentence(reviewer: User):
    with pytest.raises(CommandError, match=re.escape("There is no user named 'nobody'; nothing was changed.")):
        call_command("deactivate_user", "nobody")
    with pytest.raises(CommandError, match=re.escape("rita is already active; nothing was changed.")):
        call_command("deactivate_user", "rita", "--reactivate")
    assert User.objects.get(pk=reviewer.pk).is_active


def test_an_unknown_user_exits_non_zero(reviewer: User):
    # manage.py prints a CommandError's sentence on stderr and exits with its returncode.
    with pytest.raises(CommandError, match="There is no user named 'nobody'") as refused:
        call_command("deactivate_user", "nobody")
    assert refused.value.returncode == 1


def test_a_deactivated_user_cannot_log_in_and_loses_an_open_session(analyst: User):
    client = Client()
    client.force_login(analyst)
    assert client.get(reverse("job-list")).status_code == 200
    call_command("deactivate_user", "alice", stdout=io.StringIO())
    response = client.get(reverse("job-list"))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]
    refused = Client().post(reverse("login"), {"username": "alice", "password": "pw-alice"})
    assert refused.status_code == 200  # the form again, with its error; no session
    assert "_auth_user_id" not in refused.client.session
    assert "correct username and password" in refused.content.decode()


def test_a_deactivated_reviewer_cannot_sign_and_stores_nothing(finished: Job, reviewer: User):
    call_command("deactivate_user", "rita", stdout=io.StringIO())
    reviewer.refresh_from_db()
    entries = LedgerEntry.objects.count()
    with pytest.raises(SignOffRefused, match=re.escape("Your account is deactivated; nothing was signed.")):
        sign_off(finished.pk, reviewer, approve(finished))
    # Not even a signing failure: the refusal comes before the password is looked at.
    assert (SignOff.objects.count(), SigningFailure.objects.count(), LedgerEntry.objects.count()) == (0, 0, entries)
    assert not reviewable_by(reviewer).exists()  # nor is anything in their scope (and so no review mail)


def test_a_deactivated_users_past_work_keeps_their_printed_name(finished: Job, reviewer: User, analyst: User):
    sign_off(finished.pk, reviewer, approve(finished))
    for username in ("rita", "alice"):
        call_command("deactivate_user", username, stdout=io.StringIO())
    review = review_of(Job.objects.get(pk=finished.pk))
    assert review.state == "approved"
    assert [s.signer_name for s in review.signatures] == ["Rita Reviewer"]
    auditor = make_user("audrey", "auditor", None)
    client = Client()
    client.force_login(auditor)
    listing = client.get(reverse("job-list")).content.decode()
    row = listing.split(f'href="/jobs/{finished.pk}/"', 1)[1].split("</tr>", 1)[0]
    assert "alice" in row
