"""[4/10]'s forged-row checks, extended to sign-offs, reviewers' conclusions and signing failures.

Every row here is written through ``sign_off`` (or, for the ledgered-but-wrongly-bound case, the single
evidence helper ``store_evidence`` with a real hash), then tampered with as an insider could: an INSERT with
the app role, an UPDATE as a superuser with the write-once triggers off. Each is named by table and id,
``verify_ledger`` exits 1, and pages never count such a row as a signature. Odd but valid input verifies clean.
"""

from __future__ import annotations

import copy

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError

from audit_app.models import Job, ReviewerConclusion, SigningFailure, SignOff, Team
from audit_app.services.review import SignOffRefused, sign_off
from audit_app.services.review_state import review_of, reviews
from audit_app.services.store import store_evidence
from tests.factories import FinishedJobFactory, signoff_form
from tests.forging import insert_unledgered
from tests.ledger.insider import named, superuser, verify
from tests.people import assign, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def other(analyst: User) -> Job:
    return FinishedJobFactory(submitter=analyst)


def rejected_with_conclusion(job: Job, reviewer: User) -> tuple[SignOff, ReviewerConclusion]:
    signature = sign_off(
        job.pk, reviewer, signoff_form(job, "rejected", reason="Cites repealed law.", conclusion="Not so.")
    )
    return signature, ReviewerConclusion.objects.get(job=job)


def failed_attempt(job: Job, reviewer: User) -> SigningFailure:
    with pytest.raises(SignOffRefused):
        sign_off(job.pk, reviewer, signoff_form(job, password="wrong"))
    return SigningFailure.objects.get(job=job)


def unledgered_copy(row: SignOff | ReviewerConclusion | SigningFailure, **changes: object):
    """An insider's INSERT with the app role: a copy of a real row, some columns changed, no ledger entry."""
    forged = copy.copy(row)
    forged.pk = None
    for name, value in changes.items():
        setattr(forged, name, value)
    return insert_unledgered(forged)


def test_unledgered_signoff_conclusion_and_failure_are_each_named(finished: Job, other: Job, reviewer: User):
    signature, conclusion = rejected_with_conclusion(finished, reviewer)
    failure = failed_attempt(finished, reviewer)
    assert verify().ok
    # The forged approval sits on another job so that the one-per-reviewer constraint lets it in.
    forged_signoff = unledgered_copy(
        signature, job=other, meaning="approved", run_record_sha256=other.run.record_sha256
    )
    forged_conclusion = unledgered_copy(conclusion, text="The model was right after all.")
    forged_failure = unledgered_copy(failure, reason="wrong user id")
    report = verify()
    assert {
        ("audit_app_signoff", str(forged_signoff.pk)),
        ("audit_app_reviewerconclusion", str(forged_conclusion.pk)),
        ("audit_app_signingfailure", str(forged_failure.pk)),
    } <= named(report)
    assert not report.ok


@pytest.mark.parametrize(
    ("table", "column", "value", "row"),
    [
        ("audit_app_signoff", "reason", "No reason.", "signoff"),
        ("audit_app_signoff", "meaning", "approved", "signoff"),
        ("audit_app_signoff", "signer_name", "Someone Else", "signoff"),
        ("audit_app_reviewerconclusion", "text", "Edited conclusion.", "conclusion"),
        ("audit_app_signingfailure", "reason", "edited", "failure"),
    ],
)
def test_an_edited_review_row_is_named(finished: Job, reviewer: User, table: str, column: str, value: str, row: str):
    signature, conclusion = rejected_with_conclusion(finished, reviewer)
    failure = failed_attempt(finished, reviewer)
    pk = {"signoff": signature, "conclusion": conclusion, "failure": failure}[row].pk
    superuser(table, f"UPDATE {table} SET {column} = %s WHERE id = %s", value, pk)
    report = verify()
    assert (table, str(pk)) in named(report)
    assert any(p.row_id == str(pk) and column in p.message for p in report.problems)


