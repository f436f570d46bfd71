"""Evidence bundles (format 2): every ledger entry of one job or record, each with its inclusion proof,
under one signed checkpoint, with the public key. ``standalone.py`` verifies them offline.

A job's entries are found by subject, never by scanning payloads: its submission (``submission:<id>``),
its runs (``run:<id>``), its review (``signoff:<id>``, ``conclusion:<id>``, ``signing_failure:<id>``),
its earlier PDF reports (``report:<id>``, each naming the PDF's SHA-256), accesses to the job or to any of
those entries (the access event's own subject: a report's downloads), the kill-switch events ledgered
between its submission and its last run (a suspension cancels running jobs: the event is the why of a
cancelled run; a review comes after the run, so it does not widen that window), and every report-signing
certificate ledgered so far (``report_certificate:<id>``, what a signed report is checked against).
"""

from __future__ import annotations

import json
from typing import Any

from django.db.models import Q

from audit_app.ledger import merkle
from audit_app.ledger.log import fetch_nodes
from audit_app.ledger.signer import public_verifier_key, sign_now
from audit_app.ledger.standalone import BUNDLE_FORMAT, canonical_json
from audit_app.models import (
    AccessEvent,
    Checkpoint,
    Job,
    LedgerEntry,
    ReportExport,
    ReviewerConclusion,
    RunRecord,
    SigningFailure,
    SignOff,
)

# Review evidence: each kind's rows name their job in ``job_id`` (as their ledgered records do).
REVIEW_KINDS: dict[str, type[SignOff] | type[ReviewerConclusion] | type[SigningFailure]] = {
    "signoff": SignOff,
    "conclusion": ReviewerConclusion,
    "signing_failure": SigningFailure,
}


def find_entry(reference: str) -> LedgerEntry:
    """An entry by sequence number (``42``) or by subject (``run:7``, ``submission:3``)."""
    entries = (
        LedgerEntry.objects.filter(sequence=int(reference))
        if reference.isdigit()
        else (LedgerEntry.objects.filter(subject=reference))
    )
    entry: LedgerEntry | None = entries.order_by("sequence").first()
    if entry is None:
        raise LookupError(f"No ledger entry for {reference!r}.")
    return entry


def job_of(entry: LedgerEntry) -> Job | None:
    """The job an entry of kind submission, run, sign-off, conclusion or signing failure belongs to, else None."""
    kind, _, pk = entry.subject.partition(":")
    if not pk.isdigit():
        return None
    if kind == "submission":
        return Job.objects.filter(submission_id=int(pk)).first()
    if kind == "run":
        return Job.objects.filter(run__pk=int(pk)).first()
    if kind in REVIEW_KINDS:
        job_id = REVIEW_KINDS[kind].objects.filter(pk=int(pk)).values_list("job_id", flat=True).first()
        return None if job_id is None else Job.objects.filter(pk=job_id).first()
    return None


def job_subjects(job: Job) -> list[str]:
    """The subjects of a job's own evidence entries: its submission and its run."""
    runs = RunRecord.objects.filter(job=job).values_list("pk", flat=True)
    return [f"submission:{job.submission_id}", *(f"run:{pk}" for pk in runs)]


def review_subjects(job: Job) -> list[str]:
    """The subjects of a job's review evidence: its sign-offs, conclusions and failed signing attempts."""
    return [
        f"{kind}:{pk}"
        for kind, model in REVIEW_KINDS.items()
        for pk in model.objects.filter(job=job).order_by("pk").values_list("pk", flat=True)
    ]


def report_subjects(job: Job) -> list[str]:
    """The subjects of a job's earlier PDF exports (``report:<id>``), each naming the PDF's SHA-256."""
    return [f"report:{pk}" for pk in ReportExport.objects.filter(job=job).order_by("pk").values_list("pk", flat=True)]


def access_subjects(subjects: list[str]) -> list[str]:
    """The ledger subjects (``access:<id>``) of every view or export of ``subjects``."""
    events = AccessEvent.objects.filter(subject__in=subjects).values_list("pk", flat=True)
    return [f"access:{pk}" for pk in events]


def job_entries(job: Job) -> list[LedgerEntry]:
    """All entries of ``job`` in log order (see the module's docstring for which)."""
    own = list(LedgerEntry.objects.filter(subject__in=job_subjects(job)).order_by("sequence"))
    reviewed = list(LedgerEntry.objects.filter(subject__in=[*review_subjects(job), *report_subjects(job)]))
    accessed = [f"job:{job.pk}", *(entry.subject for entry in [*own, *reviewed])]
    # The organisation's report-signing certificates: context, like the kill switch; a signed report's
    # verifier trusts its signer only if the certificate is one of these entries.
    wanted = Q(subject__in=access_subjects(accessed)) | Q(subject__startswith="report_certificate:")
    if own:
        # Suspensions and resumptions while the job lived: from its submission to its run, to its end if it
        # finished without one, or to now; they name no job, the run's cancelled finish says it was stopped.
        window = Q(subject__startswith="kill_switch:", sequence__gt=own[0].sequence)
        if len(own) > 1:
            window &= Q(sequence__lt=own[-1].sequence)
        elif job.finished_at is not None:
            window &= Q(recorded_at__lte=job.finished_at)
        wanted |= window
    return sorted([*own, *reviewed, *LedgerEntry.objects.filter(wanted)], key=lambda entry: entry.sequence)


def subject_entries(subject: str) -> list[LedgerEntry]:
    """The entries of a record that is not a job's (a kill-switch event, a verification): it and its accesses."""
    wanted = Q(subject=subject) | Q(subject__in=access_subjects([subject]))
    return list(LedgerEntry.objects.filter(wanted).order_by("sequence"))


def build_bundle(subject: str, entries: list[LedgerEntry]) -> dict[str, Any]:
    """The format 2 bundle of ``entries`` under a checkpoint of the current tree head (signed now if the
    log grew), so that entries written in this transaction, such as the export's own event, are covered."""
    sign_now()
    checkpoint = Checkpoint.objects.order_by("-size", "-id").first()
    assert checkpoint is not None, "sign_now() leaves a checkpoint once the log has an entry"
    return {
        "format": BUNDLE_FORMAT,
        "subject": subject,
        "entries": [
            {
                "index": entry.sequence,
                "leaf_hash": bytes(entry.leaf_hash).hex(),
                "payload": json.loads(bytes(entry.payload)),
                "inclusion_proof": [
                    h.hex() for h in merkle.inclusion_proof(entry.sequence, checkpoint.size, fetch_nodes)
                ],
            }
            for entry in entries
        ],
        "checkpoint": {"size": checkpoint.size, "note": checkpoint.note},
        "verifier_key": public_verifier_key(),
    }


def bundle_bytes(bundle: dict[str, Any]) -> bytes:
    """Canonical JSON, so that every byte of the file is covered by the verification."""
    return canonical_json(bundle)
