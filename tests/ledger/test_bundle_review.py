"""A signed job's bundle holds its sign-offs, conclusions and failed signing attempts, and accesses to them,
and verifies offline; a sign-off of another job, or one bound to another job's run record, is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from audit_app.ledger import standalone
from audit_app.ledger.bundles import build_bundle, find_entry, job_entries
from audit_app.ledger.signer import public_verifier_key
from audit_app.models import AccessEvent, Job, SignOff, Team
from audit_app.services.access_events import record_access
from audit_app.services.exports import export_entry, export_job
from audit_app.services.killswitch import resume_inference, suspend_inference
from audit_app.services.review import SignOffRefused, sign_off
from audit_app.services.store import store_evidence
from tests.factories import FinishedJobFactory, signoff_form
from tests.ledger.test_bundle_v2 import run_standalone  # the offline verifier, run as auditors run it
from tests.people import assign, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed(tmp_path: Path) -> tuple[Job, Job, User]:
    """A clinical job approved twice (one approval with a conclusion) after a wrong password, and another
    job with its own sign-off; a suspension and resumption between the run and the review."""
    team = Team.objects.create(name="Équipe 東京")
    analyst = make_user("zoë", "analyst", team)
    rita = assign(make_user("rita", "reviewer", None), team, "legal", "clinical")
    rolf = assign(make_user("rolf", "reviewer", None), team, "legal", "clinical")
    job = FinishedJobFactory(submitter=analyst, domain="clinical")
    other = FinishedJobFactory(submitter=analyst)
    suspend_inference(analyst, "after the run: not this job's")
    resume_inference(analyst, "nor this")
    with pytest.raises(SignOffRefused):
        sign_off(job.pk, rolf, signoff_form(job, password="wrong"))
    first = sign_off(job.pk, rita, signoff_form(job, conclusion="Dosage 💊 checked; كما هو"))
    sign_off(job.pk, rolf, signoff_form(job, password="pw-rolf"))
    sign_off(other.pk, rita, signoff_form(other, "rejected", reason="Another job's."))
    record_access(analyst, AccessEvent.VIEW, f"signoff:{first.pk}")
    return job, other, rita


def test_a_signed_jobs_bundle_holds_its_review_and_verifies_offline(signed, tmp_path: Path):
    job, _, _ = signed
    (tmp_path / "bundle.json").write_bytes(export_job(job, None, "audrey (test)"))
    (tmp_path / "glassbox.vkey").write_text(public_verifier_key())
    bundle = json.loads((tmp_path / "bundle.json").read_bytes())
    kinds = [e["payload"]["kind"] for e in bundle["entries"]]
    # Not the kill-switch events after the run, not the other job's sign-off.
    assert kinds == ["submission", "run", "signing_failure", "signoff", "conclusion", "signoff", "access", "access"]
    assert all(e["payload"]["record"]["job_id"] == job.pk for e in bundle["entries"][2:6])
    assert bundle["entries"][6]["payload"]["record"]["subject"].startswith("signoff:")
    done = run_standalone(tmp_path / "bundle.json", tmp_path / "glassbox.vkey")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"VALID: 8 entries of job:{job.pk} (")
    assert done.stdout.count(" signoff") == 2
    assert " conclusion" in done.stdout
    assert " signing_failure" in done.stdout


def test_exporting_a_signoff_entry_gives_its_jobs_bundle(signed):
    job, _, _ = signed
    signature = SignOff.objects.filter(job=job).first()
    bundle = json.loads(export_entry(find_entry(f"signoff:{signature.pk}"), None, "audrey (test)"))
    assert bundle["subject"] == f"job:{job.pk}"


def test_a_signoff_of_another_job_slipped_in_is_refused(signed):
    job, other, _ = signed
    key = public_verifier_key()
    bundle = build_bundle(f"job:{job.pk}", job_entries(job))
    foreign = build_bundle(f"job:{other.pk}", job_entries(other))
    assert foreign["checkpoint"] == bundle["checkpoint"]  # every proof valid: only the binding differs
    slipped = next(e for e in foreign["entries"] if e["payload"]["kind"] == "signoff")
    spliced = bundle | {"entries": sorted([*bundle["entries"], slipped], key=lambda e: e["index"])}
    with pytest.raises(standalone.VerificationError, match=f"is not about job:{job.pk}"):
        standalone.verify_bundle(spliced, key)
    assert standalone.verify_bundle(bundle, key).startswith("7 entries")


def test_a_ledgered_signoff_bound_to_another_jobs_run_record_is_refused_offline(signed):
    """It names this job, so it belongs to the bundle; but it signs another record, which 11.70 forbids."""
    job, other, rita = signed
    real = SignOff.objects.filter(job=job, signer=rita).get()
    store_evidence(
        SignOff(
            job=job,
            run_record_sha256=other.run.record_sha256,
            signer=make_user("ruth", "reviewer", None),
            signer_username="ruth",
            signer_name="Ruth",
            meaning="approved",
            statement=real.statement,
            approvals_required=2,
        )
    )
    bundle = build_bundle(f"job:{job.pk}", job_entries(job))
    with pytest.raises(standalone.VerificationError, match="which is not a run record of job:"):
        standalone.verify_bundle(bundle, public_verifier_key())


def test_a_conclusion_whose_signoff_is_left_out_is_refused_offline(signed):
    job, _, _ = signed
    bundle = build_bundle(f"job:{job.pk}", job_entries(job))

    def about_a_signoff(entry: dict) -> bool:
        payload = entry["payload"]
        return payload["kind"] == "signoff" or str(payload["record"].get("subject")).startswith("signoff:")

    entries = [e for e in bundle["entries"] if not about_a_signoff(e)]
    with pytest.raises(standalone.VerificationError, match="not its author's sign-off"):
        standalone.verify_bundle(bundle | {"entries": entries}, public_verifier_key())
