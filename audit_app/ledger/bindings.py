"""``check_bindings``: do the mutable rows that evidence points through still agree with the evidence?

Evidence reaches jobs and cases through surrogate ids in rows the application may edit. Each
binding is therefore also held as content in a ledgered record: a run carries the record hash of
the submission it answers, a re-run the record hash of the submission it repeats, a submission its
case reference, case title and team name, and a submission's ledger entry the id of its job.
``verify_ledger`` checks those records against their entries; this module checks the mutable rows
against the records. Each check is one set-based query, so the cost stays a few table scans however
many rows there are.

Sign-offs and reviewers' conclusions carry the record hash of the run record they sign (21 CFR 11.70),
and a conclusion that of the sign-off it was given with. The walk cannot see a row ledgered with the
wrong hash (``sign_off`` never writes one, but anyone able to call the evidence helper can); the checks
here name it, and name a re-pointed row a second time, saying whose record it really signs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from django.db import connection

from audit_app.ledger.problems import Problem

# A job row that no longer points at the submission its run answers (a re-pointed job), or a run
# whose bound hash names no submission at all (the run's binding or the submission's hash changed).
RUNS = """
SELECT r.id, r.job_id, j.submission_id, r.submission_record_sha256, s.record_sha256, bound.id
  FROM audit_app_runrecord r
  JOIN audit_app_job j ON j.id = r.job_id
  LEFT JOIN audit_app_submission s ON s.id = j.submission_id
  LEFT JOIN LATERAL (SELECT b.id FROM audit_app_submission b
                      WHERE b.record_sha256 = r.submission_record_sha256 ORDER BY b.id LIMIT 1) bound ON true
 WHERE s.record_sha256 IS DISTINCT FROM r.submission_record_sha256
 ORDER BY r.id
"""

# Cases whose reference or team differ from what the ledgered submissions naming them recorded.
CASES = """
SELECT c.id, c.reference, t.name, min(s.case_reference), min(s.team_name),
       (array_agg(s.id ORDER BY s.id))[1:5], count(*)
  FROM audit_app_submission s
  JOIN audit_app_case c ON c.id = s.case_id
  JOIN audit_app_team t ON t.id = c.team_id
 WHERE s.case_reference <> c.reference OR s.team_name <> t.name
 GROUP BY c.id, c.reference, t.name
 ORDER BY c.id
"""

# Submissions whose ledger entry names a job that no longer points at them: the job was re-pointed
# (with or without a run), or deleted, which would hide the submission from every page.
JOBS = """
WITH e AS MATERIALIZED (  -- read each payload once and keep only its job id: narrow rows to join
    SELECT sequence, subject, convert_from(payload, 'UTF8')::jsonb ->> 'job' AS job
      FROM audit_app_ledgerentry WHERE kind = 'submission')
SELECT split_part(e.subject, ':', 2), e.job, j.id
  FROM e LEFT JOIN audit_app_job j ON e.subject = 'submission:' || j.submission_id
 WHERE j.id IS NULL OR e.job IS DISTINCT FROM j.id::text
 ORDER BY e.sequence
"""

# Re-runs whose link names no earlier submission: the hash was forged, or the submission it named is gone
# or was edited (its record hash changed). Through the index on record_sha256, so one probe per re-run.
RERUNS = """
SELECT s.id, s.rerun_of_sha256 FROM audit_app_submission s
 WHERE s.rerun_of_sha256 <> '' AND NOT EXISTS (
       SELECT 1 FROM audit_app_submission b WHERE b.record_sha256 = s.rerun_of_sha256 AND b.id < s.id)
 ORDER BY s.id
