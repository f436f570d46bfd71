"""A case system's whole path through the API, with the real worker and the tiny model: submit, follow the
live token counts, read the ledgered run record, and verify the exported bundle offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.test import Client

from audit_app.models import AccessEvent, Job, RunRecord, Team
from audit_app.services.api_keys import create_key
from audit_app.services.evidence import verifier_key
from tests.ledger.test_bundle_v2 import run_standalone
from tests.service.processes import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_submit_follow_fetch_and_verify_through_the_api(worker, team: Team, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    key = create_key("Matter system", team, "read submit", None, "test setup").secret
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    client = Client()
    body = {
        "domain": "legal",
        "case_reference": "M-4711",
        "question": "Is clause 4 enforceable?",
        "documents": [{"name": "lease.txt", "text": "4. The tenant pays all repairs."}],
        "settings": {"thinking_budget": 32, "answer_budget": 32, "seed": 3},
    }
    created = client.post("/api/v1/jobs/", body, content_type="application/json", **auth)
    assert created.status_code == 201, created.content
    job_id = created.json()["id"]

    def finished() -> bool:
        return client.get(f"/api/v1/jobs/{job_id}/", **auth).json()["status"] == Job.SUCCEEDED

    wait_for(finished, timeout=120, what="the job to succeed")
    shown = client.get(f"/api/v1/jobs/{job_id}/", **auth).json()
    run = RunRecord.objects.get(job_id=job_id)
    assert (shown["thinking_tokens"], shown["answer_tokens"]) == (run.thinking_tokens, run.answer_tokens)
    assert shown["run_record_sha256"] == run.record_sha256
    assert shown["review"]["state"] == "awaiting_review"

    evidence = client.get(f"/api/v1/jobs/{job_id}/run/", **auth).json()
    assert evidence["record_sha256"] == run.record_sha256
    assert evidence["record"]["answer"] == run.answer
    assert evidence["record"]["thinking"] == run.thinking
    assert evidence["record"]["is_test_model"] is True  # the tiny model is labelled as one, here too

    bundle = client.get(f"/api/v1/jobs/{job_id}/bundle/", **auth)
    assert bundle.status_code == 200
    (tmp_path / "bundle.json").write_bytes(bundle.content)
    (tmp_path / "glassbox.vkey").write_text(verifier_key())
    checked = run_standalone(tmp_path / "bundle.json", tmp_path / "glassbox.vkey")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    kinds = [entry["payload"]["kind"] for entry in json.loads(bundle.content)["entries"]]
    assert kinds[0] == "submission"
    assert kinds.count("run") == 1
    assert kinds[-1] == "access"  # the export itself, ledgered inside the bundle it made
    actors = set(AccessEvent.objects.filter(subject=f"job:{job_id}").values_list("actor_name", flat=True))
    assert actors == {f"api-{key.split('_')[1]}"}  # views and the export name the key's account
