"""The reviewer's pages: the review queue and the review screen with its sign-off form, through the test client."""

from __future__ import annotations

import datetime
import re
import uuid
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit_app.models import Job, LedgerEntry, ReviewerConclusion, SigningFailure, SignOff, Team
from audit_app.services.pipeline import cancel_job, claim_job, fail_job
from audit_app.services.review import sign_off
from audit_app.services.review_state import review_of
from tests.factories import FinishedJobFactory, JobFactory, signoff_form
from tests.forging import insert_unledgered
from tests.people import assign, make_user

pytestmark = pytest.mark.django_db


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text(response: Any) -> str:
    return response.content.decode()


def queue_order(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'class="queue-row[^"]*" data-job="(\d+)"', html)]


def signed_by(job: Job, user: User, password: str, meaning: str = "approved", reason: str = "") -> None:
    """A signature through the service, as another reviewer's earlier session gave it."""
    sign_off(job.pk, user, signoff_form(job, meaning, password, reason=reason))


def age(job: Job, hours: float) -> None:
    # The job row's finish time is state, not evidence; the queue reads its age from it.
    Job.objects.filter(pk=job.pk).update(finished_at=timezone.now() - datetime.timedelta(hours=hours))


def test_the_queue_lists_awaiting_jobs_oldest_first_with_counts(analyst: User, reviewer: User, second_reviewer: User):
    newer = FinishedJobFactory(submitter=analyst)
    older = FinishedJobFactory(submitter=analyst, domain="clinical")
    signed = FinishedJobFactory(submitter=analyst, domain="clinical")
    decided = FinishedJobFactory(submitter=analyst)
    age(newer, 2), age(older, 5), age(signed, 9), age(decided, 9)
    signed_by(signed, reviewer, "pw-rita")  # rita approved (clinical needs two): still awaiting, but not hers
    signed_by(decided, second_reviewer, "pw-rolf")  # approved (legal needs one): nobody's to sign
    html = text(client_for(reviewer).get(reverse("review-queue")))
    assert queue_order(html) == [older.pk, newer.pk]
    assert "2 jobs awaiting your review" in html
    assert re.search(r'data-domain="clinical">clinical 1<', html)
    assert re.search(r'data-domain="legal">legal 1<', html)
    assert "0 of 2" in html
    assert "0 of 1" in html
    assert "Review queue (2)" in html  # the navigation's count
    # The other reviewer has not signed ``signed``: it is in their queue, one approval given.
    theirs = text(client_for(second_reviewer).get(reverse("review-queue")))
    assert queue_order(theirs) == [signed.pk, older.pk, newer.pk]
    assert "1 of 2" in theirs


def test_the_queue_filters_by_domain_team_and_age_and_flags_overdue(
    analyst: User, reviewer: User, other_team: Team, settings
):
    settings.GLASSBOX = settings.GLASSBOX | {"REVIEW_OVERDUE_HOURS": 24}
    tax_analyst = make_user("tom", "analyst", other_team)
    assign(reviewer, other_team, "legal")
    fresh = FinishedJobFactory(submitter=analyst)
    stale = FinishedJobFactory(submitter=analyst, domain="clinical")
    tax = FinishedJobFactory(submitter=tax_analyst)
    age(fresh, 1), age(stale, 30), age(tax, 3)
    client = client_for(reviewer)
    assert queue_order(text(client.get(reverse("review-queue")))) == [stale.pk, tax.pk, fresh.pk]
    assert queue_order(text(client.get(reverse("review-queue"), {"domain": "legal"}))) == [tax.pk, fresh.pk]
    assert queue_order(text(client.get(reverse("review-queue"), {"team": "Tax"}))) == [tax.pk]
    assert queue_order(text(client.get(reverse("review-queue"), {"age": "2"}))) == [stale.pk, tax.pk]
    html = text(client.get(reverse("review-queue")))
    overdue = re.findall(r'class="queue-row overdue" data-job="(\d+)"', html)
    assert overdue == [str(stale.pk)]
    assert html.count('<strong class="overdue-label">overdue</strong>') == 1  # said in words, not by colour alone


def test_the_queue_refuses_a_bad_age_with_a_sentence(reviewer: User):
    response = client_for(reviewer).get(reverse("review-queue"), {"age": "yesterday"})
    assert response.status_code == 400
    assert "Age must be a number of hours, like 24" in text(response)


def test_the_queue_is_for_reviewers_only(analyst: User, operator: User):
    assert Client().get(reverse("review-queue")).url.startswith(reverse("login"))
    for user in (analyst, operator):
        response = client_for(user).get(reverse("review-queue"))
        assert response.status_code == 403
        assert "Only reviewers may use the review queue" in text(response)


