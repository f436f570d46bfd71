"""``sign_off``: what a signature stores, what it binds to, and every refusal storing nothing."""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth.models import User
from django.db import connection

from audit_app.models import Job, LedgerEntry, ReviewerConclusion, SigningFailure, SignOff
from audit_app.services.review import SignOffForm, SignOffRefused, sign_off
from audit_app.services.review_state import AWAITING_REVIEW, NOT_REVIEWABLE, review_of
from tests.factories import FinishedJobFactory, JobFactory, signoff_form
from tests.people import assign, make_user

pytestmark = pytest.mark.django_db


def stored() -> tuple[int, int, int]:
    return SignOff.objects.count(), ReviewerConclusion.objects.count(), LedgerEntry.objects.count()


def test_an_approval_stores_the_manifestation_bound_to_the_run_record(finished: Job, reviewer: User):
    signature = sign_off(finished.pk, reviewer, signoff_form(finished, username="rita"))
    assert signature.signer_name == "Rita Reviewer"
    assert signature.meaning == "approved"
    assert signature.run_record_sha256 == finished.run.record_sha256
    assert finished.run.record_sha256 in signature.statement
    assert signature.signed_at.utcoffset() is not None
    assert LedgerEntry.objects.filter(subject=f"signoff:{signature.pk}").count() == 1
    review = review_of(finished)
    assert review.state == "approved"
    assert review.remaining == 0
    assert review.decisive is not None
    assert review.decisive.signer_name == "Rita Reviewer"


def test_a_clinical_job_needs_two_distinct_approvals(clinical: Job, reviewer: User, second_reviewer: User):
    sign_off(clinical.pk, reviewer, signoff_form(clinical))
    review = review_of(clinical)
    assert (review.state, review.required, review.remaining) == (AWAITING_REVIEW, 2, 1)
    sign_off(clinical.pk, second_reviewer, signoff_form(clinical, password="pw-rolf"))
    assert review_of(clinical).state == "approved"


def test_a_conclusion_is_separate_evidence_and_the_answer_is_unchanged(finished: Job, reviewer: User):
    answer = finished.run.answer
    sign_off(
        finished.pk,
        reviewer,
        signoff_form(finished, "rejected", reason="Cites repealed law.", conclusion="Not binding."),
    )
    (conclusion,) = review_of(finished).conclusions
    assert conclusion.text == "Not binding."
    assert conclusion.author_name == "Rita Reviewer"
    assert ReviewerConclusion.objects.get().signoff_record_sha256 == SignOff.objects.get().record_sha256
    finished.run.refresh_from_db()
    assert finished.run.answer == answer
    assert review_of(finished).state == "rejected"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"meaning": "rejected"}, "Give a reason"),
        ({"meaning": "changes_requested", "reason": "   "}, "Give a reason"),
        ({"meaning": "maybe"}, "Choose what your signature means"),
        ({"run_record_sha256": "0" * 64}, "not this job's run record"),
        ({"seen_version": 5}, "Someone signed this job after you opened the form"),
    ],
)
def test_bad_forms_are_refused_with_a_sentence_and_store_nothing(
    finished: Job, reviewer: User, changes: dict[str, object], message: str
):
    before = stored()
    with pytest.raises(SignOffRefused, match=message):
        sign_off(finished.pk, reviewer, signoff_form(finished, **changes))
    assert stored() == before


def test_a_wrong_password_stores_no_signature_but_is_recorded(finished: Job, reviewer: User):
    with pytest.raises(SignOffRefused, match="password is not correct"):
        sign_off(finished.pk, reviewer, signoff_form(finished, password="wrong", conclusion="x"))
    assert SignOff.objects.count() == 0
    assert ReviewerConclusion.objects.count() == 0
    failure = SigningFailure.objects.get()
    assert (failure.user, failure.job_id, failure.reason) == (reviewer, finished.pk, "wrong password")
    assert LedgerEntry.objects.filter(subject=f"signing_failure:{failure.pk}").exists()


@pytest.mark.parametrize(
    ("changes", "message"), [({"username": " "}, "Enter your user id"), ({"password": ""}, "Enter your password")]
)
def test_an_empty_user_id_or_password_is_refused_and_not_counted_as_a_failure(
    finished: Job, reviewer: User, changes: dict[str, object], message: str
):
    before = stored()
    with pytest.raises(SignOffRefused, match=message):
        sign_off(finished.pk, reviewer, signoff_form(finished, **changes))
    assert stored() == before
    assert not SigningFailure.objects.exists()


