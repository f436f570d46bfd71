"""Whether a row may be shown as evidence: its ledger entry, found by subject, must give back the row's record.

Pages show evidence only from what was ledgered: the row's record is recomputed and compared with the
record in its entry's payload, and what the page shows is taken from that payload. A row inserted
outside Glassbox (no entry), or edited after its entry was written, is never presented as evidence.
Checks run in one query per batch of rows, so a page of jobs costs one extra query, not one per job.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import models
from django.db.models.functions import Cast, Concat

from audit_app.ledger import log, signer
from audit_app.ledger.canonical import canonical_json, record_hash, sha256_hex
from audit_app.ledger.records import evidence_record
from audit_app.ledger.standalone import leaf_hash
from audit_app.models import Job, KillSwitchEvent, LedgerEntry, RunRecord, Submission

NAMES = {"submission": "Submission", "run": "Run record", "kill_switch": "Kill-switch event"}


@dataclasses.dataclass(frozen=True)
class Ledgered:
    """A row's standing in the ledger: ``problem`` is a sentence when it is not evidence, else empty."""

    subject: str
    problem: str
    body: dict[str, Any]  # the entry's payload; what pages show comes from here

    @property
    def verified(self) -> bool:
        return not self.problem

    @property
    def record(self) -> dict[str, Any]:
        record: dict[str, Any] = self.body.get("record", {})
        return record


def check_rows(kind: str, rows: Iterable[models.Model], documents: bool = False) -> dict[Any, Ledgered]:
    """Each row (by primary key) checked against its ``<kind>:<id>`` entry, in one query for all of them."""
    by_subject = {f"{kind}:{row.pk}": row for row in rows}
    found: dict[str, list[tuple[bytes, bytes]]] = defaultdict(list)
    entries = LedgerEntry.objects.filter(subject__in=list(by_subject)).order_by("sequence")
    for subject, payload, leaf in entries.values_list("subject", "payload", "leaf_hash"):
        found[subject].append((bytes(payload), bytes(leaf)))
    return {row.pk: _check(kind, subject, row, found[subject], documents) for subject, row in by_subject.items()}


def check_row(kind: str, row: models.Model, documents: bool = False) -> Ledgered:
    return check_rows(kind, [row], documents)[row.pk]


def _check(kind: str, subject: str, row: models.Model, found: list[tuple[bytes, bytes]], documents: bool) -> Ledgered:
    name = f"{NAMES.get(kind, kind)} {row.pk}"
    if not found:
        return Ledgered(
            subject, f"{name} has no ledger entry: it was not recorded by Glassbox and is not evidence.", {}
        )
    if len(found) > 1:
        return Ledgered(subject, f"{name} has {len(found)} ledger entries; evidence has exactly one.", {})
    payload, stored_leaf = found[0]
    if leaf_hash(payload) != stored_leaf:
        return Ledgered(subject, f"The ledger entry of {name} was altered after it was written.", {})
    body: dict[str, Any] = json.loads(payload)
    record = evidence_record(row)
    ledgered_hash = body.get("record_sha256")
    if record != body.get("record") or record_hash(record) != ledgered_hash:
        return Ledgered(subject, f"{name} differs from its ledger entry.", body)
    if getattr(row, "record_sha256", None) != ledgered_hash:
        return Ledgered(subject, f"The stored hash of {name} differs from its ledger entry.", body)
    if documents and isinstance(row, Submission):
        stored = [evidence_record(d) for d in row.documents.order_by("position")]
        if stored != body.get("documents"):
            return Ledgered(subject, f"The documents of {name} differ from its ledger entry.", body)
    return Ledgered(subject, "", body)


def ledger_size() -> int:
    """How many entries the ledger holds (pages read the ledger through services, never its internals)."""
    return log.tree_size()


def verifier_key() -> str:
    """The public key auditors verify checkpoints with (``name+hash+key``)."""
    return signer.public_verifier_key()