def test_the_queue_takes_the_same_queries_for_one_job_or_four(analyst: User, reviewer: User):
    FinishedJobFactory(submitter=analyst)
    client = client_for(reviewer)
    client.get(reverse("review-queue"))  # the session and the model's config are read once
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("review-queue"))
    for _ in range(3):
        FinishedJobFactory(submitter=analyst)
    with CaptureQueriesContext(connection) as four:
        assert len(queue_order(text(client.get(reverse("review-queue"))))) == 4
    assert len(four) == len(one)


def test_the_review_screen_shows_trace_and_answer_side_by_side_with_the_reminder(finished: Job, reviewer: User):
    html = text(client_for(reviewer).get(reverse("job-review", args=[finished.pk])))
    split = html.index('id="review-split"')
    thinking, answer = html.index('id="review-thinking"'), html.index('id="review-answer"')
    assert split < thinking < answer
    run = finished.run
    assert html.index("Thinking (") < answer  # the trace is in the left column, shown open
    assert "may be wrong" in html
    assert "even when its reasoning reads well" in html
    assert "Limitations (AI Act Arts. 13, 14, 50)" in html
    assert "TEST MODEL" in html
    for meaning in ("approved", "rejected", "changes_requested"):
        assert f'id="meaning-{meaning}"' in html
    assert "approve this record for reliance" in html
    assert run.record_sha256 in html
    assert f'name="run_record_sha256" value="{run.record_sha256}"' in html
    assert 'name="seen_version" value="0"' in html
    assert 'id="username"' in html
    assert 'autocomplete="current-password"' in html
    assert "You sign as <strong>Rita Reviewer</strong>" in html


def test_signing_on_the_page_shows_the_manifestation_on_the_job_page_and_list(
    analyst: User, reviewer: User, finished: Job
):
    second = FinishedJobFactory(submitter=analyst)
    client = client_for(reviewer)
    post = {
        "meaning": "approved",
        "username": "rita",
        "password": "pw-rita",
        "run_record_sha256": finished.run.record_sha256,
        "seen_version": "0",
    }
    response = client.post(reverse("job-review", args=[finished.pk]), post)
    assert response.status_code == 302
    assert response.url == reverse("job-detail", args=[finished.pk])
    signature = SignOff.objects.get()
    when = f"{signature.signed_at:%Y-%m-%d %H:%M} UTC"
    page = text(client_for(analyst).get(reverse("job-detail", args=[finished.pk])))
    assert f"approved by Rita Reviewer at {when} (1 of 1)" in page
    assert "<strong>Rita Reviewer</strong> signed at" in page
    listing = text(client_for(analyst).get(reverse("job-list")))
    assert f"approved by Rita Reviewer at {when} (1 of 1)" in listing
    assert "awaiting review (0 of 1)" in listing  # the second job
    # §11.200: the session has signed once, so the next form asks for the password only.
    html = text(client.get(reverse("job-review", args=[second.pk])))
    assert 'id="username"' not in html
    assert 'id="password"' in html
    post |= {"run_record_sha256": second.run.record_sha256}
    post.pop("username")
    assert client.post(reverse("job-review", args=[second.pk]), post).status_code == 302
    assert SignOff.objects.count() == 2


def test_a_clinical_job_says_approved_by_the_second_reviewer_2_of_2(
    analyst: User, reviewer: User, second_reviewer: User, clinical: Job
):
    first = client_for(reviewer)
    post = {"meaning": "approved", "username": "rita", "password": "pw-rita"}
    post |= {"run_record_sha256": clinical.run.record_sha256, "seen_version": "0"}
    assert first.post(reverse("job-review", args=[clinical.pk]), post).status_code == 302
    page = text(client_for(analyst).get(reverse("job-detail", args=[clinical.pk])))
    assert "1 more approval needed" in page
    assert "awaiting review (1 of 2)" in page
    post |= {"username": "rolf", "password": "pw-rolf", "seen_version": "1"}
    assert client_for(second_reviewer).post(reverse("job-review", args=[clinical.pk]), post).status_code == 302
    last = SignOff.objects.get(signer=second_reviewer)
    page = text(client_for(analyst).get(reverse("job-detail", args=[clinical.pk])))
    assert f"approved by rolf at {last.signed_at:%Y-%m-%d %H:%M} UTC (2 of 2)" in page