def test_a_signoff_moved_to_another_job_is_named_and_bound_elsewhere(finished: Job, other: Job, reviewer: User):
    signature = sign_off(finished.pk, reviewer, signoff_form(finished))
    superuser("audit_app_signoff", "UPDATE audit_app_signoff SET job_id = %s WHERE id = %s", other.pk, signature.pk)
    report = verify()
    messages = [p.message for p in report.problems if (p.table, p.row_id) == ("audit_app_signoff", str(signature.pk))]
    assert any("job_id" in message for message in messages)  # the walk: the row differs from its entry
    # The binding: it names job `other` but signs `finished`'s run record.
    assert any(f"job {other.pk}" in m and f"job {finished.pk}" in m for m in messages), messages
    assert review_of(other).signatures == []
    assert review_of(other).problems


def test_a_signoff_copied_onto_another_jobs_record_is_named(finished: Job, other: Job, reviewer: User):
    signature = sign_off(finished.pk, reviewer, signoff_form(finished))
    # Unledgered: a copy naming the other job, keeping the first job's run hash (or taking the other's).
    kept = unledgered_copy(signature, job=other)
    report = verify()
    assert ("audit_app_signoff", str(kept.pk)) in named(report)
    assert any(p.row_id == str(kept.pk) and f"job {finished.pk}" in p.message for p in report.problems)
    assert review_of(other).state == "awaiting_review"


def test_a_ledgered_signoff_bound_to_another_jobs_run_record_is_named(
    finished: Job, other: Job, reviewer: User, second_reviewer: User
):
    """Everything ledgered, hashes real: only the binding is wrong. ``sign_off`` never writes this (it binds
    the job's own run record), but anyone who can call the evidence helper can; the binding check names it."""
    real = sign_off(finished.pk, reviewer, signoff_form(finished))
    signature = store_evidence(
        SignOff(
            job=other,
            run_record_sha256=finished.run.record_sha256,
            signer=reviewer,
            signer_username="rita",
            signer_name="Rita Reviewer",
            meaning="approved",
            statement=real.statement,
            approvals_required=1,
        )
    )
    conclusion = store_evidence(
        ReviewerConclusion(
            job=other,
            run_record_sha256=other.run.record_sha256,
            signoff_record_sha256=real.record_sha256,  # a sign-off of another job
            author=reviewer,
            author_name="Rita Reviewer",
            text="Copied.",
        )
    )
    by_rolf = sign_off(other.pk, second_reviewer, signoff_form(other, password="pw-rolf"))
    stranger = store_evidence(
        ReviewerConclusion(
            job=other,
            run_record_sha256=other.run.record_sha256,
            signoff_record_sha256=by_rolf.record_sha256,  # the right job, but someone else's signature
            author=reviewer,
            author_name="Rita Reviewer",
            text="Not my signature.",
        )
    )
    report = verify()
    problems = {(p.table, p.row_id): p.message for p in report.problems}
    assert set(problems) == {
        ("audit_app_signoff", str(signature.pk)),
        ("audit_app_reviewerconclusion", str(conclusion.pk)),
        ("audit_app_reviewerconclusion", str(stranger.pk)),
    }
    assert f"job {other.pk}" in problems[("audit_app_signoff", str(signature.pk))]
    assert f"run record of job {finished.pk}" in problems[("audit_app_signoff", str(signature.pk))]
    assert "sign-off" in problems[("audit_app_reviewerconclusion", str(conclusion.pk))]
    assert "sign-off" in problems[("audit_app_reviewerconclusion", str(stranger.pk))]
    # Pages agree: neither the re-bound signature nor the unbound conclusions count.
    review = review_of(other)
    assert [s.signer_username for s in review.signatures] == ["rolf"]
    assert review.conclusions == []
    assert len(review.problems) == 3


def test_a_signoff_bound_to_a_hash_no_run_has_is_named(finished: Job, reviewer: User):
    signature = store_evidence(
        SignOff(
            job=finished,
            run_record_sha256="ab" * 32,
            signer=reviewer,
            signer_username="rita",
            signer_name="Rita Reviewer",
            meaning="approved",
            statement="x",
            approvals_required=1,
        )
    )
    report = verify()
    assert [(p.table, p.row_id) for p in report.problems] == [("audit_app_signoff", str(signature.pk))]
    assert "no run record has" in report.problems[0].message


