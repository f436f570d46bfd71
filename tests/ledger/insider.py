"""What an insider can do with raw SQL: INSERT with the app role, or edit with triggers off as a superuser."""

from __future__ import annotations

import json
from typing import Any

from django.db import connection

from audit_app.ledger.signer import public_verifier_key
from audit_app.ledger.verify import Report, verify_ledger


def insert(table: str, **values: Any) -> int:
    """An INSERT the app role's grant allows; dicts and lists go in as JSON."""
    values = {k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in values.items()}
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(values)}) VALUES ({', '.join(['%s'] * len(values))}) RETURNING id",
            list(values.values()),
        )
        return int(cursor.fetchone()[0])


def superuser(table: str, sql: str, *params: object) -> None:
    """``ALTER TABLE … DISABLE TRIGGER ALL``, the edit, and the triggers back on."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the test's transaction defers its foreign-key checks
        cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER ALL")
        cursor.execute(sql, params)
        cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER ALL")


def verify(**options: Any) -> Report:
    return verify_ledger(public_verifier_key(), **options)


def named(report: Report) -> set[tuple[str, str | None]]:
    """(table, id) of every problem listed."""
    return {(problem.table, problem.row_id) for problem in report.problems}
