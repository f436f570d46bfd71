"""Rows → entries: every evidence row has exactly one ledger entry (set-based, on the indexed subject)."""

from __future__ import annotations

from collections.abc import Iterator

from django.db import connection

from audit_app.ledger.problems import Problem
from audit_app.ledger.verify.records import DOCUMENT_TABLE, ENTRY_TABLE
from audit_app.ledger.verify.rows import EVIDENCE

_NO_ENTRY = (
    "SELECT %s AS tbl, t.id FROM {table} t WHERE NOT EXISTS "
    "(SELECT 1 FROM audit_app_ledgerentry e WHERE e.subject = %s || t.id AND e.kind = %s)"
)
# A document is ledgered inside its submission's entry; the walk checks it against that entry's list.
_DOCUMENT_NO_ENTRY = (
    "SELECT %s AS tbl, d.id FROM audit_app_document d WHERE NOT EXISTS "
    "(SELECT 1 FROM audit_app_ledgerentry e WHERE e.subject = 'submission:' || d.submission_id "
    "AND e.kind = 'submission')"
)


def unledgered_rows(cap: int) -> tuple[list[Problem], int]:
    """Evidence rows with no entry of their kind naming them: the first ``cap`` and the total."""
    parts, params = [], []
    for kind, model in EVIDENCE.items():
        parts.append(_NO_ENTRY.format(table=model._meta.db_table))
        params += [model._meta.db_table, f"{kind}:", kind]
    parts.append(_DOCUMENT_NO_ENTRY)
    params.append(DOCUMENT_TABLE)
    sql = f"SELECT tbl, id, count(*) OVER () FROM ({' UNION ALL '.join(parts)}) u ORDER BY tbl, id LIMIT %s"
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, cap])
        found = cursor.fetchall()
    problems = [Problem(table, str(pk), "has no ledger entry: it is not evidence.") for table, pk, _ in found]
    return problems, found[0][2] if found else 0


def repeated_subjects() -> Iterator[Problem]:
    """Entries after the first that ledger a row again (each row is ledgered exactly once)."""
    with connection.cursor() as cursor:
        # All subjects, so the planner can walk the subject index in order instead of sorting a million rows.
        cursor.execute(
            "SELECT subject, array_agg(sequence ORDER BY sequence) FROM audit_app_ledgerentry "
            "GROUP BY subject HAVING count(*) > 1"
        )
        for subject, sequences in cursor.fetchall():
            if subject.partition(":")[0] not in EVIDENCE:
                continue
            for sequence in sequences[1:]:
                yield Problem(
                    ENTRY_TABLE, str(sequence), f"ledgers {subject} again (first in entry {sequences[0]}).", sequence
                )
