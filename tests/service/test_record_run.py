"""Storing what the engine returned, including text PostgreSQL cannot hold as is."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from django.contrib.auth.models import User

from audit_app.ledger.signer import public_verifier_key
from audit_app.ledger.verify import verify_ledger
from audit_app.models import Job, RunRecord, Team
from audit_app.services.pipeline import claim_job, reasoning_request, record_run
from audit_app.services.submission import submit_job
from inference import Engine, GenerationSettings

pytestmark = pytest.mark.django_db


def test_nul_characters_are_stored_as_replacement_and_the_ledger_still_verifies(analyst: User, team: Team):
    from django.conf import settings as django_settings

    engine = Engine.load(django_settings.GLASSBOX["MODEL_PATH"], quantization="bf16")
    job = submit_job(
        analyst, team, "C-1", "legal", "Q?", generation=GenerationSettings(thinking_budget=8, answer_budget=8)
    )
    token = uuid.uuid4()
    claimed = claim_job(job.pk, token)
    assert claimed is not None
    result = engine.generate(reasoning_request(claimed))
    result = dataclasses.replace(result, answer="before\x00after", raw_output=result.raw_output + "\x00")
    run = record_run(job.pk, token, result)
    assert run is not None
    stored = RunRecord.objects.get(pk=run.pk)
    assert stored.answer == "before\ufffdafter"
    assert stored.output_token_ids == list(result.output_token_ids)
    assert Job.objects.get(pk=job.pk).status == Job.SUCCEEDED
    assert verify_ledger(public_verifier_key()).ok
