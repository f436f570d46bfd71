"""The evidence record of a row: the JSON its hash and its ledger payload are computed from.

Built only from stored columns, so ``verify_ledger`` can rebuild it from the database at any time
and compare. Hash columns are left out (they are derived from the record).
"""

from __future__ import annotations

import datetime
import json
import uuid
from typing import Any

from django.db import connection, models

from audit_app.ledger.canonical import record_hash, sha256_hex

HASH_FIELDS = {"record_sha256", "question_sha256", "prompt_sha256", "thinking_sha256", "answer_sha256"}
# Columns added after evidence was first ledgered: left out of the record while empty, so every record
# ledgered before the column existed still equals its row (an empty value and an absent key mean the same).
OMITTED_WHEN_EMPTY = {"rerun_of_sha256", "webhook_url"}


def _value(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).isoformat()
    if isinstance(value, bytes | memoryview):
        return {"sha256": sha256_hex(bytes(value))}
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def evidence_record(instance: models.Model) -> dict[str, Any]:
    """Every content column of ``instance`` (not its id, not derived hashes), keyed by column name.

    Computable before the row is inserted, so the row can carry its own hash from the start.
    """
    record: dict[str, Any] = {"model": instance._meta.label_lower}
    for field in instance._meta.concrete_fields:
        if field.name not in HASH_FIELDS and not field.primary_key:
            value = getattr(instance, field.attname)
            if field.attname in OMITTED_WHEN_EMPTY and value == "":
                continue
            record[field.attname] = _value(value)
    return record


def as_stored(instance: models.Model) -> None:
    """Give ``instance``'s JSON columns the values PostgreSQL's jsonb will give back, in one query.

    jsonb keeps numbers as ``numeric`` and re-spells them (``1e16`` comes back as the integer
    10000000000000000), turns non-string keys into strings and refuses NaN. Hashing what the row
    will read back, not what the caller passed, means no accepted input can leave a write-once row
    that disagrees with its ledger entry; a value jsonb cannot hold fails here, before the insert.
    """
    fields = [
        field
        for field in instance._meta.concrete_fields
        if isinstance(field, models.JSONField) and getattr(instance, field.attname) is not None
    ]
    if not fields:
        return
    params = [field.get_db_prep_save(getattr(instance, field.attname), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(["%s::jsonb"] * len(fields)), params)
        row = cursor.fetchone()
    for field, stored in zip(fields, row, strict=True):
        setattr(instance, field.attname, json.loads(stored, cls=field.decoder))  # as JSONField.from_db_value


def evidence_hash(instance: models.Model) -> str:
    """The record hash of ``instance`` as the database will store it (its JSON columns round-tripped first)."""
    as_stored(instance)
    return record_hash(evidence_record(instance))
