"""The evidence record of a row: the JSON its hash and its ledger payload are computed from.

Built only from stored columns, so ``verify_ledger`` can rebuild it from the database at any time
and compare. Hash columns are left out (they are derived from the record).
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from django.db import models

from audit_app.ledger.canonical import record_hash, sha256_hex

HASH_FIELDS = {"record_sha256", "question_sha256", "prompt_sha256", "thinking_sha256", "answer_sha256"}


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
            record[field.attname] = _value(getattr(instance, field.attname))
    return record


def evidence_hash(instance: models.Model) -> str:
    return record_hash(evidence_record(instance))