def ledgered_time(value: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(value)


@dataclasses.dataclass(frozen=True)
class JobEvidence:
    """What the job page may show: ledgered records and hashes recomputed from them, or sentences why not."""

    submission: dict[str, Any] | None
    submission_problem: str
    case_changed: bool  # the Case row no longer says what the ledgered submission recorded
    documents: list[dict[str, Any]]
    submission_hashes: dict[str, str]
    run: dict[str, Any] | None
    run_problem: str
    run_hashes: dict[str, str]


def job_evidence(job: Job) -> JobEvidence:
    """The job's submission and run, each shown only if it checks out against its entry and its binding."""
    submission = job.submission
    ledgered = check_row("submission", submission, documents=True)
    run_row: RunRecord | None = getattr(job, "run", None)
    run = check_row("run", run_row) if run_row is not None else None
    ledgered = _bound_to(job, ledgered)
    problem = ledgered.problem
    if not problem and run is not None and run.verified:
        answered = run.record.get("submission_record_sha256")
        if answered != ledgered.body.get("record_sha256"):
            problem = (
                f"This job's run answers the submission with record hash {answered}, not submission "
                f"{submission.pk} that the job row now points at."
            )
    record = ledgered.record if not problem else None
    case_changed = record is not None and (
        submission.case.reference != record["case_reference"] or submission.case.team.name != record["team_name"]
    )
    shown_run = run.record if run is not None and run.verified else None
    return JobEvidence(
        submission=record and {**record, "submitted_at": ledgered_time(record["submitted_at"])},
        submission_problem=problem,
        case_changed=case_changed,
        documents=ledgered.body.get("documents", []) if record else [],
        submission_hashes=_submission_hashes(record) if record else {},
        run=shown_run,
        run_problem=run.problem if run is not None else "",
        run_hashes=_run_hashes(shown_run) if shown_run else {},
    )


def _submission_hashes(record: dict[str, Any]) -> dict[str, str]:
    return {"question": sha256_hex(record["question"].encode()), "record": record_hash(record)}


def _run_hashes(record: dict[str, Any]) -> dict[str, str]:
    return {
        "prompt": sha256_hex(canonical_json(record["prompt_token_ids"])),
        "thinking": sha256_hex(record["thinking"].encode()),
        "answer": sha256_hex(record["answer"].encode()),
        "record": record_hash(record),
    }


def job_rows(jobs: Sequence[Job]) -> list[tuple[Job, Ledgered]]:
    """Jobs of one list page with their submissions checked (one query for the whole page)."""
    checked = check_rows("submission", [job.submission for job in jobs])
    return [(job, _bound_to(job, checked[job.submission_id])) for job in jobs]


def _bound_to(job: Job, ledgered: Ledgered) -> Ledgered:
    """The submission's entry names the job it was stored with; a re-pointed job gets a problem."""
    if ledgered.verified and ledgered.body.get("job") != job.pk:
        problem = f"Submission {job.submission_id} was recorded for job {ledgered.body.get('job')}, not this one."
        return dataclasses.replace(ledgered, problem=problem)
    return ledgered


@dataclasses.dataclass(frozen=True)
class HistoryLine:
    at: datetime.datetime
    action: str
    actor_name: str
    reason: str
    problem: str = ""


@dataclasses.dataclass(frozen=True)
class _Entry:
    subject: str
    key: int
    payload: bytes
    leaf: bytes
    recorded_at: datetime.datetime


def _recent_kill_switch(limit: int) -> list[_Entry]:
    """The latest ``kill_switch`` entries by sequence: few rows through the subject index, newest first."""
    entries = (
        LedgerEntry.objects.filter(subject__startswith="kill_switch:")
        .order_by("-sequence")
        .values_list("subject", "payload", "leaf_hash", "recorded_at")[:limit]
    )
    return [
        _Entry(subject, int(subject.partition(":")[2]), bytes(payload), bytes(leaf), at)
        for subject, payload, leaf, at in entries
        if subject.partition(":")[2].isdigit()
    ]


def kill_switch_state() -> KillSwitchEvent | None:
    """The event of the latest ``kill_switch`` entry by sequence; None if there is none (two small queries).

    When that entry's row does not give back its ledgered record, the switch fails safe: a
    suspension (not saved) that says why, until an operator's next event is ledgered.
    """
    recent = _recent_kill_switch(1)
    if not recent:
        return None
    latest = recent[0]
    row: KillSwitchEvent | None = KillSwitchEvent.objects.filter(pk=latest.key).first()
    if row is not None and _check("kill_switch", latest.subject, row, [(latest.payload, latest.leaf)], False).verified:
        return row
    return KillSwitchEvent(
        action=KillSwitchEvent.SUSPEND,
        actor_name="Glassbox",
        at=latest.recorded_at,
        reason=f"the latest kill-switch event ({latest.subject}) does not match its ledger entry; "
        "inference stays suspended until an operator suspends or resumes again.",
    )


def kill_switch_history(limit: int = 50) -> list[HistoryLine]:
    """Ledgered events newest first by sequence, shown from their entries; then rows the ledger lacks."""
    entries = _recent_kill_switch(limit)
    rows = KillSwitchEvent.objects.in_bulk([entry.key for entry in entries])
    lines = []
    for entry in entries:
        row = rows.get(entry.key)
        if row is None:
            gone = f"Kill-switch event {entry.key} is in the ledger but its row is gone."
            lines.append(HistoryLine(entry.recorded_at, "", "", "", gone))
            continue
        ledgered = _check("kill_switch", entry.subject, row, [(entry.payload, entry.leaf)], False)
        record = ledgered.record
        if record:
            lines.append(
                HistoryLine(
                    ledgered_time(record["at"]),
                    record["action"],
                    record["actor_name"],
                    record["reason"],
                    ledgered.problem,
                )
            )
        else:
            lines.append(HistoryLine(row.at, row.action, row.actor_name, row.reason, ledgered.problem))
    subjects = Concat(models.Value("kill_switch:"), Cast("pk", models.CharField()))
    unledgered = KillSwitchEvent.objects.annotate(subject=subjects).exclude(
        subject__in=LedgerEntry.objects.filter(subject__startswith="kill_switch:").values("subject")
    )
    for row in unledgered.order_by("-id")[:limit]:
        problem = (
            f"Kill-switch event {row.pk} has no ledger entry: it was not recorded by Glassbox and is not evidence."
        )
        lines.append(HistoryLine(row.at, row.action, row.actor_name, row.reason, problem))
    return lines
