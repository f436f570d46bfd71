"""``rerun_job``: a finished job's inputs, taken from its ledgered record, submitted again as a new linked job.

The inputs come from the verified evidence, never from mutable rows alone: the old submission must
check out against its ledger entry (documents included), so the re-run asks exactly what was recorded.
The new submission's record carries the old one's record hash, which makes the link itself evidence.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from audit_app.models import Job, Team
from audit_app.services.errors import SubmissionError
from audit_app.services.evidence import job_evidence
from audit_app.services.submission import Upload, submit_job
from inference import GenerationSettings


def rerun_job(user: User, team: Team | None, job: Job) -> Job:
    """A new job with ``job``'s question, documents, settings, case and domain, linked to it by record hash.

    ``team`` is the team ``user`` may submit for (None: may not submit). Raises PermissionDenied when the
    user may not submit for the job's team, SubmissionError when the job cannot be re-run (a sentence why).
    """
    if team is None or job.submission.case.team_id != team.pk:
        raise PermissionDenied("Only an analyst of this job's team can run it again.")
    if not job.is_finished:
        raise SubmissionError("__all__", f"Job {job.pk} is still {job.status}; only a finished job can run again.")
    evidence = job_evidence(job)
    record = evidence.submission
    if record is None:
        raise SubmissionError("__all__", f"Job {job.pk} cannot run again: {evidence.submission_problem}")
    if record["team_name"] != team.name:
        raise SubmissionError("__all__", f"Job {job.pk} was recorded for team {record['team_name']}, not {team.name}.")
    # job_evidence compared the stored documents with the ledgered ones, so these bytes are the recorded ones.
    uploads = [Upload(d.name, bytes(d.original)) for d in job.submission.documents.order_by("position")]
    return submit_job(
        user,
        team,
        record["case_reference"],
        record["domain"],
        record["question"],
        uploads,
        GenerationSettings(**record["settings"]),
        record["case_title"],
        rerun_of_sha256=evidence.submission_hashes["record"],
    )


def rerun_links(rerun_of_sha256: str, record_sha256: str, visible: QuerySet[Job]) -> tuple[Job | None, list[Job]]:
    """Among ``visible`` jobs: the one whose submission has record hash ``rerun_of_sha256``, and those re-running
    the submission with ``record_sha256``. Both hashes come from the page's ledgered record, not the row."""
    previous = None
    if rerun_of_sha256:
        previous = visible.filter(submission__record_sha256=rerun_of_sha256).order_by("id").first()
    reruns = list(visible.filter(submission__rerun_of_sha256=record_sha256).order_by("id")) if record_sha256 else []
    return previous, reruns