"""

# Sign-offs and conclusions (``table``) bound to a record hash that is not their job's run record: re-pointed
# rows, and rows ledgered with another record's hash (only the evidence helper, not ``sign_off``, can write
# one). Names the run and job the hash belongs to, if any. One join; the lateral probe runs per mismatch only.
SIGNED = """
SELECT x.id, x.job_id, x.run_record_sha256, own.record_sha256, bound.id, bound.job_id
  FROM {table} x
  LEFT JOIN audit_app_runrecord own ON own.job_id = x.job_id
  LEFT JOIN LATERAL (SELECT b.id, b.job_id FROM audit_app_runrecord b
                      WHERE b.record_sha256 = x.run_record_sha256 ORDER BY b.id LIMIT 1) bound ON true
 WHERE own.record_sha256 IS DISTINCT FROM x.run_record_sha256
 ORDER BY x.id
"""
SIGNED_TABLES = ("audit_app_signoff", "audit_app_reviewerconclusion")

# Conclusions whose sign-off hash names no sign-off of the same job by the same reviewer: a conclusion
# copied from another job's or another reviewer's signature. Names the sign-off the hash belongs to, if any.
# A hash join (an anti-join once PostgreSQL sees ``own.id IS NULL``); the lateral probe runs per mismatch only.
CONCLUSIONS = """
SELECT c.id, c.job_id, c.author_id, c.signoff_record_sha256, s.id, s.job_id, s.signer_id
  FROM audit_app_reviewerconclusion c
  LEFT JOIN audit_app_signoff own ON own.record_sha256 = c.signoff_record_sha256
                                 AND own.job_id = c.job_id AND own.signer_id = c.author_id
  LEFT JOIN LATERAL (SELECT b.id, b.job_id, b.signer_id FROM audit_app_signoff b
                      WHERE b.record_sha256 = c.signoff_record_sha256 ORDER BY b.id LIMIT 1) s ON true
 WHERE own.id IS NULL
 ORDER BY c.id
"""


# Review scope against the ledgered account events: each (reviewer, team, domain) must hold an assignment row
# exactly when its latest ledgered scope event (by sequence) is an assignment. A row INSERTed by an insider gives
# someone the right to sign unseen; a row DELETEd removes it unseen.
SCOPES = """
WITH latest AS (
    SELECT DISTINCT ON (a.user_id, a.team_id, a.domain) a.user_id, a.team_id, a.domain, a.action
      FROM audit_app_accountevent a
      JOIN audit_app_ledgerentry e ON e.subject = 'account:' || a.id AND e.kind = 'account'
     WHERE a.action IN ('assign', 'unassign')
     ORDER BY a.user_id, a.team_id, a.domain, e.sequence DESC)
SELECT r.id, r.user_id, r.team_id, r.domain, l.action
  FROM audit_app_reviewerassignment r
  LEFT JOIN latest l ON (l.user_id, l.team_id, l.domain) = (r.user_id, r.team_id, r.domain)
 WHERE l.action IS DISTINCT FROM 'assign'
UNION ALL
SELECT NULL, l.user_id, l.team_id, l.domain, l.action
  FROM latest l
 WHERE l.action = 'assign' AND NOT EXISTS (
       SELECT 1 FROM audit_app_reviewerassignment r
        WHERE (r.user_id, r.team_id, r.domain) = (l.user_id, l.team_id, l.domain))
 ORDER BY 1, 2, 3, 4
"""


class Inexact(Exception):
    """A ledgered job value whose ``->>`` text Python does not reproduce exactly: the query decides."""


def ledgered_job_text(value: Any) -> str | None:
    """What ``payload::jsonb ->> 'job'`` gives for the top-level ``job`` value ``value`` (None if absent)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    raise Inexact(value)  # a float or a structure: jsonb spells those its own way