def test_a_conclusion_shows_beside_the_answer_marked_human_written(analyst: User, reviewer: User, finished: Job):
    post = {"meaning": "changes_requested", "reason": "Check clause 12.", "conclusion": "The lease was extended."}
    post |= {"username": "rita", "password": "pw-rita", "run_record_sha256": finished.run.record_sha256}
    assert (
        client_for(reviewer).post(reverse("job-review", args=[finished.pk]), post | {"seen_version": "0"}).status_code
        == 302
    )
    page = text(client_for(analyst).get(reverse("job-detail", args=[finished.pk])))
    marked = page.index("Reviewer's conclusion — written by a person, not the model")
    assert page.index("AI-generated") < marked < page.index("The lease was extended.") < page.index("Run record")
    assert "by Rita Reviewer at" in page
    assert "changes requested by Rita Reviewer" in page
    assert "reason: <span" in page
    assert 'id="rerun-changes-requested"' in page  # the analyst's way forward
    assert "Run again with changes requested" in page


def post_for(job: Job, **changes: str) -> dict[str, str]:
    run = getattr(job, "run", None)
    return {
        "meaning": "approved",
        "reason": "",
        "username": "rita",
        "password": "pw-rita",
        "run_record_sha256": run.record_sha256 if run else "ab" * 32,
        "seen_version": str(review_of(job).version),
    } | changes


def stored() -> tuple[int, int, int]:
    # Reading a page ledgers an access event; anything else new in the ledger would be stored by the form.
    entries = LedgerEntry.objects.exclude(subject__startswith="access:").count()
    return SignOff.objects.count(), ReviewerConclusion.objects.count(), entries


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"meaning": "rejected"}, "Give a reason: a signature meaning rejected needs one."),
        ({"run_record_sha256": "ab" * 32}, "not this job&#x27;s run record"),
        ({"seen_version": "3"}, "Someone signed this job after you opened the form"),
        ({"seen_version": "x"}, "Someone signed this job after you opened the form"),
        ({"meaning": ""}, "Choose what your signature means"),
    ],
)
def test_bad_forms_give_the_sentence_and_store_nothing(
    finished: Job, reviewer: User, changes: dict[str, str], message: str
):
    before = stored()
    response = client_for(reviewer).post(reverse("job-review", args=[finished.pk]), post_for(finished, **changes))
    assert response.status_code == 400
    assert message in text(response)
    assert stored() == before


def test_a_wrong_password_is_refused_on_the_form_and_never_echoed(finished: Job, reviewer: User):
    before = stored()[:2]
    response = client_for(reviewer).post(
        reverse("job-review", args=[finished.pk]), post_for(finished, password="hunter2-wrong", conclusion="Mine.")
    )
    assert response.status_code == 400
    html = text(response)
    assert "The password is not correct; nothing was signed." in html
    assert "hunter2-wrong" not in html
    assert "Mine." in html  # what they wrote is kept; only the password is not
    assert stored()[:2] == before
    assert SigningFailure.objects.count() == 1  # the failed attempt itself is ledgered (the lock-out counts them)


def test_signing_twice_is_refused_on_the_page(finished: Job, reviewer: User):
    client = client_for(reviewer)
    post = post_for(finished, meaning="changes_requested", reason="Dates?")
    assert client.post(reverse("job-review", args=[finished.pk]), post).status_code == 302
    before = stored()
    response = client.post(
        reverse("job-review", args=[finished.pk]), post_for(finished, meaning="changes_requested", reason="Again")
    )
    assert response.status_code == 400
    assert "You already signed this job as changes requested" in text(response)
    assert stored() == before
    assert "You signed this job as changes requested" in text(client.get(reverse("job-review", args=[finished.pk])))


def test_ones_own_job_shows_no_form_and_a_post_is_refused(team: Team, reviewer: User):
    team.members.add(reviewer)
    own = FinishedJobFactory(submitter=reviewer, team=team)
    client = client_for(reviewer)
    html = text(client.get(reverse("job-review", args=[own.pk])))
    assert "You submitted this job; someone else must review it (four eyes)." in html
    assert 'id="sign-off-form"' not in html
    before = stored()
    response = client.post(reverse("job-review", args=[own.pk]), post_for(own))
    assert response.status_code == 400
    assert "You submitted this job" in text(response)
    assert stored() == before
    assert own.pk not in queue_order(text(client.get(reverse("review-queue"))))


def test_a_queued_or_cancelled_job_is_not_reviewable(analyst: User, reviewer: User):
    queued, cancelled, failed = (JobFactory(submitter=analyst) for _ in range(3))
    cancel_job(cancelled)
    token = uuid.uuid4()
    assert claim_job(failed.pk, token) is not None
    fail_job(failed.pk, token, "The model could not be loaded.")
    client = client_for(reviewer)
    for job, status in ((queued, "queued"), (cancelled, "cancelled"), (failed, "failed")):
        job.refresh_from_db()
        html = text(client.get(reverse("job-review", args=[job.pk])))
        assert f"This job is {status}: it is not reviewable." in html
        before = stored()
        response = client.post(reverse("job-review", args=[job.pk]), post_for(job))
        assert response.status_code == 400
        assert f"Job {job.pk} is {status}; only a job that finished with an answer can be signed." in text(response)
        assert stored() == before
    for job in (cancelled, failed):
        page = text(client_for(analyst).get(reverse("job-detail", args=[job.pk])))
        assert "This job is not reviewable" in page
        assert "Run again</button>" in page


