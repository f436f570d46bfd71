"""What an audit report shows, taken from the ledgered evidence only: the exported bundle's payloads.

The question, documents, trace, answer, provenance and history come from the entries of the bundle the PDF
embeds, so the visible report is a rendering of its own evidence. The review state comes from ``review_of``
(ledgered sign-offs and conclusions under the job's policy). A job whose evidence does not check out gets
no report: ``check_reportable`` says why in one sentence, before anything is exported or ledgered.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
from typing import Any

from django.conf import settings

from audit_app.models import Job
from audit_app.models.review import APPROVED
from audit_app.services.evidence import JobEvidence, job_evidence, ledgered_time
from audit_app.services.report_markdown import legible, report_markdown
from audit_app.services.review_state import AWAITING_REVIEW, NOT_REVIEWABLE, Review, review_of

VERIFY_COMMAND = "python standalone.py report.pdf --key glassbox.vkey"
PROVIDER = "Glassbox, operated on the premises of the organisation named on this report"
TEST_MODEL_MARK = "TEST MODEL: not Magistral; its output is meaningless"


class ReportRefused(Exception):
    """No report was produced and nothing was recorded; the message says why in one sentence."""


def check_reportable(job: Job) -> tuple[JobEvidence, Review]:
    """The job's evidence and review, or ``ReportRefused`` when either does not check out against the ledger."""
    evidence = job_evidence(job)
    problem = evidence.submission_problem or evidence.run_problem
    review = review_of(job)
    if not problem and review.problems:
        problem = review.problems[0]
    if problem:
        raise ReportRefused(f"No report for job {job.pk}: its evidence does not check out ({problem.rstrip('.')}).")
    return evidence, review


def utc(value: datetime.datetime | str | None) -> str:
    """A date as reports print it: ISO-like, UTC, to the second."""
    if value is None or value == "":
        return "—"
    moment = ledgered_time(value) if isinstance(value, str) else value
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _payloads(bundle: dict[str, Any], kind: str) -> list[tuple[int, dict[str, Any]]]:
    return [(e["index"], e["payload"]) for e in bundle["entries"] if e["payload"].get("kind") == kind]


def _one(bundle: dict[str, Any], kind: str, record_sha256: str) -> dict[str, Any] | None:
    """The bundle's payload of ``kind`` whose record hash is the one ``job_evidence`` checked."""
    return next((p for _, p in _payloads(bundle, kind) if p.get("record_sha256") == record_sha256), None)


def report_context(job: Job, bundle: dict[str, Any], exported_at: datetime.datetime) -> dict[str, Any]:
    """Everything ``report/report.html`` shows, from ``bundle`` (the exported, embedded one) and the review.

    The records shown are the bundle's payloads whose hashes ``job_evidence`` just checked against the
    database, so the report, its embedded bundle and the ledger present one and the same record."""
    evidence, review = check_reportable(job)
    submission = _one(bundle, "submission", evidence.submission_hashes.get("record", ""))
    run = _one(bundle, "run", evidence.run_hashes["record"]) if evidence.run else None
    if submission is None or (evidence.run and run is None):
        raise ReportRefused(f"No report for job {job.pk}: the exported bundle lacks the job's checked records.")
    record = run["record"] if run else None
    record_sha256 = (run or submission)["record_sha256"]
    test_model = bool(record and record.get("is_test_model"))
    return {
        "job_id": job.pk,
        "status": job.status,
        "exported_at": utc(exported_at),
        "record_sha256": record_sha256,
        "hash_prefix": record_sha256[:16],
        "test_model": test_model,
        "test_model_mark": TEST_MODEL_MARK,
        "cover": _cover(submission["record"], record),
        "review": _review(review),
        "provenance": _provenance(record),
        "transparency": _transparency(submission["record"], review, bundle),
        "record": _record(submission, record),
        "history": _history(bundle),
        "verification": _verification(bundle, record_sha256),
    }


def _cover(submission: dict[str, Any], run: dict[str, Any] | None) -> dict[str, Any]:
    timings = (run or {}).get("timings", {})
    started = timings.get("started_at_unix")
    return {
        "case_reference": submission["case_reference"],
        "case_title": submission.get("case_title", ""),
        "team": submission["team_name"],
        "domain": submission["domain"],
        "submitted_by": submission["submitted_by_name"],
        "submitted_at": utc(submission["submitted_at"]),
        "started_at": utc(datetime.datetime.fromtimestamp(started, datetime.UTC)) if started else "—",
        "finished_at": utc(run["created_at"]) if run else "—",
    }