def _jobs_from(ledgered: Sequence[tuple[str, str | None]]) -> list[tuple[str, str | None, int | None]]:
    """What the ``JOBS`` query returns, given every submission entry's (subject, ledgered job text) in order.

    ``verify_ledger`` has just decoded every payload, so it passes them; only the job rows are read.
    """
    jobs_of: dict[str, list[int]] = {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT submission_id, id FROM audit_app_job WHERE submission_id IS NOT NULL ORDER BY id")
        for submission_id, job_id in cursor.fetchall():
            jobs_of.setdefault(f"submission:{submission_id}", []).append(job_id)
    found: list[tuple[str, str | None, int | None]] = []
    for subject, job in ledgered:
        parts = subject.split(":")
        submission_id = parts[1] if len(parts) > 1 else ""  # split_part(subject, ':', 2)
        job_ids = jobs_of.get(subject, [])
        if not job_ids:
            found.append((submission_id, job, None))
        found.extend((submission_id, job, job_id) for job_id in job_ids if job != str(job_id))
    return found


# API keys are operational rows the app role may INSERT and UPDATE; their authority is their ledgered creation
# (and revocation) in audit_app_apikeyevent, whose rows the walk checks against their entries. A key row with
# no creation, more than one, one that says other than the row (prefix, secret, team, scopes, expiry), or a
# row not revoked though a revocation was ledgered, was made or changed outside Glassbox (it is refused at
# authentication; this names it).
API_KEYS = """
SELECT k.id, k.prefix,
       count(e.id) FILTER (WHERE e.action = 'create'),
       coalesce(bool_or(e.action = 'create' AND e.prefix = k.prefix AND e.secret_sha256 = k.secret_sha256
                        AND e.team_id = k.team_id AND e.scopes = k.scopes
                        AND e.expires_at IS NOT DISTINCT FROM k.expires_at), false),
       coalesce(bool_or(e.action = 'revoke'), false) AND k.revoked_at IS NULL
  FROM audit_app_apikey k
  LEFT JOIN audit_app_apikeyevent e ON e.key_id = k.id
 GROUP BY k.id, k.prefix
HAVING count(e.id) FILTER (WHERE e.action = 'create') <> 1
    OR NOT coalesce(bool_or(e.action = 'create' AND e.prefix = k.prefix AND e.secret_sha256 = k.secret_sha256
                            AND e.team_id = k.team_id AND e.scopes = k.scopes
                            AND e.expires_at IS NOT DISTINCT FROM k.expires_at), false)
    OR (coalesce(bool_or(e.action = 'revoke'), false) AND k.revoked_at IS NULL)
 ORDER BY k.id
"""


def check_bindings(ledgered_jobs: Sequence[tuple[str, str | None]] | None = None) -> Iterator[Problem]:
    """Every job, case, run and submission whose binding disagrees with the ledgered content, by table and id.

    ``ledgered_jobs``: if the caller has every submission entry's subject and ``ledgered_job_text`` in
    sequence order, the payloads are not decoded again.
    """
    reported_jobs: set[int] = set()
    with connection.cursor() as cursor:
        cursor.execute(RUNS)
        for run_id, job_id, submission_id, bound_hash, actual_hash, bound_id in cursor.fetchall():
            if bound_id is not None:
                reported_jobs.add(job_id)
                yield Problem(
                    "audit_app_job",
                    str(job_id),
                    f"points at submission {submission_id}, but its run record {run_id} answers submission {bound_id}.",
                )
            else:
                yield Problem(
                    "audit_app_runrecord",
                    str(run_id),
                    f"answers the submission with record hash {bound_hash}, which no submission has "
                    f"(its job's submission {submission_id} has {actual_hash}).",
                )
        if ledgered_jobs is None:
            cursor.execute(JOBS)
            job_rows = cursor.fetchall()
        else:
            job_rows = _jobs_from(ledgered_jobs)
        for submission_id, ledgered_job, job_id in job_rows:
            if job_id is None:
                yield Problem(
                    "audit_app_submission",
                    submission_id,
                    f"was ledgered for job {ledgered_job}, but no job points at it any more.",
                )
            elif job_id not in reported_jobs:
                reported_jobs.add(job_id)
                yield Problem(
                    "audit_app_job",
                    str(job_id),
                    f"points at submission {submission_id}, which was ledgered for job {ledgered_job}.",
                )
        cursor.execute(CASES)
        for case_id, reference, team, ledgered_reference, ledgered_team, first_ids, count in cursor.fetchall():
            named = ", ".join(str(i) for i in first_ids) + (f" and {count - len(first_ids)} more" if count > 5 else "")
            yield Problem(
                "audit_app_case",
                str(case_id),
                f"is now {reference!r} of team {team!r}, but the ledgered submissions {named} name it "
                f"{ledgered_reference!r} of team {ledgered_team!r}.",
            )
        cursor.execute(RERUNS)
        for submission_id, rerun_of in cursor.fetchall():
            yield Problem(
                "audit_app_submission",
                str(submission_id),
                f"is recorded as a re-run of the submission with record hash {rerun_of}, which no earlier "
                "submission has.",
            )
        yield from _signed_problems(cursor)
        yield from _scope_problems(cursor)
        yield from _api_key_problems(cursor)


def _api_key_problems(cursor: Any) -> Iterator[Problem]:
    cursor.execute(API_KEYS)
    for key_id, prefix, creations, matches, unrevoked in cursor.fetchall():
        if creations == 0:
            why = "has no ledgered creation: it was inserted outside Glassbox"
        elif creations > 1:
            why = f"has {creations} ledgered creations; a key has exactly one"
        elif not matches:
            why = "differs from its ledgered creation (prefix, secret, team, scopes, expiry): edited outside Glassbox"
        else:
            why = "is not revoked, but its revocation was ledgered: un-revoked outside Glassbox"
        if unrevoked and creations == 1 and not matches:
            why += ", and it is not revoked though its revocation was ledgered"
        yield Problem("audit_app_apikey", str(key_id), f"API key {prefix} {why}; it is refused.")


def _scope_problems(cursor: Any) -> Iterator[Problem]:
    cursor.execute(SCOPES)
    for row_id, user_id, team_id, domain, latest in cursor.fetchall():
        scope = f"user {user_id}'s review of team {team_id} in {domain}"
        if row_id is None:
            yield Problem(
                "audit_app_reviewerassignment",
                None,
                f"{scope} was ledgered as assigned, but its assignment row is gone: removed outside Glassbox.",
            )
        else:
            ledgered = "was last ledgered as removed" if latest else "was never ledgered"
            yield Problem(
                "audit_app_reviewerassignment",
                str(row_id),
                f"gives {scope}, which {ledgered}: added outside Glassbox.",
            )


def _signed_problems(cursor: Any) -> Iterator[Problem]:
    """Sign-offs and conclusions not bound to their own job's run record, conclusions not to their own sign-off."""
    for table in SIGNED_TABLES:
        cursor.execute(SIGNED.format(table=table))
        for row_id, job_id, bound_hash, own_hash, run_id, run_job in cursor.fetchall():
            if run_id is not None:
                whose = f"which is the run record of job {run_job} (run {run_id})"
            else:
                whose = "which no run record has"
            own = f"job {job_id}'s run record is {own_hash}" if own_hash else f"job {job_id} has no run record"
            yield Problem(table, str(row_id), f"names job {job_id} but signs run record {bound_hash}, {whose}; {own}.")
    cursor.execute(CONCLUSIONS)
    for row_id, job_id, author_id, bound_hash, signoff_id, signoff_job, signer_id in cursor.fetchall():
        if signoff_id is None:
            whose = "which no sign-off has"
        else:
            whose = f"sign-off {signoff_id}, given by user {signer_id} on job {signoff_job}"
        yield Problem(
            "audit_app_reviewerconclusion",
            str(row_id),
            f"by user {author_id} on job {job_id} was given with the sign-off with record hash {bound_hash}, "
            f"{whose}, not a sign-off of its own author on its own job.",
        )