def test_a_wrong_user_id_at_the_first_signing_is_refused_and_recorded(finished: Job, reviewer: User):
    with pytest.raises(SignOffRefused, match="user id is not yours"):
        sign_off(finished.pk, reviewer, signoff_form(finished, username="rolf"))
    assert SignOff.objects.count() == 0
    assert SigningFailure.objects.get().reason == "wrong user id"


def test_repeated_wrong_passwords_lock_signing_even_with_the_right_one(finished: Job, reviewer: User, settings):
    settings.GLASSBOX = settings.GLASSBOX | {"SIGNING_MAX_FAILURES": 3}
    for attempt in range(3):
        with pytest.raises(SignOffRefused) as refused:
            sign_off(finished.pk, reviewer, signoff_form(finished, password=f"wrong{attempt}"))
    assert "locked for your account until" in str(refused.value)
    with pytest.raises(SignOffRefused, match="Signing is locked"):
        sign_off(finished.pk, reviewer, signoff_form(finished))
    assert SignOff.objects.count() == 0
    assert SigningFailure.objects.count() == 3  # attempts while locked do not check the password at all


def test_nobody_signs_their_own_job(team, reviewer: User):
    team.members.add(reviewer)  # a reviewer who also submits for the team
    own = FinishedJobFactory(submitter=reviewer, team=team)
    before = stored()
    with pytest.raises(SignOffRefused, match="You submitted this job"):
        sign_off(own.pk, reviewer, signoff_form(own))
    assert stored() == before


def test_signing_twice_is_refused(finished: Job, reviewer: User):
    sign_off(finished.pk, reviewer, signoff_form(finished, "changes_requested", reason="Check the dates."))
    before = stored()
    with pytest.raises(SignOffRefused, match="You already signed this job as changes requested"):
        sign_off(finished.pk, reviewer, signoff_form(finished, "changes_requested", reason="Again."))
    assert stored() == before


def test_a_decided_job_takes_no_more_signatures(finished: Job, reviewer: User, second_reviewer: User):
    sign_off(finished.pk, reviewer, signoff_form(finished))
    with pytest.raises(SignOffRefused, match="already approved"):
        sign_off(finished.pk, second_reviewer, signoff_form(finished, password="pw-rolf"))


@pytest.mark.parametrize("scope", [("other", "legal"), ("same", "finance")])
def test_a_reviewer_out_of_scope_is_refused(finished: Job, team, other_team, scope: tuple[str, str]):
    stranger = assign(make_user("rex", "reviewer", None), team if scope[0] == "same" else other_team, scope[1])
    before = stored()
    with pytest.raises(SignOffRefused, match="assigned to you"):
        sign_off(finished.pk, stranger, signoff_form(finished, password="pw-rex"))
    assert stored() == before


@pytest.mark.parametrize("status", [Job.RUNNING, Job.CANCELLED, Job.FAILED, Job.QUEUED])
def test_a_job_without_a_finished_answer_is_not_signable(analyst: User, reviewer: User, status: str):
    job = JobFactory(submitter=analyst)
    Job.objects.filter(pk=job.pk).update(status=status)
    assert review_of(job).state == NOT_REVIEWABLE
    values = SignOffForm("approved", "", "pw-rita", "0" * 64, 0)
    before = stored()
    with pytest.raises(SignOffRefused, match="only a job that finished with an answer can be signed"):
        sign_off(job.pk, reviewer, values)
    assert stored() == before


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_signoffs_by_one_reviewer_store_exactly_one(finished: Job, reviewer: User):
    values = signoff_form(finished)
    barrier, outcomes = threading.Barrier(2), []

    def sign() -> None:
        barrier.wait()
        try:
            sign_off(finished.pk, reviewer, values)
            outcomes.append("signed")
        except SignOffRefused as refused:
            outcomes.append(str(refused))
        finally:
            connection.close()

    threads = [threading.Thread(target=sign) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("signed") == 1, outcomes
    assert SignOff.objects.filter(job=finished).count() == 1