def test_verify_ledger_exits_1_naming_forged_review_rows(finished: Job, other: Job, reviewer: User, capsys):
    signature, conclusion = rejected_with_conclusion(finished, reviewer)
    forged = unledgered_copy(signature, job=other, run_record_sha256=other.run.record_sha256)
    superuser(
        "audit_app_reviewerconclusion",
        "UPDATE audit_app_reviewerconclusion SET text = 'x' WHERE id = %s",
        conclusion.pk,
    )
    with pytest.raises(CommandError, match="Ledger verification failed") as error:
        call_command("verify_ledger")
    assert error.value.returncode == 1
    out = capsys.readouterr().out
    assert f"audit_app_signoff {forged.pk}" in out
    assert f"audit_app_reviewerconclusion {conclusion.pk}" in out


def test_pages_never_count_an_unledgered_or_edited_signoff(finished: Job, other: Job, reviewer: User):
    unledgered_copy(
        sign_off(finished.pk, reviewer, signoff_form(finished, "rejected", reason="No.")),
        job=other,
        meaning="approved",
        run_record_sha256=other.run.record_sha256,
    )
    # The edited one: a rejection turned into an approval as a superuser.
    superuser("audit_app_signoff", "UPDATE audit_app_signoff SET meaning = 'approved' WHERE job_id = %s", finished.pk)
    found = reviews([finished, other])
    for job in (finished, other):
        assert found[job.pk].signatures == []
        assert found[job.pk].state == "awaiting_review"
        assert len(found[job.pk].problems) == 1


ODD = [
    "رُفض: المرجع ملغى",  # Arabic, right to left
    "拒绝\uff1a引用了已废止的法律 🙅\u200d♀️",  # Chinese (a full-width colon), a ZWJ emoji sequence
    "\u202eRTL override\u202c and \u200f marks \u200e",
    "tab\tbell\x07 escape\x1b unit\x1f delete\x7f, nothing NUL",
    "'quoted' \"both\" `ticks` \\ backslash <b>not html</b> & amp",
]


def test_odd_but_valid_review_evidence_verifies_clean(analyst: User, team: Team, reviewer: User):
    odd_reviewer = assign(make_user("seán", "reviewer", None), team, "legal", "clinical")
    odd_reviewer.first_name, odd_reviewer.last_name = "Seán", "O'Brien-Ní Dhúill"
    odd_reviewer.save()
    clinical = FinishedJobFactory(submitter=analyst, domain="clinical")
    sign_off(clinical.pk, reviewer, signoff_form(clinical, reason=ODD[0], conclusion="x" * 10_000))
    sign_off(clinical.pk, odd_reviewer, signoff_form(clinical, password="pw-seán", reason=ODD[1], conclusion=ODD[2]))
    assert review_of(clinical).state == "approved"
    rejected = FinishedJobFactory(submitter=analyst)
    sign_off(
        rejected.pk,
        odd_reviewer,
        signoff_form(rejected, "rejected", password="pw-seán", reason=ODD[3], conclusion=ODD[4]),
    )
    changes = FinishedJobFactory(submitter=analyst)
    sign_off(
        changes.pk, reviewer, signoff_form(changes, "changes_requested", reason="\n".join(ODD), conclusion="🙂" * 2_500)
    )
    failed_attempt(changes, odd_reviewer)
    report = verify()
    assert (report.ok, report.problems) == (True, [])
    found = reviews([clinical, rejected, changes])
    assert [r.state for r in found.values()] == ["approved", "rejected", "changes_requested"]
    assert all(r.problems == [] for r in found.values())
    assert found[clinical.pk].signatures[1].signer_name == "Seán O'Brien-Ní Dhúill"
    assert len(found[clinical.pk].conclusions[0].text) == 10_000
    assert found[rejected.pk].conclusions[0].text == ODD[4]
