"""What an audit report shows, taken from the ledgered evidence only (FOUNDATION: minimal; the report
helper fills every section the issue lists)."""

from __future__ import annotations

import datetime
from typing import Any

from audit_app.models import Job
from audit_app.services.evidence import job_evidence


def report_context(job: Job, bundle: dict[str, Any], exported_at: datetime.datetime) -> dict[str, Any]:
    evidence = job_evidence(job)
    hashes = evidence.run_hashes or evidence.submission_hashes
    return {
        "job": job,
        "evidence": evidence,
        "bundle": bundle,
        "exported_at": exported_at,
        "record_sha256": hashes.get("record", ""),
        "test_model": bool(evidence.run and evidence.run.get("is_test_model")),
    }