def test_reviewers_out_of_scope_get_404_and_others_403(
    analyst: User, outsider: User, operator: User, team: Team, clinical: Job
):
    legal_only = assign(make_user("lena", "reviewer", None), team, "legal")
    tax_reviewer = make_user("tara", "reviewer", None)
    assign(tax_reviewer, Team.objects.create(name="Tax2"), "clinical")
    url = reverse("job-review", args=[clinical.pk])
    for user in (legal_only, tax_reviewer):
        client = client_for(user)
        assert client.get(url).status_code == 404
        assert (
            client.post(url, post_for(clinical, username=user.username, password="pw-" + user.username)).status_code
            == 404
        )
        assert client.get(reverse("job-detail", args=[clinical.pk])).status_code == 404
    for user in (analyst, outsider, operator):
        response = client_for(user).get(url)
        assert response.status_code == 403
        assert "Only reviewers may" in text(response)
    assert Client().get(url).status_code == 302
    assert SignOff.objects.count() == 0
    assert SigningFailure.objects.count() == 0


def test_a_reviewer_reads_the_jobs_in_scope_and_gets_the_link(finished: Job, reviewer: User):
    client = client_for(reviewer)
    page = client.get(reverse("job-detail", args=[finished.pk]))
    assert page.status_code == 200
    assert 'id="review-and-sign"' in text(page)
    assert finished.pk in [job.pk for job in client.get(reverse("job-list")).context["page"]]
    # Read-only: reviewers neither cancel nor re-run.
    assert client.post(reverse("job-cancel", args=[finished.pk])).status_code == 403
    assert client.post(reverse("job-rerun", args=[finished.pk])).status_code == 403


def test_a_forged_sign_off_is_shown_in_red_and_never_counts(analyst: User, reviewer: User, finished: Job):
    # Forged on purpose: an approval inserted with the app role's INSERT grant, with no ledger entry.
    insert_unledgered(
        SignOff(
            job=finished,
            run_record_sha256=finished.run.record_sha256,
            signer=reviewer,
            signer_username="rita",
            signer_name="Rita Reviewer",
            meaning="approved",
            statement="forged",
            approvals_required=1,
            record_sha256="0" * 64,
        )
    )
    page = text(client_for(analyst).get(reverse("job-detail", args=[finished.pk])))
    assert "awaiting review (0 of 1)" in page
    assert "approved by" not in page
    assert re.search(r'class="unverified" role="alert">Unverified: [^<]*signoff', page, re.IGNORECASE)
    listing = text(client_for(analyst).get(reverse("job-list")))
    assert "awaiting review (0 of 1)" in listing


def test_repeated_wrong_passwords_on_the_form_lock_signing_with_a_sentence(finished: Job, reviewer: User, settings):
    settings.GLASSBOX = settings.GLASSBOX | {"SIGNING_MAX_FAILURES": 2}
    client = client_for(reviewer)
    url = reverse("job-review", args=[finished.pk])
    client.post(url, post_for(finished, password="wrong-1"))
    response = client.post(url, post_for(finished, password="wrong-2"))
    assert "Signing is now locked for your account until" in text(response)
    response = client.post(url, post_for(finished))  # the right password, while locked
    assert response.status_code == 400
    assert "Signing is locked for your account until" in text(response)
    assert SignOff.objects.count() == 0


def test_the_queue_reads_only_jobs_the_rows_leave_undecided(analyst: User, reviewer: User, second_reviewer: User):
    """Decided jobs (a rejection; a legal approval) are not candidates, so the queue and the navigation's count do
    not read every decided job's evidence; a clinical job with one approval of two still is."""
    from audit_app.services.review_queue import _candidates

    rejected, approved, awaiting = (FinishedJobFactory(submitter=analyst) for _ in range(3))
    half = FinishedJobFactory(submitter=analyst, domain="clinical")
    signed_by(rejected, second_reviewer, "pw-rolf", "rejected", reason="Wrong clause.")
    signed_by(approved, second_reviewer, "pw-rolf")
    signed_by(half, second_reviewer, "pw-rolf")
    assert sorted(job.pk for job in _candidates(reviewer)) == sorted([awaiting.pk, half.pk])