def _review(review: Review) -> dict[str, Any]:
    return {
        "state": review.state,
        "label": review.label,
        "approved": review.state == APPROVED,
        "unreviewed": review.state in (NOT_REVIEWABLE, AWAITING_REVIEW),
        "required": review.required,
        "given": len(review.approvals),
        "signatures": [
            {
                "name": s.signer_name,
                "username": s.signer_username,
                "at": utc(s.signed_at),
                "meaning": s.meaning_label,
                "reason": s.reason,
                "statement": s.statement,
            }
            for s in review.signatures
        ],
        "conclusions": [{"author": c.author_name, "at": utc(c.written_at), "text": c.text} for c in review.conclusions],
    }


def _provenance(run: dict[str, Any] | None) -> dict[str, Any] | None:
    if run is None:
        return None
    provenance = run.get("provenance", {})
    device = provenance.get("device", {})
    quantization = provenance.get("quantization", {})
    return {
        "model_id": provenance.get("model_id", ""),
        "revision": provenance.get("revision", ""),
        "architecture": provenance.get("architecture", ""),
        "weights_sha256": provenance.get("weights_sha256", ""),
        "weight_files": sorted(provenance.get("weight_files", {}).items()),
        "tokenizer_sha256": provenance.get("tokenizer_sha256", ""),
        "quantization": ", ".join(f"{k} {v}" for k, v in sorted(quantization.items())),
        "libraries": sorted(provenance.get("libraries", {}).items()),
        "device": ", ".join(f"{k} {v}" for k, v in sorted(device.items())),
        "seed": provenance.get("seed", run.get("settings", {}).get("seed", "")),
        "template_id": run.get("template_id", ""),
        "system_prompt_sha256": run.get("system_prompt_sha256", ""),
        "system_prompt_source": run.get("system_prompt_source", ""),
        "settings": sorted(run.get("settings", {}).items()),
        "is_test_model": bool(run.get("is_test_model")),
    }


def _transparency(submission: dict[str, Any], review: Review, bundle: dict[str, Any]) -> dict[str, Any]:
    return {
        "kill_switch": [
            {
                "index": index,
                "at": utc(p["record"]["at"]),
                "action": p["record"]["action"],
                "who": p["record"]["actor_name"],
                "reason": p["record"]["reason"],
            }
            for index, p in _payloads(bundle, "kill_switch")
        ],
        "provider": PROVIDER,
        "domain": submission["domain"],
        "context_limit": f"{settings.GLASSBOX['CONTEXT_LIMIT']:,}",
        "required": review.required,
        "given": len(review.approvals),
        "state": review.label,
    }


def _record(submission: dict[str, Any], run: dict[str, Any] | None) -> dict[str, Any]:
    record = submission["record"]
    return {
        "question": legible(record["question"]),
        "documents": [
            {"name": legible(d["name"]), "sha256": d["sha256"], "size": d["size"], "type": d["content_type"]}
            for d in submission.get("documents", [])
        ],
        "template_id": record.get("template_id", ""),
        "ran": run is not None,
        "thinking_html": report_markdown(run["thinking"]) if run else "",
        "answer_html": report_markdown(run["answer"]) if run else "",
        "thinking_tokens": run.get("thinking_tokens", 0) if run else 0,
        "answer_tokens": run.get("answer_tokens", 0) if run else 0,
        "thinking_end": run.get("thinking_end", "") if run else "",
        "finish_reason": run.get("finish_reason", "") if run else "",
        "forced": run.get("forced_tokens", []) if run else [],
    }


def _history(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "index": index,
            "at": utc(payload["record"]["at"]),
            "who": payload["record"].get("actor_name", ""),
            "action": payload["record"]["action"],
            "subject": payload["record"]["subject"],
        }
        for index, payload in _payloads(bundle, "access")
    ]


def _verification(bundle: dict[str, Any], record_sha256: str) -> dict[str, Any]:
    note = bundle["checkpoint"]["note"]
    lines = note.split("\n")
    key = bundle["verifier_key"]
    name, key_id, _ = key.split("+", 2)
    return {
        "record_sha256": record_sha256,
        "entries": [
            {"index": e["index"], "subject": e["payload"].get("subject", ""), "kind": e["payload"].get("kind", "")}
            for e in bundle["entries"]
        ],
        "checkpoint_size": bundle["checkpoint"]["size"],
        "checkpoint_root": base64.b64decode(lines[2]).hex() if len(lines) > 2 else "",
        "checkpoint_note": note,
        "key_name": name,
        "key_id": key_id,
        "key_fingerprint": hashlib.sha256(key.encode()).hexdigest(),
        "verifier_key": key,
        "command": VERIFY_COMMAND,
    }
