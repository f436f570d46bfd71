"""Reading the ledger for the auditor's browser: entries with who acted, and each record's access history.

What a page shows comes from the entries' payloads (parsed here, tolerant of a damaged one, which
``verify_ledger`` names). Finding a user's entries goes through the write-once rows' name columns to
their ``<kind>:<id>`` subjects (indexed), so a filter never parses every payload of the log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import CharField, Q, QuerySet, Value
from django.db.models.functions import Cast, Concat

from audit_app.models import (
    AccessEvent,
    AccountEvent,
    Job,
    KillSwitchEvent,
    LedgerEntry,
    LedgerVerification,
    ReportExport,
    ReviewerConclusion,
    RunRecord,
    SigningFailure,
    SignOff,
    Submission,
)

# Each kind with the name an auditor reads in the filter and the entry lists.
KIND_LABELS = {
    "submission": "Submission",
    "run": "Run record",
    "kill_switch": "Kill-switch event",
    "access": "Access",
    "verification": "Verification",
    "signoff": "Sign-off",
    "conclusion": "Reviewer's conclusion",
    "signing_failure": "Signing failure",
    "account": "Account change",
    "report": "PDF report",
    "report_certificate": "Report-signing certificate",
}
KINDS = list(KIND_LABELS)
# For each kind whose record names a person (runs are the worker's, not a person's): the record's column
# shown as "by", and the lookup the user filter matches a user name against (a conclusion's record has
# only the printed name, so its filter goes through the author's account).
ACTORS: list[tuple[str, Any, str, str]] = [
    ("submission", Submission, "submitted_by_name", "submitted_by_name"),
    ("kill_switch", KillSwitchEvent, "actor_name", "actor_name"),
    ("access", AccessEvent, "actor_name", "actor_name"),
    ("verification", LedgerVerification, "requested_by_name", "requested_by_name"),
    ("signoff", SignOff, "signer_username", "signer_username"),
    ("conclusion", ReviewerConclusion, "author_name", "author__username"),
    ("signing_failure", SigningFailure, "username", "username"),
    ("account", AccountEvent, "actor_name", "actor_name"),
    ("report", ReportExport, "actor_name", "actor_name"),
]
# Kinds whose record names its job in ``job_id``.
JOB_KINDS = {"run", "signoff", "conclusion", "signing_failure", "report"}


@dataclass(frozen=True)
class EntryLine:
    entry: LedgerEntry
    actor: str
    action: str  # for access entries: view or export, and of what
    job: int | None  # the job a submission, run, review or access entry is about

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.entry.kind, self.entry.kind)


def payload_of(entry: LedgerEntry) -> dict[str, Any]:
    try:
        payload = json.loads(bytes(entry.payload))
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def describe(entry: LedgerEntry) -> EntryLine:
    payload = payload_of(entry)
    record = payload.get("record") if isinstance(payload.get("record"), dict) else {}
    assert isinstance(record, dict)
    actor = next((str(record[name]) for kind, _, name, _ in ACTORS if kind == entry.kind and name in record), "")
    action, job = "", None
    if entry.kind == "access":
        action = f"{record.get('action', '?')} of {record.get('subject', '?')}"
        accessed = str(record.get("subject", ""))
        job = int(accessed[4:]) if accessed.startswith("job:") and accessed[4:].isdigit() else None
    elif entry.kind == "submission" and isinstance(payload.get("job"), int):
        job = payload["job"]
    elif entry.kind in JOB_KINDS and isinstance(record.get("job_id"), int):
        job = record["job_id"]
    return EntryLine(entry, actor, action, job)


def entries(kind: str = "", user: str = "") -> QuerySet[LedgerEntry]:
    """Entries newest first, of ``kind`` and/or acted by ``user`` (exact user name)."""
    found = LedgerEntry.objects.order_by("-sequence")
    if kind:
        found = found.filter(kind=kind)
    if user:
        by_user = Q(pk__in=[])
        for name, model, _, lookup in ACTORS:
            subjects = model.objects.filter(**{lookup: user}).annotate(
                entry_subject=Concat(Value(f"{name}:"), Cast("pk", CharField()))
            )
            by_user |= Q(subject__in=subjects.values("entry_subject"))
        found = found.filter(by_user)
    return found


def record_subjects(entry: LedgerEntry) -> list[str]:
    """The subjects under which accesses to ``entry``'s record are logged: for a job's entries, the job's too."""
    line = describe(entry)
    if entry.kind in ("submission", "run") and line.job is not None:
        job = Job.objects.filter(pk=line.job).first()
        if job is not None:
            runs = [f"run:{pk}" for pk in RunRecord.objects.filter(job=job).values_list("pk", flat=True)]
            return [f"job:{job.pk}", f"submission:{job.submission_id}", *runs]
    return [entry.subject]


@dataclass(frozen=True)
class AccessLine:
    sequence: int | None  # None: an access row with no ledger entry, not evidence
    action: str
    actor: str
    subject: str
    at: datetime


def _when(value: Any, fallback: datetime) -> datetime:
    """The access event's own time as its entry records it, else the entry's time."""
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return fallback


def access_history(subjects: list[str]) -> list[AccessLine]:
    """Views and exports of ``subjects``, oldest first, each as its ledger entry says; rows without one last."""
    events = AccessEvent.objects.filter(subject__in=subjects)
    wanted = {f"access:{pk}" for pk in events.values_list("pk", flat=True)}
    lines, seen = [], set()
    for entry in LedgerEntry.objects.filter(subject__in=wanted).order_by("sequence"):
        record = payload_of(entry).get("record", {})
        record = record if isinstance(record, dict) else {}
        seen.add(entry.subject)
        lines.append(
            AccessLine(
                entry.sequence,
                str(record.get("action", "?")),
                str(record.get("actor_name", "?")),
                str(record.get("subject", "?")),
                _when(record.get("at"), entry.recorded_at),
            )
        )
    for event in events.order_by("pk"):
        if f"access:{event.pk}" not in seen:
            lines.append(AccessLine(None, event.action, event.actor_name, event.subject, event.at))
    return lines
