"""Evidence rows read in batches, as records: one query per kind per chunk of entries, never one per entry.

The record built here from a stored row is ``records.evidence_record`` of that row (same columns, same value
forms); it is built from plain column values because making model instances would cost more than all the
hashing. Binary columns are hashed by PostgreSQL, so document bytes never travel.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable
from typing import Any

from django.db import connection, models

from audit_app.ledger.records import HASH_FIELDS, _value
from audit_app.models import AccessEvent, Document, KillSwitchEvent, LedgerVerification, RunRecord, Submission

# Ledger kind (the part of an entry's subject before ``:``) → the evidence table its rows live in.
EVIDENCE: dict[str, type[models.Model]] = {
    "submission": Submission,
    "run": RunRecord,
    "kill_switch": KillSwitchEvent,
    "access": AccessEvent,
    "verification": LedgerVerification,
}


@dataclasses.dataclass
class Row:
    pk: int
    record: dict[str, Any]  # what ``evidence_record`` gives for this row
    stored: dict[str, Any]  # its hash columns as stored (record_sha256, question_sha256, …)
    content: dict[str, Any]  # every column by attname, for the derived hashes


@dataclasses.dataclass(frozen=True)
class _Column:
    attname: str
    select: str
    convert: Callable[[Any], Any]  # the database's value → the record's (``records._value``'s forms)
    in_record: bool


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value  # Django reads jsonb as text


def _hashed(value: str | None) -> Any:
    return None if value is None else {"sha256": value}


def _plain(value: Any) -> Any:
    return value


def _columns(model: type[models.Model]) -> list[_Column]:
    columns = []
    for field in model._meta.concrete_fields:
        quoted = connection.ops.quote_name(field.column or field.attname)
        select, convert = quoted, _value
        if isinstance(field, models.BinaryField):
            select, convert = f"encode(sha256({quoted}), 'hex')", _hashed
        elif isinstance(field, models.JSONField):
            convert = _json
        elif isinstance(field, models.CharField | models.TextField | models.IntegerField | models.BooleanField):
            convert = _plain  # _value leaves these as they are; skipping it is what makes a million rows cheap
        in_record = field.name not in HASH_FIELDS and not field.primary_key
        columns.append(_Column(field.attname, select, convert, in_record))
    return columns


def fetch_rows(model: type[models.Model], where: str, params: list[Any]) -> list[Row]:
    """Rows of ``model`` matching the SQL condition ``where``, as records, in one query."""
    columns = _columns(model)
    label = model._meta.label_lower
    sql = f"SELECT {', '.join(c.select for c in columns)} FROM {model._meta.db_table} WHERE {where}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    rows = []
    for values in fetched:
        content = {c.attname: c.convert(v) for c, v in zip(columns, values, strict=True)}
        record = {"model": label} | {c.attname: content[c.attname] for c in columns if c.in_record}
        stored = {name: content[name] for name in HASH_FIELDS if name in content}
        rows.append(Row(content["id"], record, stored, content))
    return rows


def rows_by_id(model: type[models.Model], ids: Iterable[int]) -> dict[int, Row]:
    return {row.pk: row for row in fetch_rows(model, "id = ANY(%s)", [list(ids)])}


def documents_by_submission(submission_ids: Iterable[int]) -> dict[int, list[Row]]:
    found: dict[int, list[Row]] = {}
    for row in fetch_rows(Document, "submission_id = ANY(%s) ORDER BY submission_id, position", [list(submission_ids)]):
        found.setdefault(row.content["submission_id"], []).append(row)
    return found
