"""Every number a submission carries is bounded, and what is hashed is what the database gives back.

Property: any generation settings either get a field error with nothing stored, or are stored and the
ledger verifies; no input can leave a write-once row that disagrees with its ledger entry.
"""

from __future__ import annotations

import math

import pytest
from django.contrib.auth.models import User
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from audit_app.ledger.canonical import record_hash
from audit_app.ledger.records import evidence_hash, evidence_record
from audit_app.ledger.signer import public_verifier_key
from audit_app.ledger.verify import verify_ledger
from audit_app.models import Case, Job, Submission, Team
from audit_app.services.errors import SubmissionError
from audit_app.services.store import store_evidence
from audit_app.services.submission import submit_job
from inference import GenerationSettings
from tests.service.test_web import post_form

pytestmark = pytest.mark.django_db
SETTINGS_FIELDS = {"temperature", "top_p", "seed", "thinking_budget", "answer_budget", "documents"}

odd_numbers = st.sampled_from(
    [
        1e16,
        1e308,
        -1e308,
        5e-324,
        -0.0,
        2.0000000000000004,
        2**53 - 1,
        2**53,
        2**63,
        -(2**63),
        10**400,
        -1,
        0,
        1,
        math.nan,
        math.inf,
        -math.inf,
    ]
)
any_number = st.one_of(odd_numbers, st.floats(), st.integers())
# Values inside the bounds, edges included, so that a good share of examples is stored and verified.
valid = {
    "temperature": st.one_of(st.floats(min_value=0, max_value=2), st.sampled_from([-0.0, 5e-324, 2, 1e-300])),
    "top_p": st.one_of(st.floats(min_value=5e-324, max_value=1), st.sampled_from([1, 1e-300])),
    "seed": st.one_of(st.integers(min_value=0, max_value=2**53 - 1), st.sampled_from([0, 2**53 - 1])),
    "thinking_budget": st.integers(min_value=1, max_value=64),
    "answer_budget": st.integers(min_value=1, max_value=64),
}


@st.composite
def generation_settings(draw: st.DrawFn) -> GenerationSettings:
    """Every field in range, except (mostly) one that gets any number at all."""
    values = {name: draw(strategy) for name, strategy in valid.items()}
    hostile = draw(st.sampled_from([None, *valid]))
    if hostile is not None:
        values[hostile] = draw(any_number)
    return GenerationSettings(**values)


def submitted(analyst: User, team: Team, generation: GenerationSettings) -> Job | SubmissionError:
    try:
        return submit_job(analyst, team, "C-1", "legal", "Is it binding?", generation=generation)
    except SubmissionError as error:
        return error


def ledger_verifies() -> bool:
    """True when the ledger verifies: ``verify_ledger`` raises on a problem here, returns a failing report elsewhere."""
    try:
        report = verify_ledger(public_verifier_key())
    except Exception as error:
        if type(error).__name__ == "LedgerProblem":
            return False
        raise
    return bool(getattr(report, "ok", True))


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(generation=generation_settings())
def test_any_settings_are_refused_with_a_field_error_or_stored_and_verified(
    analyst: User, team: Team, generation: GenerationSettings
):
    before = Submission.objects.count()
    outcome = submitted(analyst, team, generation)
    if isinstance(outcome, SubmissionError):
        assert outcome.field in SETTINGS_FIELDS, str(outcome)
        assert Submission.objects.count() == before
        event(f"refused: {outcome.field}")
        return
    job = outcome
    event("stored")
    stored = Submission.objects.get(pk=job.submission_id)
    assert record_hash(evidence_record(stored)) == stored.record_sha256
    assert ledger_verifies()


@pytest.mark.parametrize(
    ("changes", "field", "sentence"),
    [
        ({"temperature": "1e16"}, "temperature", "The temperature must be between 0 and 2."),
        ({"temperature": "1e308"}, "temperature", "The temperature must be between 0 and 2."),
        ({"temperature": "nan"}, "temperature", "Enter a number."),
        ({"temperature": "inf"}, "temperature", "Enter a number."),
        ({"temperature": "9" * 5000}, "temperature", "Enter a number."),
        ({"top_p": "0"}, "top_p", "top_p must be above 0 and at most 1."),
        ({"top_p": "1.5"}, "top_p", "top_p must be above 0 and at most 1."),
        ({"seed": str(2**53)}, "seed", "The seed must be a whole number from 0 to 9007199254740991"),
        ({"seed": str(2**63)}, "seed", "The seed must be a whole number from 0 to 9007199254740991"),
        ({"seed": "-1"}, "seed", "The seed must be a whole number from 0 to 9007199254740991"),
        ({"seed": "9" * 5000}, "seed", "Enter a whole number."),
        ({"answer_budget": "40001"}, "answer_budget", "at most the context limit of 40000"),
        ({"thinking_budget": "0"}, "thinking_budget", "must be a whole number above 0"),
    ],
)
def test_each_number_out_of_range_is_a_field_error_on_the_form(
    analyst: User, changes: dict[str, str], field: str, sentence: str
):
    response = post_form(analyst, **changes)
    assert response.status_code == 200
    assert sentence in " ".join(response.context["form"].errors[field])
    assert (Submission.objects.count(), Job.objects.count()) == (0, 0)


def test_the_engine_refuses_a_seed_beyond_2_to_the_53(analyst: User, team: Team):
    with pytest.raises(SubmissionError) as error:
        submit_job(analyst, team, "C-1", "legal", "Q?", generation=GenerationSettings(seed=2**53))
    assert error.value.field == "seed"
    assert not Submission.objects.exists()


def test_json_is_hashed_as_jsonb_gives_it_back(analyst: User, team: Team):
    # jsonb turns keys into strings; the hash and the ledger entry must describe the row as stored.
    case = Case.objects.create(team=team, reference="C-1", domain="legal")
    values = {"temperature": 0.5, "extra": {1: 2.0}}
    submission = Submission(
        case=case,
        submitted_by=analyst,
        submitted_by_name="alice",
        domain="legal",
        question="Q?",
        template_id="legal/v1",
        settings=values,
    )
    store_evidence(submission)
    stored = Submission.objects.get(pk=submission.pk)
    assert stored.settings == {"temperature": 0.5, "extra": {"1": 2.0}}
    assert record_hash(evidence_record(stored)) == submission.record_sha256


def test_a_number_jsonb_would_respell_beyond_the_canonical_form_is_refused_before_insert(analyst: User, team: Team):
    case = Case.objects.create(team=team, reference="C-1", domain="legal")
    submission = Submission(
        case=case,
        submitted_by=analyst,
        submitted_by_name="alice",
        domain="legal",
        question="Q?",
        template_id="legal/v1",
        settings={"temperature": 1e16},
    )
    with pytest.raises(ValueError, match="10000000000000000 exceeds safe integer domain"):  # jsonb's integer 10^16
        evidence_hash(submission)
